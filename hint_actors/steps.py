"""The pipeline's steps over the database, free of Dramatiq so they are tested directly.

Each step is called only when `hint_core.lifecycle.advance` says it is due (see
flow.py), with the state it was due in. It loads what it needs, calls one domain
function outside any transaction (with its database connection given back while it
waits), and writes the result in a short transaction guarded against a concurrent
duplicate. It sends nothing: flow.py sends whatever became due.
"""

from __future__ import annotations

import logging

from peewee import Expression, Field, IntegrityError, ModelUpdate

from database import release_connection, through_outage, write_transaction
from hint_actors import pool_store
from hint_actors.callback import post_callback
from hint_actors.reuse_store import find_reusable
from hint_core.engines import Proposal, ProposedProgram, escalate_programs, propose_programs, write_hint
from hint_core.enums import Engine, Source
from hint_core.lifecycle import RequestState, Stage
from hint_core.pool import work_seconds
from hint_core.problems import Problem
from hint_core.prompts import HintContext
from hint_core.remote import REMOTE, RemoteExecutionFailed
from hint_core.reuse import reuse_key
from hint_core.sandbox import RunResult
from hint_core.selection import Candidate, select_candidate, token_distances
from models import (
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    utcnow,
)
from payloads import callback_payload
from runtime import Runtime

log = logging.getLogger("hint.steps")

ALREADY_CORRECT = "Your code seems already correct."
NOT_RUN = "not_run"  # the status of a program the course's handler could not run, for good


def _load(request_pk: int, *fields: Field) -> Request:
    """The request with only the columns a step reads (not the notebook, say)."""
    columns = (Request.id, Request.request_id, Request.problem_id, Request.hint_type, *fields)
    return Request.select(*columns).where(Request.id == request_pk).get()


def _touch(request_pk: int, **fields: object) -> ModelUpdate:
    """An update that also records progress (the sweep re-sends what shows none)."""
    return Request.update(updated_at=utcnow(), **fields).where(Request.id == request_pk)


def _problem(rt: Runtime, request: Request) -> Problem:
    return rt.services.problems.get(request.problem_id)


# --- the student's program ----------------------------------------------------------------


def run_student_program(rt: Runtime, state: RequestState) -> None:
    """Run the student's program against the tests; a correct one needs no plan/debug hint."""
    request = _load(state.pk, Request.student_program)
    if not state.student_run:
        problem = _problem(rt, request)
        release_connection()  # not needed while the program runs
        try:
            result = rt.executor.run(problem, request.student_program)
        except RemoteExecutionFailed as exc:  # for good: the hint goes on without the run's evidence
            result = RunResult(correct=False, status=NOT_RUN, error=f"could not be run: {exc.cause}", executor=REMOTE)
        log.info("request %s: student program %s in %.3fs", state.request_id, result.status, result.run_time)
        _touch(
            state.pk, student_run=result.to_dict(), student_correct=result.correct, student_run_at=utcnow()
        ).where(Request.student_run_at.is_null()).execute()  # a concurrent delivery's run stays
        pool_store.add_to_pool(problem, [(request.student_program, result, Source.STUDENT)], rt.executor.run,
                               state.request_id)
    correct = Request.select(Request.student_correct).where(Request.id == state.pk).scalar()
    if correct and state.hint_type.repairs:
        finish(state.pk, ALREADY_CORRECT, explanation="The program passes every test.", engine=Engine.TESTS)


# --- candidate programs ---------------------------------------------------------------------


def query_for_enhanced_programs(rt: Runtime, state: RequestState) -> None:
    """One phase of candidates: the LLM's (or the cascade's next model) and known-correct ones."""
    attempt = state.next_attempt
    request = _load(state.pk, Request.student_program)
    problem = _problem(rt, request)
    if attempt > 1:
        release_connection()  # not needed while the LLM answers
        log.info("request %s: no program of the cheaper model passed; escalating to %s", state.request_id,
                 rt.services.ai.program_generation.model)
        proposal = escalate_programs(
            rt.services, problem, state.hint_type, request.student_program, state.request_id, attempt
        )
        stale_ids: tuple[int, ...] = ()
    else:
        generation = rt.services.ai.program_generation
        pick = pool_store.pick_candidates(
            problem, state.hint_type, request.student_program, rt.services.ai.pool.candidates
        )
        reused = find_reusable(
            reuse_key(request.problem_id, state.hint_type, request.student_program),
            generation.reuse_window_seconds, generation.n, state.pk,
        ) if rt.services.llm else None
        release_connection()  # not needed while the LLM answers
        proposal = propose_programs(
            rt.services, problem, state.hint_type, request.student_program, state.request_id,
            pool=pick.offer, reused=reused,
        )
        stale_ids = pick.stale_ids
    _store_phase(request, attempt, proposal, stale_ids)


