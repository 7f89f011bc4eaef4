"""The bulk tools: check_programs (a folder judged at once) and seed_pool (a folder into the
pool, each program verified), and the test gaps check_problems reports (issue 14)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hint_core.problems import load_problem_dir
from models import SolutionPoolEntry, TestGap
from runtime import bind_database
from scripts import check_problems, check_programs, seed_pool
from settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
FACTORIAL = ROOT / "hint_core" / "problem_bank" / "factorial"

# Tests only for n >= 1 (a program wrong at n = 0 passes them), short limits for the loop.
WEAK = """
    title: Factorial, weakly tested
    description: Return n! for n >= 0.
    template: |
      def factorial(n):
          pass
    function: factorial
    tests:
      - {args: [1], expected: 1}
      - {args: [3], expected: 6}
      - {args: [5], expected: 120}
    limits: {cpu_seconds: 1, wall_seconds: 2}
"""

PROGRAMS = {
    "correct.py": "# Ada's solution\ndef factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n"
                  "        result *= i  # multiply\n    return result\n",
    "wrong_at_zero.py": "def factorial(n):\n    result = n\n    for i in range(2, n):\n        result *= i\n"
                        "    return result\n",
    "wrong.py": "def factorial(n):\n    return n\n",
    "crashing.py": "def factorial(n):\n    return n // 0\n",
    "syntax_error.py": "def factorial(n)\n    return 1\n",
    "infinite_loop.py": "def factorial(n):\n    while True:\n        pass\n",
}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    folder = tmp_path / "bank" / "weak"
    (folder / "solutions").mkdir(parents=True)
    (folder / "problem.yaml").write_text(textwrap.dedent(WEAK))
    for solution in (FACTORIAL / "solutions").glob("*.py"):
        (folder / "solutions" / solution.name).write_text(solution.read_text())
    return tmp_path / "bank"


@pytest.fixture
def programs(tmp_path: Path) -> Path:
    folder = tmp_path / "programs"
    folder.mkdir()
    for name, text in PROGRAMS.items():
        (folder / name).write_text(text)
    (folder / "notes.txt").write_text("not a program")
    return folder


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """The tools' database (they read DATABASE_URL through the settings), migrated."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


EXPECTED = {  # file: (verdict, passed of 3)
    "correct.py": ("correct", 3),
    "crashing.py": ("exception", 0),
    "infinite_loop.py": ("timeout", 0),
    "syntax_error.py": ("compile_error", 0),
    "wrong.py": ("wrong_answer", 1),
    "wrong_at_zero.py": ("correct", 3),  # the tests cannot tell
}


def test_check_programs_prints_a_table_and_json_lines(bank, programs, capsys) -> None:
    assert check_programs.main(["--bank", str(bank), "weak", str(programs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "verdict", "passed", "first", "failing", "test"]
    rows = {line.split()[0]: line.split(maxsplit=3) for line in lines[1:-1]}
    assert {name: (row[1], row[2]) for name, row in rows.items()} == {
        name: (verdict, f"{passed}/3") for name, (verdict, passed) in EXPECTED.items()}
    assert rows["wrong.py"][3] == "factorial(3) returned 3, expected 6"
    assert rows["correct.py"][3] == "-"
    assert lines[-1] == "6 file(s): 1 compile_error, 2 correct, 1 exception, 1 timeout, 1 wrong_answer"

    assert check_programs.main(["--bank", str(bank), "--json", "weak", str(programs)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == sorted(EXPECTED)
    by_file = {r["file"]: r for r in records}
    assert {f: (r["verdict"], r["passed"]) for f, r in by_file.items()} == EXPECTED
    assert all(r["total"] == 3 and r["correct"] == (r["verdict"] == "correct") for r in records)
    assert by_file["crashing.py"]["first_failure"].startswith("factorial(1) raised ZeroDivisionError")
    assert "SyntaxError" in by_file["syntax_error.py"]["first_failure"]
    assert by_file["correct.py"]["first_failure"] is None


@pytest.mark.parametrize("args", [("nope", "{programs}"), ("weak", "/no/such/folder")])
def test_check_programs_usage_errors(bank, programs, capsys, args) -> None:
    assert check_programs.main(["--bank", str(bank), *(a.format(programs=programs) for a in args)]) == 2
    assert capsys.readouterr().out == ""


def test_seed_pool_adds_the_correct_programs_and_says_why_it_refuses_the_others(bank, programs, database,
                                                                                 capsys) -> None:
    assert seed_pool.main(["--bank", str(bank), "weak", str(programs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "added    correct.py"
    assert "refused  crashing.py: fails a test: factorial(1) raised ZeroDivisionError" in out[1]
    assert out[2] == "refused  infinite_loop.py: fails a test: factorial(1) did not finish in time (expected 1)"
    assert out[3].startswith("refused  syntax_error.py: fails a test: ") and "SyntaxError" in out[3]
    assert out[4] == "refused  wrong.py: fails a test: factorial(3) returned 3, expected 6"
    assert out[5] == ("refused  wrong_at_zero.py: disagrees with the reference solution: factorial(0) returned 0, "
                      "the reference returns 1")
    assert out[6] == "1 added, 0 already in the pool, 5 refused"

    problem = load_problem_dir(bank / "weak")
    bind_database(load_settings())
    [entry] = SolutionPoolEntry.select()
    assert (entry.problem_id, entry.tests_version, entry.source) == ("weak", problem.tests_version, "student")
    assert "#" not in entry.program and "Ada" not in entry.program  # stripped, as the pool requires
    assert [g.input for g in TestGap.select()] == ["factorial(0)"]

    assert seed_pool.main(["--bank", str(bank), "weak", str(programs)]) == 0  # again: nothing new
    assert capsys.readouterr().out.splitlines()[0] == "known    correct.py: already in the pool"

    # The gap is shown to instructors.
    assert check_problems.main(["--bank", str(bank)]) == 0
    out = capsys.readouterr().out
    [gap] = [line for line in out.splitlines() if line.startswith("gap")]
    assert gap.startswith("gap  weak: factorial(0): the reference returns 1, a passing student program returned 0 ")
    assert gap.endswith("a test for this input is likely missing")


def test_seed_pool_refuses_a_database_that_is_not_migrated(bank, programs, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert seed_pool.main(["--bank", str(bank), "weak", str(programs)]) == 2
    assert "run python -m scripts.migrate first" in capsys.readouterr().err
