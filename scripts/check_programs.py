"""Run every program file of a folder against a problem's tests and print a summary.

    python -m scripts.check_programs [--bank DIR] [--json] [--jobs N] PROBLEM_ID DIR

Every `*.py` in DIR (not its subfolders), by name, runs in one sandbox (one fork server
for all files), several at a time. Prints a table: file, verdict (`correct`, or the
run's status: wrong_answer, exception, timeout, compile_error, forbidden, ...),
passed/total tests, and the first failing test; then a count per verdict. With
`--json`, one JSON object per file instead (file, verdict, correct, passed, total,
first_failure) and nothing else. Exit status 0 whatever the verdicts; 2 on a usage
error; 1 if the sandbox itself failed. See `scripts.check_program` for one file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hint_core.problems import Problem
from hint_core.sandbox import Executor, RunResult
from hint_core.sandbox.results import clip
from scripts.check_program import UsageError, add_problem_arguments, open_problem, read_program, sandbox, tool

DEFAULT_JOBS = 4  # runs at once: the fork server runs them side by side


@dataclass(frozen=True)
class Checked:
    """One file's verdict."""

    file: str
    verdict: str  # "correct", a run status, or "unreadable"
    passed: int
    total: int
    first_failure: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "verdict": self.verdict, "correct": self.verdict == "correct",
                "passed": self.passed, "total": self.total, "first_failure": self.first_failure}


def program_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    return sorted(p for p in folder.glob("*.py") if p.is_file())


def run_all(executor: Executor, problem: Problem, programs: list[str], jobs: int) -> list[RunResult]:
    """Each program's result, `jobs` at a time (SandboxError, the sandbox's own failure, is raised)."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda program: executor.run(problem, program), programs))


def verdict(file: str, result: RunResult) -> Checked:
    return Checked(file, "correct" if result.correct else str(result.status),
                   sum(t.passed for t in result.tests), len(result.tests), result.first_failure_text())


def check_files(executor: Executor, problem: Problem, files: list[Path], jobs: int) -> list[Checked]:
    texts: dict[Path, str] = {}
    unreadable: dict[Path, Checked] = {}
    for path in files:
        try:
            texts[path] = read_program(path)
        except UsageError as exc:
            unreadable[path] = Checked(path.name, "unreadable", 0, len(problem.tests), str(exc))
    results = dict(zip(texts, run_all(executor, problem, list(texts.values()), jobs), strict=True))
    return [unreadable[p] if p in unreadable else verdict(p.name, results[p]) for p in files]


def table(rows: list[Checked]) -> list[str]:
    width = max([len("file")] + [len(r.file) for r in rows])
    kinds = max([len("verdict")] + [len(r.verdict) for r in rows])
    lines = [f"{'file':<{width}}  {'verdict':<{kinds}}  passed  first failing test"]
    for r in rows:
        lines.append(f"{r.file:<{width}}  {r.verdict:<{kinds}}  {f'{r.passed}/{r.total}':>6}  "
                     f"{clip((r.first_failure or '-').replace(chr(10), ' '), 120)}")
    counts = Counter(r.verdict for r in rows)
    lines.append(f"{len(rows)} file(s): " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    return lines


def _check(args: argparse.Namespace) -> int:
    settings, problem = open_problem(args.bank, args.problem_id)
    files = program_files(args.folder)
    with closing(sandbox(settings)) as executor:
        rows = check_files(executor, problem, files, args.jobs)
    print("\n".join([json.dumps(r.to_dict()) for r in rows] if args.json else table(rows)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.check_programs", description=__doc__.split("\n")[0])
    add_problem_arguments(parser)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"runs at once (default {DEFAULT_JOBS})")
    return tool(lambda: _check(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
