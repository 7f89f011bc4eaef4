"""Check the whole problem bank: every problem loads, its limits are sane, its tests can
be sent to the sandbox, every reference solution passes and the template fails.

    python -m scripts.check_problems [--bank DIR] [PROBLEM_ID ...]

Prints one line per problem and, for each problem at fault, one line per error naming the
problem and the field; warnings (a problem without reference solutions) follow as
`warn` lines and do not fail the check. Exit status 0 when every problem is sound, 1
otherwise, 2 on a usage error. The bank is hint_core/problem_bank, or PROBLEM_BANK_DIR,
or --bank.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from hint_core.problems import DEFAULT_BANK_DIR, ProblemError, load_problem_dir, problem_folders
from hint_core.sandbox import ForkServerExecutor, SandboxConfig, SandboxError
from hint_core.sandbox.checks import check_problem, problem_warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.check_problems",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--bank", type=Path,
                        default=Path(os.environ.get("PROBLEM_BANK_DIR") or DEFAULT_BANK_DIR))
    parser.add_argument("problem_ids", nargs="*", help="only these problems (default: all)")
    args = parser.parse_args(argv)
    if not args.bank.is_dir():
        print(f"error: {args.bank} is not a folder", file=sys.stderr)
        return 2
    folders = problem_folders(args.bank)
    if args.problem_ids:
        unknown = set(args.problem_ids) - {f.name for f in folders}
        if unknown:
            print(f"error: unknown problem(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        folders = [f for f in folders if f.name in args.problem_ids]
    executor = ForkServerExecutor(SandboxConfig())
    failed = 0
    for folder in folders:
        started = time.monotonic()
        warnings: list[str] = []
        try:
            problem = load_problem_dir(folder)
            errors = check_problem(problem, executor, folder)
            warnings = problem_warnings(problem)
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
    print(f"{len(folders) - failed} of {len(folders)} problems sound")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
