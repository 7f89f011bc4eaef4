"""Problems from orchestration: known, unknown, unreachable; the cache; templates.

The client talks to the fake orchestration over real sockets; the cache's clock is a
test clock, so TTLs are exact and no test sleeps for them.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import replace

import pytest

from hint_core.problems import DEFAULT_BANK_DIR, ProblemBank, UnknownProblem
from hint_core.remote import (
    OrchestrationProblems,
    OrchestrationUnreachable,
    ProblemNotAtOrchestration,
    judged_remotely_only,
    main_function,
    remote_problem,
    template_mismatch,
    template_signatures,
)
from hint_core.remote.problems import RemoteProblemText
from tests.fake_orchestration import FakeOrchestration, FakeProblem


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake():
    with FakeOrchestration() as server:
        yield server


@pytest.fixture(scope="module")
def bank() -> ProblemBank:
    return ProblemBank(DEFAULT_BANK_DIR)


def client(fake: FakeOrchestration, **kwargs) -> OrchestrationProblems:
    return OrchestrationProblems(fake.problems_url, **kwargs)


# --- known, unknown, unreachable ----------------------------------------------------------------


def test_a_problem_only_orchestration_knows_becomes_a_problem_judged_remotely(fake):
    problem = client(fake).problem("reverse_words")

    assert problem.id == "reverse_words" and problem.title == "Reverse the words"
    assert problem.description.startswith("Write a function `reverse_words(text)`")
    assert problem.template == fake.problems["reverse_words"].template
    assert problem.kind == "function" and problem.function == "reverse_words"
    assert problem.tests == () and problem.solutions == ()
    assert judged_remotely_only(problem)


def test_an_unknown_problem_is_unknown_whether_404_or_an_error_body(fake):
    with pytest.raises(ProblemNotAtOrchestration, match="unknown problem_id 'nope'.*404") as caught:
        client(fake).fetch("nope")
    assert isinstance(caught.value, UnknownProblem)  # callers answering 422 for unknown ids keep doing so

    fake.unknown_as_error_body = True
    with pytest.raises(ProblemNotAtOrchestration, match="Problem not found"):
        client(fake).fetch("nope")


def test_nothing_listening_is_unreachable_not_unknown():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    problems = OrchestrationProblems(f"http://127.0.0.1:{port}/problems/", timeout=1.0)
    with pytest.raises(OrchestrationUnreachable, match="connection refused"):
        problems.fetch("reverse_words")


def test_5xx_is_retried_once_then_unreachable(fake):
    fake.fail_next("problems", 1, status=502)
    assert client(fake).fetch("reverse_words").template.startswith("def reverse_words")

    fake.fail_next("problems", 2, status=503)
    with pytest.raises(OrchestrationUnreachable, match="HTTP 503"):
        client(fake).fetch("reverse_words")


def test_an_answer_without_the_fields_is_not_taken_for_a_problem(fake):
    fake.fail_next("problems", 2, status=200, body={"id": "reverse_words"})
    with pytest.raises(OrchestrationUnreachable, match="without task_description"):
        client(fake).fetch("reverse_words")


def test_refused_credentials_are_reported_without_the_token(fake, caplog):
    fake.token = "right-token"
    caplog.set_level(logging.DEBUG)
    assert client(fake, token="right-token").fetch("factorial").problem_id == "factorial"
    assert fake.calls["problems"][-1].authorization == "Bearer right-token"

    with pytest.raises(OrchestrationUnreachable, match="HTTP 401") as caught:
        client(fake, token="wrong-token").fetch("factorial")
    assert "wrong-token" not in str(caught.value) + caplog.text and "right-token" not in caplog.text


# --- the cache ---------------------------------------------------------------------------------


def test_a_known_problem_is_cached_for_the_ttl(fake):
    clock = Clock()
    problems = client(fake, ttl=60, clock=clock)
    problems.fetch("reverse_words")
    clock.now += 59
    problems.fetch("reverse_words")
    assert len(fake.calls["problems"]) == 1

    fake.problems["reverse_words"] = replace(fake.problems["reverse_words"], description="New text.")
    clock.now += 2
    assert problems.fetch("reverse_words").description == "New text."
    assert len(fake.calls["problems"]) == 2


def test_an_unknown_problem_is_cached_briefly_and_found_once_added(fake):
    clock = Clock()
    problems = client(fake, ttl=60, unknown_ttl=10, clock=clock)
    for _ in range(3):
        with pytest.raises(ProblemNotAtOrchestration):
            problems.fetch("added_later")
    assert len(fake.calls["problems"]) == 1

    fake.problems["added_later"] = FakeProblem("Do it.", "def added_later():\n    pass\n", tests="")
    clock.now += 11
    assert problems.problem("added_later").function == "added_later"


def test_an_outage_is_not_cached(fake):
    problems = client(fake)
    fake.fail_next("problems", 2, status=502)
    with pytest.raises(OrchestrationUnreachable):
        problems.fetch("factorial")
    assert problems.fetch("factorial").problem_id == "factorial"


def test_the_cache_holds_at_most_max_entries(fake):
    clock = Clock()
    problems = client(fake, max_entries=2, clock=clock)
    for problem_id in ("factorial", "reverse_words", "read_file"):
        problems.fetch(problem_id)
    problems.fetch("read_file")
    problems.fetch("reverse_words")
    assert len(fake.calls["problems"]) == 3
    problems.fetch("factorial")  # the least recently used one went
    assert len(fake.calls["problems"]) == 4


# --- templates ------------------------------------------------------------------------------------


def test_signatures_read_from_a_template():
    template = ("import math\n\ndef helper(x):\n    pass\n\n"
                "def area(r, /, scale=1.0, *, unit='cm'):\n    pass\n")
    expected = ["helper(x)", "area(r, /, scale=1.0, *, unit='cm')"]
    assert [str(s) for s in template_signatures(template)] == expected
    assert main_function(template, "area").name == "area"  # named like the problem
    assert main_function(template, "circle").name == "helper"  # else the first


def test_a_template_that_does_not_parse_still_names_its_function():
    unfinished = "def count_words(text: str):\n    # your code\n    return ???\n"
    text = RemoteProblemText("count_words", "Count.", unfinished)
    problem = remote_problem(text)
    assert problem.kind == "function" and problem.function == "count_words"
    assert [str(s) for s in template_signatures(text.template)] == ["count_words(text)"]


def test_a_template_without_a_function_is_a_whole_program_problem():
    problem = remote_problem(RemoteProblemText("greet", "Read a name, greet.", "name = input()\n"))
    assert problem.kind == "stdio" and problem.function is None and problem.title == "greet"


def test_a_template_that_matches_the_local_problem_is_no_mismatch(fake, bank):
    for problem_id in ("factorial", "sum_two_numbers"):
        assert template_mismatch(bank.get(problem_id), fake.problems[problem_id].template) is None


def test_different_parameters_are_reported(bank):
    local = bank.get("read_file")  # the bank's read_file(path); the original's takes no argument
    message = template_mismatch(replace(local, template="def read_file(path):\n    pass\n"),
                                "def read_file():\n    pass\n")
    assert message == ("read_file: orchestration's template has read_file(), "
                       "the local problem has read_file(path)")


def test_a_different_function_name_is_reported(bank):
    message = template_mismatch(bank.get("factorial"), "def fact(n):\n    pass\n")
    assert message == ("factorial: orchestration's template defines fact(n), "
                       "but the local tests call factorial")


def test_tests_that_orchestrations_signature_cannot_take_are_reported(bank):
    local = replace(bank.get("factorial"), template="")  # no local signature to compare with
    message = template_mismatch(local, "def factorial():\n    pass\n")
    assert message is not None and "call factorial with 1 argument(s)" in message
    assert "479001600" not in message  # hidden expected values are not quoted


def test_a_whole_program_problem_has_nothing_to_compare(bank):
    assert template_mismatch(bank.get("greeting"), "def main():\n    pass\n") is None
