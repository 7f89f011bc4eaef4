"""Operator actions on stored requests (issue 13): re-run a finished request, and retention.

- `rerun(runtime, request_id)`: a finished request (failed, or with a hint an operator
  wants again) starts afresh. Its attempt (outcome, hint, explanation, candidates and
  their run results, LLM usage) is kept in `request_attempt`, its phases, candidates,
  hint and claims are deleted, the request goes back to its initial lifecycle state and
  its first steps are sent again; the callback is posted again when the new hint is
  stored. A request still running is refused (409), an unknown one is 404.
- `prune(older_than_days)`: deletes finished requests created more than that many days
  ago with every row that references them, in batches of short transactions, after adding
  their counts, latency, tokens and cost to `daily_figure` (per day, problem, hint type,
  engine and outcome) so cost reports and dashboards keep their history. Requests still
  running are never deleted; the pool of known-correct programs is not touched.

Used by `python -m scripts.rerun`, `python -m scripts.prune` and `POST /ai_hint/rerun/`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from peewee import fn

from hint_core.errors import HintServiceError
from hint_core.lifecycle import Stage, initial_steps
from models import (
    DailyFigure,
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    Outcome,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    RequestAttempt,
    StepClaim,
    db,
    utcnow,
)
from payloads import artifacts
from runtime import Runtime

log = logging.getLogger("hint.maintenance")

PRUNE_BATCH = 1000  # requests per transaction: short locks, bounded memory
NO_ENGINE = "-"  # daily_figure.engine of a request whose final answer names no engine

# Children first: hint phases point at candidates, candidates at their phase.
REQUEST_TABLES = (
    HintGenerationPhase, EnhancedProgram, ProgramEnhancementPhase, Hint, Reflection, StepClaim, RequestAttempt,
)


class MaintenanceError(HintServiceError):
    """An operator action that cannot be done; `status` is the HTTP answer it maps to."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Rerun:
    request_id: int
    attempt: int  # the number of the attempt now starting (2 for the first re-run)
    previous: dict[str, Any]  # what the finished attempt said, as stored in request_attempt
    steps: list[str]


