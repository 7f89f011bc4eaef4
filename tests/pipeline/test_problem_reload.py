"""Problems added to or changed in the bank while the service runs are used without a
restart (issue 13): a new folder answers at once, a changed test is used after the
bank's next look (at most a few seconds; immediate here)."""

from __future__ import annotations

import shutil

import pytest

from hint_core.problems import DEFAULT_BANK_DIR
from tests.conftest import services_for
from tests.helpers import ask, join

DOUBLE = """title: Double
description: Write `double(x)` that returns twice x.
template: |
  def double(x):
      pass
kind: function
function: double
tests:
  - {name: one, args: [1], expected: 2}
"""
ADDITION = "def double(x):\n    return x + 1\n"  # right for 1 only


@pytest.fixture
def bank(tmp_path):
    root = tmp_path / "bank"
    root.mkdir()
    shutil.copytree(DEFAULT_BANK_DIR / "factorial", root / "factorial")
    return root


@pytest.fixture
def services(bank):
    return services_for(None, PROBLEM_BANK_DIR=str(bank))


def add_double(bank, tests_extra: str = "") -> None:
    folder = bank / "double"
    folder.mkdir(exist_ok=True)
    (folder / "problem.yaml").write_text(DOUBLE + tests_extra)


def trace(client, request_id: int) -> dict:
    return client.get(f"/ai_hint/trace/?request_id={request_id}").get_json()


def test_a_problem_added_and_changed_while_running_is_used_without_a_restart(client, runtime, worker, bank):
    reply = client.post("/ai_hint/add_request/", json={"type": "add_request", "request_id": 1, "data": {
        "problem_id": "double", "student_program": ADDITION, "hint_type": "debug"}})
    assert reply.status_code == 422  # not in the bank yet

    add_double(bank)
    ask(client, 2, ADDITION, problem_id="double")  # no restart: found on the miss
    join(runtime)
    assert trace(client, 2)["request"]["student_correct"] is True  # passes the one test there is
    first_version = runtime.services.problems.get("double").tests_version

    add_double(bank, "  - {name: two, args: [2], expected: 4}\n")  # an instructor adds a test
    runtime.services.problems.bank.reload_seconds = 0  # the next look is now, not in 2 s
    ask(client, 3, ADDITION, problem_id="double")
    join(runtime)
    assert runtime.services.problems.get("double").tests_version != first_version
    assert trace(client, 3)["request"]["student_correct"] is False  # judged by the new tests
    assert trace(client, 3)["job_finished_successfully"] is True


def test_a_broken_edit_keeps_the_version_loaded_before(runtime, bank):
    add_double(bank)
    problems = runtime.services.problems
    assert problems.knows("double")
    problems.bank.reload_seconds = 0
    (bank / "double" / "problem.yaml").write_text("title: [unclosed\n")
    assert problems.get("double").tests_version  # still the loaded version
    shutil.rmtree(bank / "double")
    assert not problems.knows("double")  # removed from the bank: unknown again
    assert not problems.knows("../bank/factorial")  # a name, never a path
