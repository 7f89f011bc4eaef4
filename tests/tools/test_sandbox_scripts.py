"""The command-line tools: check_program, check_problems, bench_sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scripts import check_problems, check_program

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "hint_core" / "problem_bank"


def script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120,
                          env={**os.environ, **(env or {})})


# --- check_program -------------------------------------------------------------------------


def test_check_program_prints_one_json_verdict(tmp_path) -> None:
    program = tmp_path / "factorial.py"
    program.write_text((BANK / "factorial/solutions/iterative.py").read_text())
    done = script("scripts.check_program", "factorial", str(program))
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["correct"] is True and verdict["status"] == "passed"
    assert {"tests", "output", "run_time", "first_failure"} <= set(verdict)
    assert len(verdict["tests"]) == len(json.loads(json.dumps(verdict["tests"])))
    assert all(t["status"] == "passed" for t in verdict["tests"])


def test_check_program_exit_status_is_zero_for_a_wrong_program(tmp_path) -> None:
    program = tmp_path / "wrong.py"
    program.write_text("def factorial(n):\n    return 0\n")
    done = script("scripts.check_program", "factorial", str(program))
    assert done.returncode == 0
    verdict = json.loads(done.stdout)
    assert verdict["correct"] is False and verdict["status"] == "wrong_answer"
    assert verdict["first_failure"] == "factorial(0) returned 0, expected 1"


@pytest.mark.parametrize("args", [("nope", "{file}"), ("factorial", "/no/such/file.py"), ("factorial",), ()])
def test_check_program_usage_errors(tmp_path, capsys, args: tuple[str, ...]) -> None:
    program = tmp_path / "p.py"
    program.write_text("pass\n")
    try:
        code = check_program.main([a.format(file=program) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    assert capsys.readouterr().out == ""


def test_check_program_uses_the_bank_of_the_environment(tmp_path, capsys, monkeypatch) -> None:
    bank = tmp_path / "bank"
    shutil.copytree(BANK / "factorial", bank / "renamed")
    program = tmp_path / "p.py"
    program.write_text("def factorial(n):\n    return 1\n")
    monkeypatch.setenv("PROBLEM_BANK_DIR", str(bank))
    assert check_program.main(["renamed", str(program)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "wrong_answer"


# --- check_problems --------------------------------------------------------------------------


def test_check_problems_on_the_real_bank() -> None:
    done = script("scripts.check_problems")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   factorial" in done.stdout
    assert done.stdout.strip().endswith("problems sound")


def write_problem(bank: Path, name: str, spec: str, solutions: dict[str, str]) -> None:
    folder = bank / name
    (folder / "solutions").mkdir(parents=True)
    (folder / "problem.yaml").write_text(textwrap.dedent(spec))
    for file, text in solutions.items():
        (folder / "solutions" / file).write_text(text)


GOOD = """
    title: Double
    description: Return twice x.
    template: |
      def double(x):
          pass
    function: double
    tests:
      - {args: [2], expected: 4}
"""


def test_check_problems_names_the_problem_and_the_field(tmp_path, capsys) -> None:
    bank = tmp_path / "bank"
    write_problem(bank, "good", GOOD, {"ok.py": "def double(x):\n    return 2 * x\n"})
    write_problem(bank, "bad_solution", GOOD, {"ok.py": "def double(x):\n    return 2 * x\n",
                                               "wrong.py": "def double(x):\n    return x\n"})
    write_problem(bank, "template_passes", GOOD.replace("pass", "return x + x"),
                  {"ok.py": "def double(x):\n    return 2 * x\n"})
    write_problem(bank, "bad_limits",
                  GOOD + "    limits: {memory_mb: 8, cpu_seconds: '2', wall_seconds: 1}\n",
                  {"ok.py": "def double(x):\n    return 2 * x\n"})
    write_problem(bank, "bad_value", GOOD.replace("expected: 4", "expected: 2024-01-01"),
                  {"ok.py": "def double(x):\n    return 2 * x\n"})
    no_tests = GOOD.replace("      - {args: [2], expected: 4}\n", "").replace("tests:", "tests: []")
    write_problem(bank, "no_tests", no_tests,
                  {"ok.py": "pass\n"})
    assert check_problems.main(["--bank", str(bank)]) == 1
    out = capsys.readouterr().out
    assert "ok   good" in out
    assert "bad_solution: solutions/wrong.py fails: double(2) returned 2, expected 4" in out
    assert "template_passes: template passes every test" in out
    assert "bad_limits: limits.memory_mb is 8" in out
    assert "bad_limits: limits.cpu_seconds must be a number, not '2'" in out
    assert "bad_value: tests[0] (test 1): 'expected' holds a value of type date" in out
    assert "no_tests: problem.yaml, line 8: field 'tests' is empty" in out
    assert "1 of 6 problems sound" in out


def test_check_problems_usage_errors(tmp_path) -> None:
    assert check_problems.main(["--bank", str(tmp_path / "missing")]) == 2
    assert check_problems.main(["no_such_problem"]) == 2


# --- bench_sandbox ----------------------------------------------------------------------------


def test_bench_prints_both_medians_and_their_ratio() -> None:
    done = script("scripts.bench_sandbox", "--runs", "3")
    assert done.returncode == 0, done.stderr
    assert "sandbox run (trivial program), median of 3:" in done.stdout
    assert "bare `python -I -S -c pass`, median of 3:" in done.stdout
    assert "ratio sandbox / bare interpreter:" in done.stdout
