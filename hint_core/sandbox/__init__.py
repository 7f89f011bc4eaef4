"""Running untrusted programs against a problem's tests. See docs/sandbox.md.

The caller builds the executor from its settings and keeps it for the process's life:

    from hint_core.sandbox import ForkServerExecutor, SandboxConfig
    executor = ForkServerExecutor(SandboxConfig(require=parse_layers(text, "SANDBOX_REQUIRE")))
    result = executor.run(problem, program)   # -> RunResult

The sandbox reads no environment: ``SandboxConfig`` holds the operator's settings
(``SANDBOX_REQUIRE``, ``SANDBOX_DISABLE``, ``SANDBOX_UID_BASE``, ``SANDBOX_TMP_DIR`` are
parsed by the service's settings; ``layers.parse_layers`` reads a layer list). How a
program is isolated can change underneath without touching callers.
"""

from __future__ import annotations

from typing import Protocol

from hint_core.problems import Problem
from hint_core.sandbox.config import SandboxConfig, SandboxError, SandboxUnavailable
from hint_core.sandbox.layers import ALL_LAYERS, parse_layers
from hint_core.sandbox.local import ForkServerExecutor
from hint_core.sandbox.results import RunResult, Status, TestResult
from hint_core.sandbox.static import too_complex


class Executor(Protocol):
    def run(self, problem: Problem, program: str) -> RunResult: ...


__all__ = [
    "ALL_LAYERS",
    "Executor",
    "ForkServerExecutor",
    "RunResult",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "Status",
    "TestResult",
    "parse_layers",
    "too_complex",
]
