"""``ast.parse`` one thread at a time.

CPython 3.11 keeps the AST constructor's recursion depth per interpreter, not per thread:
two threads parsing at once can fail with ``SystemError: AST constructor recursion depth
mismatch``. Worker threads parse student and LLM programs concurrently (the hint engines,
the pool, the leak guard), so every parse in the service goes through ``parse`` here.

Standard library only, and nothing from the project: sandbox/static.py imports it.
"""

from __future__ import annotations

import _thread
import ast
from typing import Any

# _thread, not threading: the fork server imports sandbox/static.py, and threading would
# add its at-fork handlers to every fork of a run.
_PARSE = _thread.allocate_lock()


def parse(program: str, mode: str = "exec") -> Any:
    """``ast.parse(program, mode=mode)`` under the one lock, retried once if a parse outside
    the lock raced it anyway. Raises what ast.parse raises."""
    with _PARSE:
        try:
            return ast.parse(program, mode=mode)
        except SystemError:  # a parse outside this lock raced this one
            return ast.parse(program, mode=mode)
