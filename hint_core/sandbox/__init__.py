"""Running untrusted programs against a problem's tests.

Callers use ``run_program(problem, program) -> RunResult`` and nothing else; how the
program is isolated can change underneath without touching them.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

from hint_core.problems import Problem
from hint_core.sandbox.results import RunResult, TestResult


class Executor(Protocol):
    def run(self, problem: Problem, program: str) -> RunResult: ...


@cache
def get_executor() -> Executor:
    from hint_core.sandbox.local import LocalExecutor

    return LocalExecutor()


def run_program(problem: Problem, program: str) -> RunResult:
    return get_executor().run(problem, program)


__all__ = ["Executor", "RunResult", "TestResult", "get_executor", "run_program"]