def _store_phase(request: Request, attempt: int, proposal: Proposal, stale_ids: tuple[int, ...]) -> None:
    """Store the phase and its candidates, unless another delivery stored it first."""
    record = proposal.record
    vouched = [p.program for p in proposal.programs if p.program is not None and p.verified is not None]
    distances = dict(zip(vouched, token_distances(request.student_program, vouched), strict=True))
    try:
        with write_transaction():
            phase = ProgramEnhancementPhase.create(
                request=request.id, attempt=attempt, completed_at=utcnow(),
                input_key=reuse_key(request.problem_id, request.hint_type, request.student_program),
                **record.__dict__,
            )
            now = utcnow()
            # One INSERT for all candidates (every row has the same keys, as insert_many needs).
            rows = [
                _candidate_row(phase, request.id, index, proposed, now, distances.get(proposed.program))
                for index, proposed in enumerate(proposal.programs)
            ]
            if rows:
                EnhancedProgram.insert_many(rows).execute()
            _touch(request.id).execute()
            # Stale entries now wait for their verdict as candidates; they come back
            # into the pool only if they pass the current tests.
            pool_store.drop(stale_ids)
    except IntegrityError:
        log.info("request %s: enhancement phase %d already stored by another delivery", request.request_id, attempt)
        return
    log.info(
        "request %s: %d candidate(s) from %s %s, attempt %d (%d LLM call(s), %d+%d tokens), %d verified by the pool",
        request.request_id, len(proposal.programs), record.engine, record.model or "", attempt,
        record.llm_calls, record.prompt_tokens, record.completion_tokens, len(vouched),
    )


def _candidate_row(
    phase: ProgramEnhancementPhase, request_pk: int, index: int, proposed: ProposedProgram, now: object,
    distance: int | None,
) -> dict[str, object]:
    """A new candidate: to be run, or already decided (no program, or the pool's verdict)."""
    row = {
        "phase": phase, "request": request_pk, "index": index, "source": proposed.source,
        "program": proposed.program, "invalid_reason": proposed.invalid_reason,
        "evaluated_at": None, "correct": None, "run_result": None, "run_time": None, "edit_distance": None,
    }
    if proposed.program is None:
        row.update(evaluated_at=now, correct=False)
    elif proposed.verified is not None:
        row.update(
            evaluated_at=now, correct=True, run_result=proposed.verified.to_dict(), run_time=proposed.verified.run_time,
            edit_distance=distance,
        )
    return row


def run_enhanced_program(rt: Runtime, state: RequestState) -> None:
    """Run the request's candidates not judged yet, side by side, and record each verdict.

    One message per request rather than per candidate: a message costs the worker more
    CPU than running a small program does. A sandbox failure (not anything a program
    does) is raised after the others are recorded, so a retry runs only what is left.
    """
    columns = (EnhancedProgram.id, EnhancedProgram.index, EnhancedProgram.source, EnhancedProgram.program)
    pending = list(EnhancedProgram.select(*columns).where(
        (EnhancedProgram.request == state.pk) & EnhancedProgram.evaluated_at.is_null()
    ))
    if not pending:
        return
    request = _load(state.pk, Request.student_program)
    problem = _problem(rt, request)
    release_connection()  # not needed while the programs run
    outcomes = rt.run_side_by_side(problem, [c.program for c in pending])
    done = [(c, r) for c, r in zip(pending, outcomes, strict=True) if isinstance(r, RunResult)]
    _record_verdicts(request, done)
    # Orchestration could not run these, for good: they count as incorrect, the request goes on.
    for candidate, failure in zip(pending, outcomes, strict=True):
        if isinstance(failure, RemoteExecutionFailed):
            _could_not_run(EnhancedProgram.id == candidate.id, failure.cause)
    joined = pool_store.add_to_pool(problem, [(c.program, r, c.source) for c, r in done], rt.executor.run,
                                    state.request_id)
    log.info(
        "request %s: candidates %s; %d joined the pool", state.request_id,
        ", ".join(f"{c.index} ({c.source}) {r.status} in {r.run_time:.3f}s" for c, r in done) or "none run", joined,
    )
    failed = [r for r in outcomes if not isinstance(r, RunResult | RemoteExecutionFailed)]
    if failed:
        raise failed[0]  # the executor's own failure (or a busy one): the retry runs only these


def _record_verdicts(request: Request, done: list[tuple[EnhancedProgram, RunResult]]) -> None:
    if not done:
        return
    now = utcnow()
    distances = token_distances(request.student_program, [c.program or "" for c, _ in done])
    with write_transaction():
        for (candidate, result), distance in zip(done, distances, strict=True):
            EnhancedProgram.update(
                evaluated_at=now,
                correct=result.correct,
                run_result=result.to_dict(),
                run_time=work_seconds(result),  # what optimize compares: the program's work, not start-up
                edit_distance=distance,
            ).where((EnhancedProgram.id == candidate.id) & EnhancedProgram.evaluated_at.is_null()).execute()
        _touch(request.id).execute()