def _attempt_summary(request: Request, pricing: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finished attempt's artifacts, without prompts and responses (the bulky part):
    candidates with their verdicts and run results, phases, LLM usage."""
    data = artifacts(request, pricing)
    keep_phase = ("attempt", "engine", "model", "n", "llm_calls", "prompt_tokens", "completion_tokens",
                  "waiting_seconds", "cost", "error", "created_at", "completed_at")
    summary = {
        "enhanced_programs": [
            {key: program.get(key) for key in ("index", "source", "program", "invalid_reason", "correct",
                                               "run_result", "run_time", "edit_distance")}
            for program in data["enhanced_programs"]
        ],
        "program_enhancement_phases": [{k: p.get(k) for k in keep_phase} for p in data["program_enhancement_phases"]],
        "hint_generation_phases": [
            {k: p.get(k) for k in (*keep_phase, "notes")} for p in data["hint_generation_phases"]
        ],
        "student_run": request.student_run,
        "student_correct": request.student_correct,
        "llm_usage": data["llm_usage"],
    }
    return summary, data["llm_usage"]["total"]


def rerun(runtime: Runtime, request_id: int, reason: str | None = None) -> Rerun:
    """Start a finished request again, keeping its finished attempt (see the module doc)."""
    request = Request.get_or_none(Request.request_id == request_id)
    if request is None:
        raise MaintenanceError(f"no request with request_id {request_id}", status=404)
    if request.stage is not Stage.FINISHED:
        raise MaintenanceError(
            f"request {request_id} is still running ({request.stage.value}); only a finished request can be re-run",
            status=409,
        )
    settings = runtime.settings
    with db.atomic():
        hint = Hint.get_or_none(Hint.request == request.id)
        summary, usage = _attempt_summary(request, runtime.services.ai.pricing)
        last = RequestAttempt.select().where(RequestAttempt.request == request.id).order_by(
            RequestAttempt.attempt.desc()
        ).first()
        now = utcnow()
        # One operator wins: the reset only applies to a request that is still finished.
        reset = Request.update(
            stage=Stage.PENDING, hint_claimed_at=None, student_run=None, student_correct=None, student_run_at=None,
            enqueued_at=None, updated_at=now,
            deadline_at=now + dt.timedelta(seconds=settings.request_deadline_seconds),
            reflection_deadline_at=now + dt.timedelta(seconds=settings.reflection_wait_seconds),
        ).where((Request.id == request.id) & (Request.stage == Stage.FINISHED)).execute()
        if not reset:
            raise MaintenanceError(
                f"request {request_id} changed meanwhile (another re-run, or deleted by retention)", status=409)
        previous = RequestAttempt.create(
            request=request.id,
            attempt=(last.attempt + 1) if last else 1,
            job_finished_successfully=hint.job_finished_successfully if hint else None,
            hint=hint.hint if hint else None,
            explanation=hint.explanation if hint else None,
            engine=hint.engine if hint else None,
            generation_error_message=hint.generation_error_message if hint else None,
            summary=summary,
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            cost=usage.get("cost"),
            started_at=last.archived_at if last else request.created_at,
            finished_at=hint.created_at if hint else None,
            archived_at=now,
            reason=reason,
        )
        for table in (HintGenerationPhase, EnhancedProgram, ProgramEnhancementPhase, Hint, StepClaim):
            table.delete().where(table.request == request.id).execute()
    steps = initial_steps(request.hint_type)
    for step in steps:  # a broker outage raises: the sweep sends the steps of a stalled pending request later
        runtime.send(step, request.id, request_id)
    Request.update(enqueued_at=utcnow()).where(Request.id == request.id).execute()
    log.info("request %s: re-run (attempt %d kept: %s)", request_id, previous.attempt,
             "hint" if previous.job_finished_successfully else "failed")
    return Rerun(request_id, previous.attempt + 1, previous_attempt(previous), [s.value for s in steps])


def previous_attempt(row: RequestAttempt) -> dict[str, Any]:
    """One kept attempt as JSON (the trace's `previous_attempts`)."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "attempt": row.attempt,
        "job_finished_successfully": row.job_finished_successfully,
        "hint": row.hint,
        "explanation": row.explanation,
        "engine": row.engine.value if row.engine else None,
        "generation_error_message": row.generation_error_message,
        "summary": row.summary,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost": row.cost,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "archived_at": iso(row.archived_at),
        "reason": row.reason,
    }


@dataclass
class Pruned:
    cutoff: dt.datetime
    dry_run: bool
    requests: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (or that would be)
    figures: int = 0  # daily_figure rows added to (or that would be)
    batches: int = 0
    days: list[str] = field(default_factory=list)


def _eligible(cutoff: dt.datetime) -> Any:
    return Request.select(Request.id).where((Request.stage == Stage.FINISHED) & (Request.created_at < cutoff))


def _figures(ids: list[int]) -> dict[tuple, dict[str, float]]:
    """The daily_figure increments of these requests, by (day, problem, hint type, engine, outcome)."""
    usage: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for table in (ProgramEnhancementPhase, HintGenerationPhase):
        rows = table.select(
            table.request, fn.SUM(table.prompt_tokens), fn.SUM(table.completion_tokens), fn.SUM(table.llm_calls),
            fn.SUM(table.cost), fn.COUNT(table.id) - fn.COUNT(table.cost),
        ).where(table.request.in_(ids)).group_by(table.request).tuples()
        for pk, prompt, completion, calls, cost, unpriced in rows:
            line = usage[pk]
            line["prompt_tokens"] += prompt or 0
            line["completion_tokens"] += completion or 0
            line["llm_calls"] += calls or 0
            line["cost"] += cost or 0.0
            line["unpriced_phases"] += unpriced or 0
    # Earlier attempts of re-run requests cost money too.
    attempts = RequestAttempt.select(
        RequestAttempt.request, fn.SUM(RequestAttempt.prompt_tokens), fn.SUM(RequestAttempt.completion_tokens),
        fn.SUM(RequestAttempt.cost),
    ).where(RequestAttempt.request.in_(ids)).group_by(RequestAttempt.request).tuples()
    for pk, prompt, completion, cost in attempts:
        usage[pk]["prompt_tokens"] += prompt or 0
        usage[pk]["completion_tokens"] += completion or 0
        usage[pk]["cost"] += cost or 0.0
    figures: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = (
        Request.select(Request.id, Request.problem_id, Request.hint_type, Request.created_at, Hint.engine,
                       Hint.job_finished_successfully, Hint.created_at.alias("hint_at"))
        .join(Hint, on=(Hint.request == Request.id))
        .where(Request.id.in_(ids))
        .objects()
    )
    for row in rows:
        outcome = Outcome.HINT if row.job_finished_successfully else Outcome.FAILED
        key = (row.created_at.date(), row.problem_id, row.hint_type, row.engine.value if row.engine else NO_ENGINE,
               outcome)
        line = figures[key]
        line["requests"] += 1
        line["latency_seconds"] += max(0.0, (row.hint_at - row.created_at).total_seconds())
        for name, value in usage.get(row.id, {}).items():
            line[name] += value
    return figures


def _add_figures(figures: dict[tuple, dict[str, float]]) -> None:
    columns = ("requests", "latency_seconds", "prompt_tokens", "completion_tokens", "llm_calls", "cost",
               "unpriced_phases")
    for (day, problem_id, hint_type, engine, outcome), values in figures.items():
        data = {name: values.get(name, 0) for name in columns}
        for name in ("requests", "prompt_tokens", "completion_tokens", "llm_calls", "unpriced_phases"):
            data[name] = int(data[name])
        key = {"day": day, "problem_id": problem_id, "hint_type": hint_type, "engine": engine, "outcome": outcome}
        # Insert, or add to the day's row (an earlier prune of the same day): one statement, race-free.
        DailyFigure.insert(**key, **data).on_conflict(
            conflict_target=[DailyFigure.day, DailyFigure.problem_id, DailyFigure.hint_type, DailyFigure.engine,
                             DailyFigure.outcome],
            update={getattr(DailyFigure, name): getattr(DailyFigure, name) + data[name] for name in columns},
        ).execute()


def prune(older_than_days: float, dry_run: bool = False, batch: int = PRUNE_BATCH,
          now: dt.datetime | None = None) -> Pruned:
    """Delete finished requests created more than `older_than_days` ago (see the module doc)."""
    if older_than_days < 0:
        raise MaintenanceError("--older-than must be a number of days, 0 or more", status=400)
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    report = Pruned(cutoff=cutoff, dry_run=dry_run)
    if dry_run:
        eligible = _eligible(cutoff)
        report.requests = eligible.count()
        for table in REQUEST_TABLES:
            report.rows[table._meta.table_name] = table.select().where(table.request.in_(eligible)).count()
        report.rows[Request._meta.table_name] = report.requests
        days = Request.select(fn.DISTINCT(fn.DATE(Request.created_at))).where(Request.id.in_(_eligible(cutoff)))
        report.days = sorted(str(day) for (day,) in days.tuples())
        return report
    days: set[str] = set()
    while True:
        with db.atomic():
            chosen = _eligible(cutoff).order_by(Request.id).limit(batch)
            if db.obj.for_update:  # PostgreSQL: a re-run of one of these waits, then finds it gone (404/409)
                chosen = chosen.for_update()
            ids = [pk for (pk,) in chosen.tuples()]
            if not ids:
                break
            figures = _figures(ids)
            _add_figures(figures)
            report.figures += len(figures)
            days.update(str(key[0]) for key in figures)
            for table in REQUEST_TABLES:
                deleted = table.delete().where(table.request.in_(ids)).execute()
                report.rows[table._meta.table_name] = report.rows.get(table._meta.table_name, 0) + deleted
            # Still finished (a re-run may have started meanwhile): never delete a running request.
            deleted = Request.delete().where(Request.id.in_(ids) & (Request.stage == Stage.FINISHED)).execute()
            report.rows[Request._meta.table_name] = report.rows.get(Request._meta.table_name, 0) + deleted
            report.requests += deleted
            report.batches += 1
    report.days = sorted(days)
    log.info("prune: %d requests created before %s deleted in %d batches", report.requests, cutoff.isoformat(),
             report.batches)
    return report
