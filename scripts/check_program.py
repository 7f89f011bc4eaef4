"""Run one program file against a problem's tests in the sandbox and print the verdict.

    python -m scripts.check_program [--bank DIR] PROBLEM_ID FILE

Prints one JSON object (correct, status, tests, output, run_time, first_failure, ...).
Exit status 0 whatever the verdict; 2 on a usage error (unknown problem, missing file);
1 if the sandbox itself failed. The bank is hint_core/problem_bank, or PROBLEM_BANK_DIR,
or --bank. A problem without reference solutions is judged like any other.

The other tools that judge program files (check_programs, seed_pool) open the problem,
read the files and build the sandbox with the functions here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path

from hint_core.errors import ConfigError
from hint_core.problems import Problem, ProblemBank, ProblemError, UnknownProblem
from hint_core.sandbox import ForkServerExecutor, SandboxError
from runtime import local_executor
from settings import Settings, load_settings


class UsageError(Exception):
    """What the user asked for cannot be done (exit status 2, the message on stderr)."""


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bank", type=Path, default=None,
                        help="the problem bank (default: PROBLEM_BANK_DIR, or hint_core/problem_bank)")
    parser.add_argument("problem_id")


def open_problem(bank: Path | None, problem_id: str,
                 env: Mapping[str, str] | None = None) -> tuple[Settings, Problem]:
    """The settings (from `env`, or the process's environment), and the problem from `bank`
    (or the settings' bank)."""
    try:
        settings = load_settings(env)
        problem = ProblemBank(bank or settings.problem_bank_dir).get(problem_id)
    except (UnknownProblem, ProblemError, ConfigError, OSError) as exc:
        raise UsageError(str(exc)) from None
    return settings, problem


def read_program(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def sandbox(settings: Settings) -> ForkServerExecutor:
    """The one sandbox a tool runs every program in (as the settings configure it)."""
    return local_executor(settings)


def tool(body: Callable[[], int]) -> int:
    """A tool's exit status: `body`'s, 2 on a UsageError, 1 when the sandbox itself fails
    (the message on stderr, nothing on stdout)."""
    try:
        return body()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _check(args: argparse.Namespace, env: Mapping[str, str] | None) -> int:
    settings, problem = open_problem(args.bank, args.problem_id, env)
    program = read_program(args.file)
    with closing(sandbox(settings)) as executor:
        result = executor.run(problem, program)
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.check_program",
                                     description=__doc__.split("\n")[0])
    add_problem_arguments(parser)
    parser.add_argument("file", type=Path)
    return tool(lambda: _check(parser.parse_args(argv), env))


if __name__ == "__main__":
    sys.exit(main())
