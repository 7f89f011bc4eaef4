"""Finding verified LLM programs of an identical earlier request (see hint_core/reuse.py).

Only phases that really called the LLM count, so the window runs from the paid-for call
and a chain of reuses cannot keep an answer alive forever. Only programs that passed
the tests are reused, without their comments (they come from another student's request,
and the LLM may have kept that student's comments); they are verified again like any
candidate, since the tests may have changed since.
"""

from __future__ import annotations

import datetime as dt

from hint_core.engines import Reused
from hint_core.enums import Engine, Source
from hint_core.pool import strip_comments
from models import EnhancedProgram, ProgramEnhancementPhase, utcnow


def find_reusable(key: str, window_seconds: float, limit: int, exclude_request: int) -> Reused | None:
    """Up to `limit` distinct verified programs for `key` from the last `window_seconds`."""
    if window_seconds <= 0:
        return None
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    rows = (
        EnhancedProgram.select(EnhancedProgram.program, EnhancedProgram.phase)
        .join(ProgramEnhancementPhase)
        .where(
            (ProgramEnhancementPhase.input_key == key)
            & (ProgramEnhancementPhase.engine == Engine.OPENAI)
            & (ProgramEnhancementPhase.created_at >= since)
            & (ProgramEnhancementPhase.request != exclude_request)
            & (EnhancedProgram.source == Source.LLM)
            & (EnhancedProgram.correct == True)  # noqa: E712 - SQL, not Python
        )
        .order_by(ProgramEnhancementPhase.created_at.desc(), EnhancedProgram.index)
    )
    programs: list[str] = []
    phases: list[int] = []
    for row in rows:
        # Another student's request: the LLM may have kept that student's comments.
        program = strip_comments(row.program)
        if program in programs:
            continue
        programs.append(program)
        if row.phase_id not in phases:
            phases.append(row.phase_id)
        if len(programs) >= limit:
            break
    return Reused(tuple(programs), tuple(phases)) if programs else None
