"""check_problems against the course's orchestration (issue 11), and the tools reading
their settings through settings.py rather than the environment directly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scripts import check_problems, check_program
from tests.fake_orchestration import FakeOrchestration, default_problems

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "hint_core" / "problem_bank"


@pytest.fixture
def fake() -> Iterator[FakeOrchestration]:
    with FakeOrchestration() as orchestration:
        yield orchestration


def env_for(fake: FakeOrchestration, **extra: str) -> dict[str, str]:
    return {"BACKEND_ORCHESTRATION_GET_PROBLEMS_URL": fake.problems_url, **extra}


def test_problems_that_agree_with_orchestration_pass(fake, capsys) -> None:
    assert check_problems.main(["factorial", "read_file"], env=env_for(fake)) == 0
    out = capsys.readouterr().out
    assert "ok   factorial" in out and "ok   read_file" in out
    assert "orchestration" not in out and "warn" not in out


def test_a_template_that_disagrees_with_the_local_tests_fails_the_check(fake, capsys) -> None:
    fake.problems["factorial"] = replace(default_problems()["factorial"], template="def fact(n):\n    pass\n")
    assert check_problems.main(["factorial", "sum_two_numbers"], env=env_for(fake)) == 1
    out = capsys.readouterr().out
    assert "FAIL factorial" in out
    assert "orchestration's template defines fact(n), but the local tests call factorial" in out
    assert "ok   sum_two_numbers" in out


def test_a_bank_problem_orchestration_lacks_is_a_warning(fake, capsys) -> None:
    del fake.problems["factorial"]
    assert check_problems.main(["factorial"], env=env_for(fake)) == 0
    assert "warn factorial: orchestration does not know this problem" in capsys.readouterr().out


def test_a_problem_only_orchestration_knows_is_listed(fake, capsys) -> None:
    assert check_problems.main(["factorial", "reverse_words"], env=env_for(fake)) == 0
    out = capsys.readouterr().out
    assert "orch reverse_words: not in the bank; known to orchestration" in out


def test_a_problem_neither_knows_is_a_usage_error(fake, capsys) -> None:
    assert check_problems.main(["no_such_problem"], env=env_for(fake)) == 2
    assert "unknown problem(s): no_such_problem" in capsys.readouterr().err


def test_without_the_url_nothing_is_asked(fake, capsys) -> None:
    assert check_problems.main(["reverse_words"], env={}) == 2
    assert check_problems.main(["factorial"], env={}) == 0
    assert fake.calls and not any(fake.calls.values())


def test_the_bank_comes_from_the_settings(tmp_path, capsys) -> None:
    bank = tmp_path / "bank"
    shutil.copytree(BANK / "factorial", bank / "factorial")
    assert check_problems.main([], env={"PROBLEM_BANK_DIR": str(bank)}) == 0
    assert "1 of 1 problems sound" in capsys.readouterr().out
    program = tmp_path / "p.py"
    program.write_text("def factorial(n):\n    return 1 if n < 2 else n * factorial(n - 1)\n")
    assert check_program.main(["factorial", str(program)], env={"PROBLEM_BANK_DIR": str(bank)}) == 0
    assert check_program.main(["fibonacci", str(program)], env={"PROBLEM_BANK_DIR": str(bank)}) == 2


def test_a_bad_setting_is_named(capsys) -> None:
    assert check_problems.main([], env={"BACKEND_ORCHESTRATION_GET_PROBLEMS_URL": "not a url"}) == 2
    assert "BACKEND_ORCHESTRATION_GET_PROBLEMS_URL" in capsys.readouterr().err
