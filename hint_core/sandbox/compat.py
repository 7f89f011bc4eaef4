"""Transitional: ``run_program`` for code that is not yet handed an executor.

The service's runtime builds one ``ForkServerExecutor`` from its settings and passes it
to whatever runs programs. Until every caller takes it (hint_core/leak_guard.py and
hint_core/llm_hint.py default to ``run_program``), this module keeps them working with
an executor of default settings: the operator's SANDBOX_* settings do not apply to it,
which it says once in the log. Delete this module when nothing imports it.
"""

from __future__ import annotations

import logging
import threading

from hint_core.problems import Problem
from hint_core.sandbox.config import SandboxConfig
from hint_core.sandbox.local import ForkServerExecutor
from hint_core.sandbox.results import RunResult

log = logging.getLogger("hint_core.sandbox")
_lock = threading.Lock()
_default: list[ForkServerExecutor] = []


def get_executor() -> ForkServerExecutor:
    """An executor with default settings, made on first use (deprecated: pass one instead)."""
    with _lock:
        if not _default:
            log.warning("run_program() without an executor: using default sandbox settings (the SANDBOX_* "
                        "settings do not apply); pass the runtime's executor instead")
            _default.append(ForkServerExecutor(SandboxConfig()))
        return _default[0]


def run_program(problem: Problem, program: str) -> RunResult:
    """Deprecated: ``executor.run(problem, program)`` with the caller's executor."""
    return get_executor().run(problem, program)
