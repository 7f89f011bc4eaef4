"""Running the lifecycle: load a request's state, do a step if it is due, send what became due.

Every actor is `process(step)`: if the step is due (per `lifecycle.advance`) it does
the step's work (under a lease for costly work), then sends the steps its work made
due. The sweep calls `resend` for requests that stopped moving. A step that enters a
stage (generate_hint claims HINT_CLAIMED) is sent only by whoever wins that
transition, so the steps that complete the evidence at the same moment send it once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from peewee import JOIN, fn

from hint_actors import leases
from hint_actors.leases import Leases
from hint_actors.pipeline import STEPS, StepSpec
from hint_core.engines import cascades
from hint_core.enums import Engine, HintType, Source
from hint_core.lifecycle import RequestState, Stage, Step, advance
from models import EnhancedProgram, Hint, ProgramEnhancementPhase, Reflection, Request, utcnow
from runtime import Runtime

log = logging.getLogger("hint.flow")


def load_state(rt: Runtime, request_pk: int) -> RequestState | None:
    """The request's state in one statement: a consistent snapshot (see RequestState)."""
    phase, program = ProgramEnhancementPhase, EnhancedProgram
    here = Request.id
    last_attempt = phase.select(fn.MAX(phase.attempt)).where(phase.request == here)
    last_engine = phase.select(phase.engine).where(phase.request == here).order_by(phase.attempt.desc()).limit(1)
    unevaluated = program.select(fn.COUNT(program.id)).where((program.request == here) & program.evaluated_at.is_null())
    first_llm_passed = program.select(program.id).join(phase, on=(program.phase == phase.id)).where(
        (phase.request == here) & (phase.attempt == 1) & (program.source == Source.LLM) & (program.correct == True)  # noqa: E712 - SQL, not Python
    )
    reflection = Reflection.select(Reflection.id).where(Reflection.request == here)
    row = (
        Request.select(
            Request.id, Request.request_id, Request.stage, Request.hint_type, Request.student_run_at,
            Request.student_correct, Request.reflection_deadline_at,
            fn.COALESCE(last_attempt, 0).alias("last_attempt"), last_engine.alias("last_engine"),
            fn.COALESCE(unevaluated, 0).alias("unevaluated"), fn.EXISTS(first_llm_passed).alias("first_llm_passed"),
            fn.EXISTS(reflection).alias("has_reflection"), Hint.id.alias("hint_id"), Hint.reported_at,
        )
        .join(Hint, JOIN.LEFT_OUTER, on=(Hint.request == Request.id))
        .where(Request.id == request_pk)
        .dicts()
        .first()
    )
    if row is None:
        return None
    stage = Stage(row["stage"])
    return RequestState(
        pk=row["id"], request_id=row["request_id"], stage=stage, hint_type=HintType(row["hint_type"]),
        student_run=row["student_run_at"] is not None, student_correct=bool(row["student_correct"]),
        last_attempt=row["last_attempt"], last_engine=Engine(row["last_engine"]) if row["last_engine"] else None,
         first_llm_passed=bool(row["first_llm_passed"]),
        unevaluated=row["unevaluated"], cascade=cascades(rt.services.ai),
        reflection=bool(row["has_reflection"]), reflection_expired=row["reflection_deadline_at"] <= utcnow(),
        report_wanted=(
            stage is Stage.FINISHED and bool(rt.settings.save_hint_url)
            and row["hint_id"] is not None and row["reported_at"] is None
        ),
    )


def process(rt: Runtime, held: Leases, spec: StepSpec, request_pk: int) -> None:
    """What every actor does: the step's work if it is due, then whatever became due."""
    before = load_state(rt, request_pk)
    if before is None:
        log.info("request pk %s: %s: no such request (deleted)", request_pk, spec.step)
        return
    after = before
    if spec.work is not None and spec.step in advance(before):
        if spec.lease is None:
            spec.work(rt, before)
        else:
            with held.hold(request_pk, spec.step, spec.lease(before)):  # Busy while another worker holds it
                # Look again under the lease: the work may have been done while we waited.
                current = load_state(rt, request_pk)
                if current is not None and spec.step in advance(current):
                    spec.work(rt, current)
        after = load_state(rt, request_pk) or before
    follow_up(rt, before, after, spec.follows)


def give_up(rt: Runtime, spec: StepSpec, request_pk: int, cause: str) -> None:
    """A step's retries are used up: its give-up handling, then whatever became due."""
    before = load_state(rt, request_pk)
    if before is None:
        return
    spec.give_up(rt, request_pk, spec.step, cause)
    follow_up(rt, before, load_state(rt, request_pk) or before, spec.follows)


def follow_up(rt: Runtime, before: RequestState, after: RequestState, follows: Collection[Step]) -> None:
    """Send the steps among `follows` that `after` needs and `before` did not: this
    delivery's doing. A step that enters a stage goes to whoever wins the transition."""
    already = set(advance(before))
    for step in advance(after):
        if step not in follows:
            continue  # someone else's work made it due; they send it
        if STEPS[step].enters is not None and after.stage is Stage.PENDING:
            _enter_and_send(rt, after, step)
        elif step not in already:
            rt.send(step, after.pk, after.request_id)


def resend(rt: Runtime, state: RequestState) -> list[Step]:
    """Send every step `state` needs that no live worker is doing (the sweep's move)."""
    sent = []
    for step in advance(state):
        if STEPS[step].lease is not None and leases.live(state.pk, step):
            continue
        if STEPS[step].enters is not None and state.stage is Stage.PENDING:
            if _enter_and_send(rt, state, step):
                sent.append(step)
        else:
            rt.send(step, state.pk, state.request_id)
            sent.append(step)
    return sent


def _enter_and_send(rt: Runtime, state: RequestState, step: Step) -> bool:
    """Move the request from PENDING into the step's stage; only the one who does sends it."""
    stage = STEPS[step].enters
    now = utcnow()
    changes = {"stage": stage, "updated_at": now}
    if stage is Stage.HINT_CLAIMED:
        changes["hint_claimed_at"] = now
    won = Request.update(**changes).where((Request.id == state.pk) & (Request.stage == Stage.PENDING)).execute()
    if won:
        log.info("request %s: evidence complete, %s", state.request_id, stage)
        rt.send(step, state.pk, state.request_id)
    return bool(won)
