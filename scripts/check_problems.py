"""Check the whole problem bank: every problem loads, its limits are sane, its tests can
be sent to the sandbox, every reference solution passes and the template fails.

    python -m scripts.check_problems [--bank DIR] [PROBLEM_ID ...]

Prints one line per problem and, for each problem at fault, one line per error naming the
problem and the field; warnings (a problem without reference solutions) follow as
`warn` lines and do not fail the check. Then the test gaps recorded in the database of
the settings (`gap` lines, see below), which do not fail the check either. Exit status 0
when every problem is sound, 1 otherwise, 2 on a usage error. The bank is hint_core/problem_bank, or PROBLEM_BANK_DIR,
or --bank (the settings are read through settings.py, as the service reads them).

With `BACKEND_ORCHESTRATION_GET_PROBLEMS_URL` set, every problem is also compared with
orchestration's: a template whose function (name or parameters) disagrees with the local
tests fails the check (the prompts and the course would describe another function than
the one judged); a problem orchestration does not know, or cannot be asked about, is a
warning. A PROBLEM_ID named on the command line that the bank lacks is looked up at
orchestration: known there, it is listed as judged by orchestration's problem handler.

A test gap is a program (a student's or the LLM's) that passed every test of a problem
but disagreed with its reference solutions on a generated input, so it was kept out of
the solution pool (hint_core/differential.py): the tests likely miss that input. Gaps
are shown for the problems' current tests only; a new test that covers them (a new tests
version) retires them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from peewee import DatabaseError

from database import is_sqlite
from hint_actors.pool_store import recorded_gaps
from hint_core.problems import Problem, ProblemError, load_problem_dir, problem_folders
from hint_core.remote import (
    OrchestrationProblems,
    OrchestrationUnreachable,
    ProblemNotAtOrchestration,
    template_mismatch,
)
from hint_core.sandbox import SandboxError
from hint_core.sandbox.checks import check_problem, problem_warnings
from hint_core.sandbox.results import clip
from models import TestGap
from runtime import bind_database, local_executor
from settings import ConfigError, Settings, load_settings


def gap_lines(problems: list[Problem], settings: Settings) -> list[str]:
    """One `gap` line per test gap recorded for the problems' current tests, in the
    settings' database (none when it does not exist yet); a `note` when it cannot be read."""
    url = settings.database_url
    if is_sqlite(url) and not Path(url.split("///", 1)[1]).is_file():
        return []
    try:
        database = bind_database(settings)
        try:
            if not TestGap.table_exists():
                return [f"note {settings.database_label} has no test_gap table: run python -m scripts.migrate"]
            lines = []
            for problem in problems:
                for gap in recorded_gaps(problem):
                    lines.append(
                        f"gap  {problem.id}: {clip(gap.input, 200)}: the reference returns "
                        f"{clip(gap.reference_output, 200)}, a passing {gap.source} program "
                        f"{clip(gap.program_output, 200)} (program {gap.program_hash[:12]}, first seen "
                        f"{gap.first_seen:%Y-%m-%d %H:%M} UTC): a test for this input is likely missing")
            return lines
        finally:
            database.close()
    except DatabaseError as exc:
        return [f"note cannot read the test gaps from {settings.database_label}: {type(exc).__name__}"]


def compare_with_orchestration(problem: Problem, orchestration: OrchestrationProblems) -> tuple[list[str], list[str]]:
    """(errors, warnings) from comparing a bank problem with orchestration's text."""
    try:
        text = orchestration.fetch(problem.id)
    except ProblemNotAtOrchestration:
        return [], [f"{problem.id}: orchestration does not know this problem"]
    except OrchestrationUnreachable as exc:
        return [], [f"{problem.id}: not compared with orchestration ({exc})"]
    mismatch = template_mismatch(problem, text.template)
    return ([f"template: {mismatch}"] if mismatch else []), []


def _only_at_orchestration(
    problem_ids: list[str], orchestration: OrchestrationProblems | None
) -> tuple[list[str], list[str]]:
    """(lines for the ids orchestration knows, ids neither knows nor can be asked about)."""
    lines, unknown = [], []
    for problem_id in problem_ids:
        if orchestration is None:
            unknown.append(problem_id)
            continue
        try:
            orchestration.fetch(problem_id)
        except ProblemNotAtOrchestration:
            unknown.append(problem_id)
        except OrchestrationUnreachable as exc:
            unknown.append(f"{problem_id} ({exc})")
        else:
            lines.append(f"orch {problem_id}: not in the bank; known to orchestration, judged by its problem handler")
    return lines, unknown


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m scripts.check_problems",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bank", type=Path, default=settings.problem_bank_dir)
    parser.add_argument("problem_ids", nargs="*", help="only these problems (default: all)")
    args = parser.parse_args(argv)
    if not args.bank.is_dir():
        print(f"error: {args.bank} is not a folder", file=sys.stderr)
        return 2
    orchestration = None
    if settings.problems_url:
        orchestration = OrchestrationProblems(settings.problems_url, token=settings.callback_token)
    folders = problem_folders(args.bank)
    remote_lines: list[str] = []
    if args.problem_ids:
        missing = sorted(set(args.problem_ids) - {f.name for f in folders})
        remote_lines, unknown = _only_at_orchestration(missing, orchestration)
        if unknown:
            print(f"error: unknown problem(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        folders = [f for f in folders if f.name in args.problem_ids]
    executor = local_executor(settings)  # the sandbox as the service configures it
    failed = 0
    loaded: list[Problem] = []
    for folder in folders:
        started = time.monotonic()
        warnings: list[str] = []
        try:
            problem = load_problem_dir(folder)
            loaded.append(problem)
            errors = check_problem(problem, executor, folder)
            warnings = problem_warnings(problem)
            if orchestration is not None:
                remote_errors, remote_warnings = compare_with_orchestration(problem, orchestration)
                errors, warnings = [*errors, *remote_errors], [*warnings, *remote_warnings]
        except ProblemError as exc:
            errors = [str(exc)]
        except SandboxError as exc:
            print(f"error: the sandbox failed: {exc}", file=sys.stderr)
            return 1
        took = (time.monotonic() - started) * 1000
        if errors:
            failed += 1
            print(f"FAIL {folder.name}")
            for error in errors:
                print(f"     {error}")
        else:
            solutions = f"{len(problem.solutions)} solution(s) pass" if problem.solutions \
                else "no reference solution"
            tests = f"{len(problem.tests)} test{'' if len(problem.tests) == 1 else 's'}"
            print(f"ok   {folder.name}: {tests}, {solutions}, template fails ({took:.0f} ms)")
        for warning in warnings:
            print(f"warn {warning}")
    for line in [*remote_lines, *gap_lines(loaded, settings)]:
        print(line)
    print(f"{len(folders) - failed} of {len(folders)} problems sound")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
