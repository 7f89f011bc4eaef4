"""Writing the hint with the LLM: one corrective turn for an unusable answer, and the
solution-leak guard with one stricter regeneration before the code is cut out.

The guard compares the hint and the explanation with every known-correct program
(`HintContext.selected_program` and `known_programs`). A hint that leaks is regenerated
once with a stricter instruction, then redacted, then replaced by the offline hint. An
explanation that leaks (it is for teachers, but it is stored and sent in the callback)
is redacted: the hint need not be written again for it.

Every call's cost goes into the caller's `Usage` and every decision into `notes`, so
the stored phase shows what happened even when this raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hint_core.ai_config import PhaseConfig
from hint_core.leak_guard import (
    LeakContext,
    LeakReport,
    Runner,
    find_leaks,
    leak_context,
    redact_explanation,
    redact_hint,
)
from hint_core.llm import LLMClient, LLMError, LLMReply, ParseError, Usage, parse_hint
from hint_core.prompts import HintContext, Messages, corrective_messages, hint_generation_messages

log = logging.getLogger(__name__)

MIN_HINT_WORDS = 6  # a redacted hint shorter than this says nothing useful


@dataclass(frozen=True)
class WrittenHint:
    explanation: str
    hint: str


def guard_context(ctx: HintContext) -> LeakContext:
    run = ctx.student_run
    return leak_context(
        ctx.problem, ctx.student_program, ctx.selected_program,
        evidence=run.first_failure_text() if run else None,
        student_correct=bool(run and run.correct),
        known_programs=ctx.known_programs,
    )


def _safe_explanation(
    written: WrittenHint, report: LeakReport, guard: LeakContext, record: dict[str, Any]
) -> WrittenHint:
    """`written` with its explanation redacted when the report says it leaks."""
    if not report.explanation:
        return written
    record.setdefault("explanation_reasons", []).extend(report.explanation)
    record["explanation_action"] = "redacted"
    return WrittenHint(redact_explanation(written.explanation, guard), written.hint)


def _why_unusable(exc: ParseError, reply: LLMReply) -> str:
    if reply.finish_reasons and reply.finish_reasons[0] == "length":
        return f"{exc} (the answer was cut off at max_tokens)"
    return str(exc)


def _ask(
    llm: LLMClient, messages: Messages, phase: PhaseConfig, usage: Usage, notes: dict[str, Any],
    request_id: object,
) -> WrittenHint:
    """A parsed hint answer; an unusable one gets one corrective turn, then ParseError."""
    reply = llm.ask(messages, phase, usage, n=1, request_id=request_id)
    content = reply.contents[0] if reply.contents else ""
    try:
        return WrittenHint(*parse_hint(content))
    except ParseError as exc:
        reason = _why_unusable(exc, reply)
    log.warning("request %s: hint answer unusable (%s); asking once more", request_id, reason)
    retry = corrective_messages(messages, content, reason)
    notes.setdefault("corrective_retries", []).append({"reason": reason, "messages": retry[len(messages) :]})
    reply = llm.ask(retry, phase, usage, n=1, request_id=request_id)
    try:
        return WrittenHint(*parse_hint(reply.contents[0] if reply.contents else ""))
    except ParseError as exc:
        raise ParseError(f"{_why_unusable(exc, reply)} (after a corrective retry)") from None


def write_llm_hint(
    llm: LLMClient,
    phase: PhaseConfig,
    ctx: HintContext,
    usage: Usage,
    notes: dict[str, Any],
    request_id: object,
    run: Runner,
) -> WrittenHint | None:
    """The LLM's hint, guarded against giving the solution away.

    None when no safe LLM hint could be had (the caller falls back to the offline engine).
    Raises LLMError or ParseError when the first answer cannot be obtained at all.
    """
    first = _ask(llm, hint_generation_messages(ctx), phase, usage, notes, request_id)
    guard = guard_context(ctx)
    report = find_leaks(first.hint, first.explanation, guard, run)
    if not report.fired:
        return first
    record: dict[str, Any] = {"fired": True, "reasons": list(report.reasons)}
    notes["leak_guard"] = record
    if not report.hint:
        record["action"] = "explanation redacted"
        log.warning("request %s: leak guard redacted the explanation (%s)",
                    request_id, "; ".join(report.reasons))
        return _safe_explanation(first, report, guard, record)

    log.warning("request %s: leak guard fired (%s); regenerating with a stricter instruction",
                request_id, "; ".join(report.reasons))
    stricter = hint_generation_messages(ctx, stricter=True)
    notes["stricter_prompt"] = stricter
    candidate = first
    try:
        second = _ask(llm, stricter, phase, usage, notes, request_id)
    except (LLMError, ParseError) as exc:  # the first hint is still there to redact
        record["regeneration_error"] = str(exc)
    else:
        again = find_leaks(second.hint, second.explanation, guard, run)
        if not again.hint:
            record["action"] = "regenerated"
            if again.explanation:
                record["reasons_after_regeneration"] = list(again.reasons)
            return _safe_explanation(second, again, guard, record)
        record["reasons_after_regeneration"] = list(again.reasons)
        candidate = second

    redacted = WrittenHint(
        redact_explanation(candidate.explanation, guard), redact_hint(candidate.hint, guard)
    )
    safe = not find_leaks(redacted.hint, redacted.explanation, guard, run).hint
    if len(redacted.hint.split()) >= MIN_HINT_WORDS and safe:
        record["action"] = "code removed"
        log.warning("request %s: leak guard removed code from the hint", request_id)
        return redacted
    record["action"] = "offline hint"
    log.warning("request %s: leak guard found no safe LLM hint; using the offline engine", request_id)
    return None
