"""Running untrusted programs against a problem's tests.

Callers use ``run_program(problem, program) -> RunResult`` and nothing else; how the
program is isolated can change underneath without touching them. See docs/sandbox.md.

Operator settings (environment of the worker process, read once):

- ``SANDBOX_REQUIRE=landlock,seccomp,netns`` (or ``all``): refuse to run, raising
  ``SandboxUnavailable``, rather than run without these layers.
- ``SANDBOX_DISABLE=...``: switch layers off (for a kernel where one misbehaves).
- ``SANDBOX_UID_BASE`` (default 40000): first uid of the per-run uids.
- ``SANDBOX_TMP_DIR``: where run directories are made (default: the system's).
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

from hint_core.problems import Problem
from hint_core.sandbox.local import (
    ALL_LAYERS,
    ForkServerExecutor,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
)
from hint_core.sandbox.results import RunResult, TestResult


class Executor(Protocol):
    def run(self, problem: Problem, program: str) -> RunResult: ...


@cache
def get_executor() -> ForkServerExecutor:
    """The process's executor; its fork server starts on first use, in this process."""
    return ForkServerExecutor(SandboxConfig.from_env())


def run_program(problem: Problem, program: str) -> RunResult:
    """Run `program` against every test of `problem`, confined; never raises for
    anything the program does (only SandboxError when the sandbox itself fails)."""
    return get_executor().run(problem, program)


__all__ = [
    "ALL_LAYERS",
    "Executor",
    "ForkServerExecutor",
    "RunResult",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "TestResult",
    "get_executor",
    "run_program",
]