def _could_not_run(which: Expression, cause: str) -> None:
    EnhancedProgram.update(evaluated_at=utcnow(), correct=False, invalid_reason=f"could not be run: {cause}").where(
        which & EnhancedProgram.evaluated_at.is_null()
    ).execute()


def give_up_candidates(rt: Runtime, request_pk: int, cause: str) -> None:
    """Candidates that cannot be run count as incorrect; the request goes on without them."""
    _could_not_run(EnhancedProgram.request == request_pk, cause)
    _touch(request_pk).execute()


# --- the hint ----------------------------------------------------------------------------------


def _correct_candidates(request_pk: int) -> list[Candidate]:
    columns = (EnhancedProgram.id, EnhancedProgram.program, EnhancedProgram.run_time, EnhancedProgram.edit_distance)
    rows = EnhancedProgram.select(*columns).where(
        (EnhancedProgram.request == request_pk) & (EnhancedProgram.correct == True)  # noqa: E712 - SQL, not Python
    )
    return [Candidate(row.id, row.program, row.run_time or 0.0, row.edit_distance) for row in rows]


def generate_hint(rt: Runtime, state: RequestState) -> None:
    """Write the hint from the complete evidence and store it as the request's final Hint."""
    request = _load(state.pk, Request.student_program, Request.student_run)
    services = rt.services
    problem = _problem(rt, request)
    correct = _correct_candidates(state.pk)
    selected = select_candidate(state.hint_type, request.student_program, correct)
    reflection = Reflection.get_or_none(Reflection.request == state.pk)
    # The leak guard compares the hint with every correct program known, not only the selected one.
    known = (*(c.program for c in correct), *problem.solutions, *pool_store.known_programs(problem))
    ctx = HintContext(
        problem=problem,
        hint_type=state.hint_type,
        student_program=request.student_program,
        student_run=RunResult.from_dict(request.student_run) if request.student_run else None,
        reflection_question=reflection.reflection_question if reflection else None,
        reflection_answer=reflection.reflection_answer if reflection else None,
        selected_program=selected.program if selected else None,
        min_reflection_words=services.ai.prompts.min_reflection_words,
        max_output_chars=services.ai.prompts.max_output_chars,
        known_programs=tuple(dict.fromkeys(known)),
    )
    release_connection()  # not needed while the LLM answers
    draft = write_hint(services, ctx, selected.run_time if selected else None, state.request_id, rt.executor.run)
    try:
        with write_transaction():
            # The phase and the hint commit together, so a request has one phase at most.
            HintGenerationPhase.create(
                request=state.pk, attempt=1, selected_program=selected.key if selected else None,
                explanation=draft.explanation, hint=draft.hint, notes=draft.notes, completed_at=utcnow(),
                **draft.record.__dict__,
            )
            Hint.create(
                request=state.pk, hint=draft.hint, explanation=draft.explanation,
                engine=draft.record.engine, job_finished_successfully=True,
            )
            _touch(state.pk, stage=Stage.FINISHED).execute()
    except IntegrityError:
        log.info("request %s: hint already stored by another delivery", state.request_id)
        return
    log.info("request %s: hint written by the %s engine", state.request_id, draft.record.engine)


def finish(request_pk: int, hint: str, explanation: str, engine: Engine) -> bool:
    """Store the final successful hint directly (no generation phase needed); False if it ended already."""
    try:
        with write_transaction():
            Hint.create(request=request_pk, hint=hint, explanation=explanation, engine=engine,
                        job_finished_successfully=True)
            _touch(request_pk, stage=Stage.FINISHED).execute()
    except IntegrityError:
        return False
    return True


def fail_request(request_pk: int, message: str) -> bool:
    """End a request with the one failed Hint that says why; False if it had ended already."""
    request_id = Request.select(Request.request_id).where(Request.id == request_pk).scalar()
    if request_id is None:
        return False
    try:
        with write_transaction():
            Hint.create(request=request_pk, job_finished_successfully=False, generation_error_message=message)
            _touch(request_pk, stage=Stage.FINISHED).execute()
    except IntegrityError:
        return False
    log.warning("request %s: failed: %s", request_id, message)
    return True


# --- reporting -------------------------------------------------------------------------------------


def return_hint(rt: Runtime, state: RequestState) -> None:
    """POST the final hint to orchestration; raising makes Dramatiq retry with growing pauses."""
    hint = Hint.select(Hint.id).where(Hint.request == state.pk).get()
    Hint.update(report_attempts=Hint.report_attempts + 1).where(Hint.id == hint.id).execute()
    payload = callback_payload(Request.get_by_id(state.pk), rt.settings.callback_detail, rt.services.ai.pricing)
    post_callback(rt.settings, payload)  # raises CallbackFailed
    # Orchestration has it now: record that even through a database restart, or the
    # retry would post it a second time.
    through_outage(Hint.update(reported_at=utcnow()).where((Hint.id == hint.id) & Hint.reported_at.is_null()).execute)
    log.info("request %s: hint reported to orchestration", state.request_id)
