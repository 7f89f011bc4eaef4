"""Seed a problem's solution pool from a folder of correct submissions, each verified.

    python -m scripts.seed_pool [--bank DIR] [--jobs N] PROBLEM_ID DIR

Every `*.py` in DIR runs against the problem's tests in one sandbox (as
`scripts.check_programs` does); a program joins the pool only on the terms of any other
(hint_actors/pool_store.py `admit`): it passes every test, still does once its comments
and docstrings are removed (the pool keeps them out: they may hold a student's name),
and agrees with the reference solutions on generated inputs (a disagreement is recorded
as a test gap, which `scripts.check_problems` prints). Entries are stored as student
programs under the problem's current tests version.

Prints one line per file, `added`, `known` (the pool holds it already, up to names and
layout) or `refused` with the reason, then the counts. Uses the database of the
settings (DATABASE_URL), which must be migrated (`python -m scripts.migrate`). Exit
status 0 whatever was refused; 2 on a usage error; 1 if the sandbox itself failed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

from hint_actors import pool_store
from hint_core import differential
from hint_core.enums import Source
from hint_core.problems import Problem
from hint_core.sandbox import Executor
from migrations import pending
from runtime import bind_database
from scripts.check_program import UsageError, add_problem_arguments, open_problem, read_program, sandbox, tool
from scripts.check_programs import DEFAULT_JOBS, program_files, run_all
from settings import Settings


def open_pool(settings: Settings) -> None:
    """Bind the settings' database, refusing one whose schema is behind the code."""
    behind = pending(settings.database_url)
    if behind:
        raise UsageError(f"the database {settings.database_label} is not migrated ({', '.join(behind)} pending): "
                         "run python -m scripts.migrate first")
    bind_database(settings)


def seed(executor: Executor, problem: Problem, files: list[Path], jobs: int) -> list[tuple[str, str, str]]:
    """(file, outcome, detail) per file: added, known or refused (detail: why)."""
    texts: dict[Path, str] = {}
    outcomes: dict[Path, tuple[str, str, str]] = {}
    for path in files:
        try:
            texts[path] = read_program(path)
        except UsageError as exc:
            outcomes[path] = (path.name, "refused", str(exc))
    runs = run_all(executor, problem, list(texts.values()), jobs)
    offered = [(text, run, Source.STUDENT) for text, run in zip(texts.values(), runs, strict=True)]
    first_with: dict[str, str] = {}  # dedup key -> the file that brought it
    for path, admission in zip(texts, pool_store.admit(problem, offered, executor.run), strict=True):
        if admission.key is not None:
            first_with.setdefault(admission.key, path.name)
        if admission.row is None:
            why = admission.refused or f"the same program as {first_with.get(admission.key or '', '?')}"
            outcomes[path] = (path.name, "refused", why)
            continue
        new = pool_store.store(problem, [admission.row])
        outcomes[path] = (path.name, "added", "") if new else (path.name, "known", "already in the pool")
    return [outcomes[p] for p in files]


def _seed(args: argparse.Namespace) -> int:
    settings, problem = open_problem(args.bank, args.problem_id)
    files = program_files(args.folder)
    open_pool(settings)
    if not differential.applies(problem):
        print(f"note: {problem.id} has no reference solution (or is not a function problem): "
              "programs are checked against its tests only")
    with closing(sandbox(settings)) as executor:
        rows = seed(executor, problem, files, args.jobs)
    for name, outcome, detail in rows:
        print(f"{outcome:<8} {name}" + (f": {detail}" if detail else ""))
    counts = Counter(outcome for _, outcome, _ in rows)
    print(f"{counts['added']} added, {counts['known']} already in the pool, {counts['refused']} refused")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.seed_pool", description=__doc__.split("\n")[0])
    add_problem_arguments(parser)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"runs at once (default {DEFAULT_JOBS})")
    return tool(lambda: _seed(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
