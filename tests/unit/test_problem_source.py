"""Where a problem comes from: the local bank (its own tests and text) or orchestration."""

from __future__ import annotations

import logging

import pytest

from hint_core.problem_source import Execution, ProblemSource
from hint_core.problems import ProblemBank, UnknownProblem
from hint_core.remote import OrchestrationProblems, OrchestrationUnreachable
from tests.fake_orchestration import Endpoint, FakeOrchestration, FakeProblem

BANK = ProblemBank()


@pytest.fixture
def orchestration():
    with FakeOrchestration() as fake:
        yield fake


def source(fake: FakeOrchestration, execution: Execution = Execution.AUTO, runs_remotely: bool = True) -> ProblemSource:
    return ProblemSource(BANK, OrchestrationProblems(fake.problems_url), execution, runs_remotely)


def test_a_local_problem_keeps_its_own_tests_and_the_description_that_matches_them(orchestration):
    problem = source(orchestration).get("factorial")
    assert problem == BANK.get("factorial")  # not orchestration's text: the local tests judge it


def test_a_problem_only_orchestration_knows_has_its_text_and_no_tests(orchestration):
    problems = source(orchestration)
    assert problems.knows("reverse_words")
    problem = problems.get("reverse_words")
    assert problem.tests == () and problem.solutions == () and problem.function == "reverse_words"
    assert "reverse order" in problem.description


def test_unknown_everywhere_and_unreachable_are_told_apart(orchestration):
    problems = source(orchestration)
    assert not problems.knows("no_such_problem")
    orchestration.stop()
    problems.orchestration.forget()
    with pytest.raises(OrchestrationUnreachable):
        problems.knows("reverse_words")
    assert problems.knows("factorial")  # the local bank needs nobody


def test_without_the_execution_urls_orchestrations_own_problems_are_unknown(orchestration):
    problems = source(orchestration, runs_remotely=False)
    assert not problems.knows("reverse_words")
    with pytest.raises(UnknownProblem):
        problems.get("reverse_words")


def test_local_execution_never_calls_out(orchestration):
    problems = source(orchestration, Execution.LOCAL)
    assert not problems.knows("reverse_words") and problems.knows("factorial")
    problems.get("factorial")
    assert orchestration.calls[Endpoint.PROBLEMS] == []


def test_remote_execution_judges_every_problem_at_orchestration(orchestration):
    problem = source(orchestration, Execution.REMOTE).get("factorial")
    assert problem.tests == () and problem.solutions == ()  # the handler judges; its text is used
    assert problem.description.startswith("Write a function `factorial(n)` that returns n!")


def test_a_template_that_disagrees_with_the_local_tests_is_logged_once(caplog):
    problems = {"factorial": FakeProblem(description="Factorial.", template="def fact(x):\n    pass\n", tests="")}
    with FakeOrchestration(problems) as fake:
        source_ = source(fake)
        caplog.set_level(logging.WARNING, logger="hint_core.problems")
        for _ in range(3):
            source_.get("factorial")
    warnings = [r.getMessage() for r in caplog.records if "disagrees" in r.getMessage()]
    assert len(warnings) == 1 and "factorial" in warnings[0]
