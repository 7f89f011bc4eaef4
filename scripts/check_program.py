"""Run one program file against a problem's tests in the sandbox and print the verdict.

    python -m scripts.check_program [--bank DIR] PROBLEM_ID FILE

Prints one JSON object (correct, status, tests, output, run_time, first_failure, ...).
Exit status 0 whatever the verdict; 2 on a usage error (unknown problem, missing file);
1 if the sandbox itself failed. The bank is hint_core/problem_bank, or PROBLEM_BANK_DIR,
or --bank. A problem without reference solutions is judged like any other.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from hint_core.problems import ProblemBank, ProblemError, UnknownProblem
from hint_core.sandbox import ForkServerExecutor, SandboxConfig, SandboxError
from settings import ConfigError, load_settings


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    try:
        settings = load_settings(env)  # PROBLEM_BANK_DIR read as the service reads it
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m scripts.check_program",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bank", type=Path, default=settings.problem_bank_dir)
    parser.add_argument("problem_id")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        bank = ProblemBank(args.bank)
        problem = bank.get(args.problem_id)
    except (UnknownProblem, ProblemError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        program = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        executor = ForkServerExecutor(SandboxConfig())
        result = executor.run(problem, program)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
