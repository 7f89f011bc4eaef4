"""One request's story, from its stored rows to what the page shows (no Flask, no SQL).

Pure functions over `queries.StoredRequest`: the student's run and program, each
candidate with its verdict and diff, the selection and why, every LLM exchange with its
tokens and cost, the time each step took, the hint, the leak guard's notes and the
callback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hint_api.console.queries import COST_COLUMN, StoredRequest
from hint_api.console.text import (
    Clipped,
    Diff,
    ProgramView,
    clip,
    diff,
    failing_line,
    pretty_json,
    program_view,
)
from models import EnhancedProgram


@dataclass(frozen=True)
class TestRow:
    name: str
    status: str
    call: str
    expected: str
    actual: str
    error: str
    line: int | None


@dataclass(frozen=True)
class CandidateView:
    pk: int
    phase_attempt: int | None
    index: int
    source: str
    verdict: str  # "correct", "wrong", "invalid", "not run yet"
    detail: str  # the first failure, the invalid reason, or the run status
    run_time: float | None
    edit_distance: int | None
    selected: bool
    diff: Diff | None
    has_program: bool


@dataclass(frozen=True)
class Message:
    role: str
    content: Clipped


@dataclass(frozen=True)
class Exchange:
    """One LLM phase (or the engine that stood in for it): what was asked and answered."""

    title: str
    engine: str
    model: str | None
    temperature: float | None
    prompt: list[Message]
    answers: list[Clipped]
    raw_response: Clipped | None
    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    waiting_seconds: float
    cost: float | None  # None: no cost recorded (tokens only)
    error: str | None
    started: dt.datetime | None
    completed: dt.datetime | None


@dataclass(frozen=True)
class Event:
    label: str
    at: dt.datetime
    since_start: float  # seconds since the request came in
    since_previous: float  # seconds since the event before


@dataclass
class Story:
    request_id: int
    problem_id: str
    hint_type: str
    stage: str
    program: ProgramView
    marked_line: int | None
    run_status: str | None
    run_error: str | None
    run_output: Clipped
    first_failure: str | None
    tests: list[TestRow]
    reflection: tuple[Clipped, Clipped] | None
    candidates: list[CandidateView]
    selection: str
    exchanges: list[Exchange]
    totals: dict[str, float]
    cost_recorded: bool
    timeline: list[Event]
    hint: Clipped | None
    explanation: Clipped | None
    engine: str | None
    successful: bool | None
    error_message: str | None
    fallback_reason: str | None
    leak_guard: dict[str, Any] | None
    notes: Clipped | None
    report_attempts: int
    reported_at: dt.datetime | None
    callback_note: str


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _tests(run: dict[str, Any] | None) -> list[TestRow]:
    rows = []
    for t in (run or {}).get("tests") or []:
        if isinstance(t, dict):
            rows.append(
                TestRow(
                    _text(t.get("name")),
                    _text(t.get("status")),
                    _text(t.get("call")),
                    _text(t.get("expected")),
                    _text(t.get("actual")),
                    _text(t.get("error")),
                    t.get("line") if isinstance(t.get("line"), int) else None,
                )
            )
    return rows


def _verdict(c: EnhancedProgram) -> tuple[str, str]:
    run = c.run_result if isinstance(c.run_result, dict) else {}
    if c.program is None:
        return "invalid", c.invalid_reason or "the answer held no program"
    if c.evaluated_at is None:
        return "not run yet", ""
    if c.correct:
        return "correct", "passed every test"
    return "wrong", _text(run.get("first_failure") or c.invalid_reason or run.get("status"))


def _selection(hint_type: str, candidates: list[CandidateView]) -> str:
    chosen = next((c for c in candidates if c.selected), None)
    passing = [c for c in candidates if c.verdict == "correct"]
    if chosen is None:
        if passing:
            return "No candidate was selected (the hint was not written from a candidate)."
        return "No candidate passed every test: the hint was written from the student's run alone."
    others = [c for c in passing if c is not chosen]
    where = f"Candidate {chosen.index} ({chosen.source})"
    if hint_type == "optimize":
        seconds = f"{chosen.run_time:.4f} s" if chosen.run_time is not None else "unknown time"
        rest = ", ".join(f"{c.run_time:.4f} s" for c in others if c.run_time is not None)
        return f"{where}: the fastest passing program ({seconds} of work)" + (
            f"; others: {rest}." if rest else "."
        )
    edits = (
        f"{chosen.edit_distance} token edit(s)" if chosen.edit_distance is not None else "an unknown distance"
    )
    rest = ", ".join(str(c.edit_distance) for c in others if c.edit_distance is not None)
    return f"{where}: the passing program closest to the student's ({edits} away)" + (
        f"; others are {rest} edit(s) away." if rest else "."
    )


def _answers(response: Any) -> list[Clipped]:
    """The text answers in a stored response: OpenAI chat completions, or anything else as JSON."""
    found = []
    for item in response if isinstance(response, list) else [response]:
        choices = item.get("choices") if isinstance(item, dict) else None
        if not isinstance(choices, list):
            continue
        for choice in choices:
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                found.append(clip(content))
    return found


def _messages(prompt: Any) -> list[Message]:
    if not isinstance(prompt, list):
        return [] if prompt is None else [Message("(stored prompt)", pretty_json(prompt))]
    out = []
    for m in prompt:
        if isinstance(m, dict):
            out.append(Message(_text(m.get("role")), clip(_text(m.get("content")))))
    return out


def _exchange(title: str, phase: Any) -> Exchange:
    cost = getattr(phase, COST_COLUMN, None)
    return Exchange(
        title=title,
        engine=phase.engine,
        model=phase.model,
        temperature=phase.temperature,
        prompt=_messages(phase.prompt),
        answers=_answers(phase.response),
        raw_response=pretty_json(phase.response) if phase.response is not None else None,
        prompt_tokens=phase.prompt_tokens or 0,
        completion_tokens=phase.completion_tokens or 0,
        llm_calls=phase.llm_calls or 0,
        waiting_seconds=phase.waiting_seconds or 0.0,
        cost=float(cost) if cost is not None else None,
        error=phase.error,
        started=phase.created_at,
        completed=phase.completed_at,
    )


def _timeline(s: StoredRequest) -> list[Event]:
    r = s.request
    marks: list[tuple[str, dt.datetime | None]] = [
        ("request received", r.created_at),
        ("first steps queued", r.enqueued_at),
        ("student program run", r.student_run_at),
    ]
    for p in s.program_phases:
        what = f"candidates from {p.engine}" + (f" {p.model}" if p.model else "") + f" (attempt {p.attempt})"
        marks.append(
            (f"{what} stored; LLM waited {p.waiting_seconds or 0:.2f} s", p.completed_at or p.created_at)
        )
    evaluated = [c.evaluated_at for c in s.candidates if c.evaluated_at is not None]
    if evaluated:
        marks.append(("last candidate verified", max(evaluated)))
    if s.reflection is not None:
        marks.append(("reflection received", s.reflection.created_at))
    marks.append(("evidence complete, hint stage claimed", r.hint_claimed_at))
    for p in s.hint_phases:
        label = f"hint written by {p.engine}" + (f" {p.model}" if p.model else "")
        marks.append((f"{label}; LLM waited {p.waiting_seconds or 0:.2f} s", p.completed_at or p.created_at))
    if s.hint is not None:
        marks.append(
            ("hint stored" if s.hint.job_finished_successfully else "failure stored", s.hint.created_at)
        )
        marks.append(("reported to orchestration", s.hint.reported_at))
    present = sorted(((at, label) for label, at in marks if at is not None), key=lambda m: m[0])
    events, previous = [], r.created_at
    for at, label in present:
        events.append(Event(label, at, (at - r.created_at).total_seconds(), (at - previous).total_seconds()))
        previous = at
    return events


def _callback_note(s: StoredRequest) -> str:
    hint = s.hint
    if hint is None:
        return "No answer yet, so nothing to report."
    if hint.reported_at is not None:
        return f"Orchestration accepted the callback after {hint.report_attempts} attempt(s)."
    if hint.report_attempts:
        return f"{hint.report_attempts} attempt(s), none accepted yet (retried with backoff)."
    return "Not reported: no callback attempt recorded (polling deployments have none)."


def build_story(s: StoredRequest) -> Story:
    r = s.request
    run = r.student_run if isinstance(r.student_run, dict) else None
    marked = failing_line(run)
    hint_phase = s.hint_phases[-1] if s.hint_phases else None
    selected_pk = hint_phase.selected_program_id if hint_phase else None
    attempts = {p.id: p.attempt for p in s.program_phases}
    candidates = []
    for c in s.candidates:
        verdict, detail = _verdict(c)
        candidates.append(
            CandidateView(
                pk=c.id,
                phase_attempt=attempts.get(c.phase_id),
                index=c.index,
                source=c.source,
                verdict=verdict,
                detail=detail,
                run_time=c.run_time,
                edit_distance=c.edit_distance,
                selected=c.id == selected_pk,
                diff=diff(r.student_program, c.program) if c.program is not None else None,
                has_program=c.program is not None,
            )
        )
    exchanges = [_exchange(f"Candidate programs, attempt {p.attempt}", p) for p in s.program_phases]
    exchanges += [_exchange(f"Hint, attempt {p.attempt}", p) for p in s.hint_phases]
    totals = {
        "prompt_tokens": sum(e.prompt_tokens for e in exchanges),
        "completion_tokens": sum(e.completion_tokens for e in exchanges),
        "llm_calls": sum(e.llm_calls for e in exchanges),
        "waiting_seconds": sum(e.waiting_seconds for e in exchanges),
    }
    costs = [e.cost for e in exchanges if e.cost is not None]
    if costs:
        totals["cost"] = sum(costs)
    notes = hint_phase.notes if hint_phase else None
    leak_guard = notes.get("leak_guard") if isinstance(notes, dict) else None
    hint = s.hint
    fallback = hint_phase.error if hint_phase is not None and hint_phase.engine == "offline" else None
    return Story(
        request_id=r.request_id,
        problem_id=r.problem_id,
        hint_type=r.hint_type,
        stage=r.stage,
        program=program_view(r.student_program, marked),
        marked_line=marked,
        run_status=_text(run.get("status")) if run else None,
        run_error=_text(run.get("error")) or None if run else None,
        run_output=clip(_text(run.get("output")) if run else ""),
        first_failure=_text(run.get("first_failure")) or None if run else None,
        tests=_tests(run),
        reflection=(clip(s.reflection.reflection_question), clip(s.reflection.reflection_answer))
        if s.reflection
        else None,
        candidates=candidates,
        selection=_selection(r.hint_type, candidates),
        exchanges=exchanges,
        totals=totals,
        cost_recorded=bool(costs),
        timeline=_timeline(s),
        hint=clip(hint.hint) if hint and hint.hint is not None else None,
        explanation=clip(hint.explanation) if hint and hint.explanation is not None else None,
        engine=hint.engine if hint else None,
        successful=hint.job_finished_successfully if hint else None,
        error_message=hint.generation_error_message if hint else None,
        fallback_reason=fallback,
        leak_guard=leak_guard if isinstance(leak_guard, dict) else None,
        notes=pretty_json(notes) if notes else None,
        report_attempts=hint.report_attempts if hint else 0,
        reported_at=hint.reported_at if hint else None,
        callback_note=_callback_note(s),
    )


def program_text(s: StoredRequest, which: str) -> str | None:
    """The full text of the student's program ("student") or of a candidate (its id)."""
    if which == "student":
        return s.request.student_program
    if which.isdigit():
        found = next((c for c in s.candidates if c.id == int(which)), None)
        return found.program if found is not None else None
    return None
