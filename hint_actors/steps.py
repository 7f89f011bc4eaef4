"""The pipeline steps over the database, free of Dramatiq so they can be tested directly.

Each step loads state, returns early when its result already exists (messages arrive at
least once), calls one domain function outside any transaction, writes the result in a
short transaction guarded against a concurrent duplicate, and returns the messages to
send next. The actor layer sends them only after the step returned, so a message never
refers to an uncommitted row.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import requests
from peewee import Expression, Field, IntegrityError, ModelUpdate, fn

from hint_actors import claims, pool_store
from hint_actors.reuse_store import find_reusable
from hint_actors.trace import callback_payload
from hint_core.engines import (
    Proposal,
    ProposedProgram,
    Services,
    cascades,
    escalate_programs,
    propose_programs,
    write_hint,
)
from hint_core.pool import work_seconds
from hint_core.problems import Problem
from hint_core.prompts import HintContext
from hint_core.reuse import reuse_key
from hint_core.sandbox import RunResult, run_program
from hint_core.selection import Candidate, select_candidate, token_distances
from models import (
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    release_connection,
    through_outage,
    utcnow,
    write_transaction,
)
from settings import Settings, get_settings

log = logging.getLogger("hint.steps")

ALREADY_CORRECT = "Your code seems already correct."


@dataclass(frozen=True)
class Next:
    """A message to send once the step's writes are committed."""

    actor: str
    arg: int


@cache
def get_services() -> Services:
    s = get_settings()
    return Services.build(
        s.ai_config_path, s.problem_bank_dir, s.problems_url, s.openai_api_key, s.openai_base_url,
        azure_endpoint=s.azure_openai_endpoint,  # Azure OpenAI (docs/llm.md)
        api_version=s.openai_api_version,
    )


def _problem(request: Request) -> Problem:
    return get_services().problems.get(request.problem_id)


def _load(request_pk: int, *fields: Field) -> Request:
    """The request with only the columns a step reads (not the notebook, say)."""
    columns = (Request.id, Request.request_id, Request.problem_id, Request.hint_type, Request.stage, *fields)
    return Request.select(*columns).where(Request.id == request_pk).get()


def _touch(request_pk: int, **fields: object) -> ModelUpdate:
    return Request.update(updated_at=utcnow(), **fields).where(Request.id == request_pk)


# --- step 1: the student's program ------------------------------------------------------


def run_student_program(request_pk: int) -> list[Next]:
    request = _load(request_pk, Request.student_program, Request.student_run_at, Request.student_correct)
    if request.student_run_at is None and request.stage == "pending":
        problem = _problem(request)
        release_connection()  # not needed while the program runs
        result = run_program(problem, request.student_program)
        log.info("request %s: student program %s in %.3fs", request.request_id, result.status, result.run_time)
        stored = _touch(
            request_pk, student_run=result.to_dict(), student_correct=result.correct, student_run_at=utcnow()
        ).where(Request.student_run_at.is_null()).execute()
        pool_store.add_to_pool(problem, [(request.student_program, result, "student")])
        if stored:
            request.student_correct = result.correct
        else:  # another delivery recorded its run first: go by that one
            request = _load(request_pk, Request.student_correct)
    if request.student_correct and request.hint_type in ("plan", "debug"):
        return finish(request, ALREADY_CORRECT, explanation="The program passes every test.", engine="tests")
    return check_barrier(request_pk, request.request_id)


# --- step 2: candidate programs ---------------------------------------------------------


def query_for_enhanced_programs(request_pk: int) -> list[Next]:
    request = _load(request_pk, Request.student_program, Request.enhancement_done_at)
    if request.stage != "pending":
        return []
    attempt = next_enhancement_attempt(request_pk) if request.enhancement_done_at is None else None
    if attempt is not None:
        services = get_services()
        # A second delivery must not ask the LLM again while the first still waits for it.
        if not claims.claim_llm_phase(request_pk, "query_for_enhanced_programs", services.ai.program_generation, attempt):
            log.info("request %s: candidates are being asked for by another delivery", request.request_id)
            return []
        proposal, stale_ids = _propose(request, services, attempt)
        # A cascade's first LLM phase is final only once its programs are verified (settle_enhancement).
        final = attempt > 1 or proposal.record.engine != "openai" or not cascades(services.ai)
        if _store_phase(request, attempt, proposal, final, stale_ids):
            # Just stored, so what is left is known without reading it back.
            if any(p.program is not None and p.verified is None for p in proposal.programs):
                return [Next("run_enhanced_program", request_pk)]  # the barrier waits for their verdicts
            return ([] if final else settle_enhancement(request_pk)) + check_barrier(request_pk, request.request_id)
    return candidates_to_run(request_pk) + settle_enhancement(request_pk) + check_barrier(request_pk, request.request_id)


def candidates_to_run(request_pk: int) -> list[Next]:
    """One message that runs every candidate of the request not evaluated yet, if any."""
    return [Next("run_enhanced_program", request_pk)] if not _all_evaluated(request_pk) else []


def _propose(request: Request, services: Services, attempt: int) -> tuple[Proposal, list[int]]:
    """The candidates of one attempt, and the stale pool entries they re-verify."""
    problem = _problem(request)
    if attempt > 1:
        release_connection()  # not needed while the LLM answers
        log.info("request %s: no program of the cheaper model passed; escalating to %s", request.request_id,
                 services.ai.program_generation.model)
        return escalate_programs(
            services, problem, request.hint_type, request.student_program, request.request_id, attempt
        ), []
    generation = services.ai.program_generation
    pick = pool_store.pick_candidates(problem, request.hint_type, request.student_program, services.ai.pool.candidates)
    reused = find_reusable(
        reuse_key(request.problem_id, request.hint_type, request.student_program),
        generation.reuse_window_seconds, generation.n, request.id,
    ) if services.llm else None
    release_connection()  # not needed while the LLM answers
    proposal = propose_programs(
        services, problem, request.hint_type, request.student_program, request.request_id, pool=pick.offer, reused=reused
    )
    return proposal, list(pick.stale_ids)


def _store_phase(request: Request, attempt: int, proposal: Proposal, final: bool, stale_ids: list[int]) -> bool:
    """Store the phase and its candidates; False when another delivery stored it first."""
    record = proposal.record
    key = reuse_key(request.problem_id, request.hint_type, request.student_program)
    vouched = [p.program for p in proposal.programs if p.program is not None and p.verified is not None]
    distances = dict(zip(vouched, token_distances(request.student_program, vouched), strict=True))
    try:
        with write_transaction():
            phase = ProgramEnhancementPhase.create(
                request=request.id, attempt=attempt, input_key=key, **record.__dict__, completed_at=utcnow()
            )
            now = utcnow()
            # One INSERT for all candidates (every row has the same keys, as insert_many needs).
            rows = [
                _candidate_row(phase, request.id, index, proposed, now, distances.get(proposed.program))
                for index, proposed in enumerate(proposal.programs)
            ]
            if rows:
                EnhancedProgram.insert_many(rows).execute()
            _touch(request.id, **({"enhancement_done_at": now} if final else {})).execute()
            # Stale entries now wait for their verdict as candidates; they come back
            # into the pool only if they pass the current tests.
            pool_store.drop(stale_ids)
    except IntegrityError:
        # A duplicate delivery stored its phase first; keep that one.
        log.info("request %s: enhancement phase %d already stored by another delivery", request.request_id, attempt)
        return False
    log.info(
        "request %s: %d candidate(s) from %s %s, attempt %d (%d LLM call(s), %d+%d tokens), %d verified by the pool",
        request.request_id, len(proposal.programs), record.engine, record.model or "", attempt,
        record.llm_calls, record.prompt_tokens, record.completion_tokens, len(vouched),
    )
    return True


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


# --- the model cascade --------------------------------------------------------------------


def _last_phase(request_pk: int) -> ProgramEnhancementPhase | None:
    return (
        ProgramEnhancementPhase.select()
        .where(ProgramEnhancementPhase.request == request_pk)
        .order_by(ProgramEnhancementPhase.attempt.desc())
        .first()
    )


def _all_evaluated(request_pk: int) -> bool:
    return not EnhancedProgram.select().where(
        (EnhancedProgram.request == request_pk) & EnhancedProgram.evaluated_at.is_null()
    ).exists()


def _escalation_due(phase: ProgramEnhancementPhase) -> bool:
    """A cascade's first LLM phase whose programs are all verified, none of them passing."""
    if phase.attempt != 1 or phase.engine != "openai" or not cascades(get_services().ai):
        return False
    if not _all_evaluated(phase.request_id):
        return False
    passed = EnhancedProgram.select().where(
        (EnhancedProgram.phase == phase.id) & (EnhancedProgram.source == "llm") & (EnhancedProgram.correct == True)  # noqa: E712
    )
    return not passed.exists()


def next_enhancement_attempt(request_pk: int) -> int | None:
    """The enhancement phase to ask for now: 1 at first, 2 when the cascade escalates, else None."""
    last = _last_phase(request_pk)
    if last is None:
        return 1
    return last.attempt + 1 if _escalation_due(last) else None


def settle_enhancement(request_pk: int) -> list[Next]:
    """Once a cascade's first phase is verified: done if the cheaper model's programs did, else escalate."""
    request = Request.get_by_id(request_pk)
    if request.enhancement_done_at is not None or request.stage != "pending":
        return []
    last = _last_phase(request_pk)
    if last is None or not _all_evaluated(request_pk):
        return []
    if _escalation_due(last):
        return [Next("query_for_enhanced_programs", request_pk)]
    _touch(request_pk, enhancement_done_at=utcnow()).where(Request.enhancement_done_at.is_null()).execute()
    return []


# --- step 3: the candidates -------------------------------------------------------------


def _unevaluated(request_pk: int) -> list[EnhancedProgram]:
    columns = (EnhancedProgram.id, EnhancedProgram.index, EnhancedProgram.source, EnhancedProgram.program)
    return list(
        EnhancedProgram.select(*columns).where((EnhancedProgram.request == request_pk) & EnhancedProgram.evaluated_at.is_null())
    )


def run_enhanced_program(request_pk: int) -> list[Next]:
    """Run the request's candidates not evaluated yet, side by side, and record each verdict.

    One message per request rather than per candidate: a message costs the worker more
    CPU than running a small program does. A sandbox failure (not anything a program
    does) is raised after the others are recorded, so a retry runs only what is left.
    """
    request = _load(request_pk, Request.student_program, Request.enhancement_done_at)
    pending = _unevaluated(request_pk) if request.stage == "pending" else []
    if pending:
        problem = _problem(request)
        release_connection()  # not needed while the programs run
        outcomes = _run_all(problem, [c.program for c in pending])
        done = [(c, r) for c, r in zip(pending, outcomes, strict=True) if isinstance(r, RunResult)]
        record_candidate_results(request, done)
        joined = pool_store.add_to_pool(problem, [(c.program, r, c.source) for c, r in done])
        log.info(
            "request %s: candidates %s; %d joined the pool", request.request_id,
            ", ".join(f"{c.index} ({c.source}) {r.status} in {r.run_time:.3f}s" for c, r in done) or "none run", joined,
        )
        failed = [r for r in outcomes if not isinstance(r, RunResult)]
        if failed:
            raise failed[0]
    # enhancement_done_at is never unset: once seen, there is nothing left to settle.
    settled = [] if request.enhancement_done_at is not None else settle_enhancement(request_pk)
    return settled + check_barrier(request_pk, request.request_id)


def _run_all(problem: Problem, programs: list[str]) -> list[RunResult | Exception]:
    """Each program's result, or the sandbox error that stopped it; programs run at once."""

    def run(program: str) -> RunResult | Exception:
        try:
            return run_program(problem, program)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which raises it
            return exc

    return list(_candidate_runner().map(run, programs))


@cache
def _candidate_runner() -> ThreadPoolExecutor:
    """Threads that wait on sandboxed candidate runs, shared by the worker's threads (a
    pool per message spent more CPU starting threads than the runs' own bookkeeping);
    as many as the sandbox server runs at once (its 64 slots)."""
    return ThreadPoolExecutor(max_workers=64, thread_name_prefix="candidate")


def record_candidate_results(request: Request, done: list[tuple[EnhancedProgram, RunResult]]) -> None:
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


def give_up_candidates(request_pk: int, cause: str) -> list[Next]:
    """Candidates that cannot be run count as incorrect; the request goes on without them."""
    EnhancedProgram.update(evaluated_at=utcnow(), correct=False, invalid_reason=f"could not be run: {cause}").where(
        (EnhancedProgram.request == request_pk) & EnhancedProgram.evaluated_at.is_null()
    ).execute()
    return settle_enhancement(request_pk) + check_barrier(request_pk)


# --- step 4: the reflection -------------------------------------------------------------


def add_reflection(request_pk: int) -> list[Next]:
    return check_barrier(request_pk)


# --- the barrier ------------------------------------------------------------------------


def evidence_complete(request_pk: int) -> Expression:
    """Student run, reflection (or its wait expired), enhancement phase, every candidate;
    as a condition on the request's row, so checking and claiming are one statement."""
    reflection = Reflection.select(Reflection.id).where(Reflection.request == request_pk)
    unevaluated = EnhancedProgram.select(EnhancedProgram.id).where(
        (EnhancedProgram.request == request_pk) & EnhancedProgram.evaluated_at.is_null()
    )
    return (
        Request.student_run_at.is_null(False)
        & Request.enhancement_done_at.is_null(False)
        & (fn.EXISTS(reflection) | (Request.reflection_deadline_at <= utcnow()))
        & ~fn.EXISTS(unevaluated)
    )


def check_barrier(request_pk: int, request_id: int | None = None) -> list[Next]:
    """Claim the hint stage when the evidence is complete; only one caller ever wins.

    Every step ends here, so the check and the claim are one conditional UPDATE instead
    of three reads and a write: it was the largest share of the workers' queries.
    """
    claimed = _touch(request_pk, stage="hint_claimed", hint_claimed_at=utcnow()).where(
        (Request.stage == "pending") & evidence_complete(request_pk)
    ).execute()
    if not claimed:
        return []
    if request_id is None:
        request_id = Request.select(Request.request_id).where(Request.id == request_pk).scalar()
    log.info("request %s: evidence complete, hint stage claimed", request_id)
    return [Next("generate_hint", request_pk)]


# --- step 5: the hint -------------------------------------------------------------------


def _correct_candidates(request_pk: int) -> list[Candidate]:
    columns = (EnhancedProgram.id, EnhancedProgram.program, EnhancedProgram.run_time, EnhancedProgram.edit_distance)
    rows = EnhancedProgram.select(*columns).where((EnhancedProgram.request == request_pk) & (EnhancedProgram.correct == True))  # noqa: E712
    return [Candidate(row.id, row.program, row.run_time or 0.0, row.edit_distance) for row in rows]


def generate_hint(request_pk: int) -> list[Next]:
    request = _load(request_pk, Request.student_program, Request.student_run)
    if request.stage == "finished":  # the hint is stored (by a first delivery, or a failure)
        return report(request_pk)
    if request.stage != "hint_claimed":
        return []
    if not claims.claim_llm_phase(request_pk, "generate_hint", get_services().ai.hint_generation):
        log.info("request %s: the hint is being written by another delivery", request.request_id)
        return []
    services = get_services()
    selected = select_candidate(request.hint_type, request.student_program, _correct_candidates(request_pk))
    reflection = Reflection.get_or_none(Reflection.request == request_pk)
    ctx = HintContext(
        problem=_problem(request),
        hint_type=request.hint_type,
        student_program=request.student_program,
        student_run=RunResult.from_dict(request.student_run) if request.student_run else None,
        reflection_question=reflection.reflection_question if reflection else None,
        reflection_answer=reflection.reflection_answer if reflection else None,
        selected_program=selected.program if selected else None,
        min_reflection_words=services.ai.prompts.min_reflection_words,
        max_output_chars=services.ai.prompts.max_output_chars,
    )
    release_connection()
    draft = write_hint(services, ctx, selected.run_time if selected else None, request.request_id)
    try:
        with write_transaction():
            # The phase and the hint commit together, so a request has one phase at most.
            HintGenerationPhase.create(
                request=request_pk, attempt=1, selected_program=selected.key if selected else None,
                explanation=draft.explanation, hint=draft.hint, notes=draft.notes, completed_at=utcnow(),
                **draft.record.__dict__,
            )
            Hint.create(
                request=request_pk, hint=draft.hint, explanation=draft.explanation,
                engine=draft.record.engine, job_finished_successfully=True,
            )
            _touch(request_pk, stage="finished").execute()
    except IntegrityError:
        log.info("request %s: hint already stored by another delivery", request.request_id)
    else:
        log.info("request %s: hint written by the %s engine", request.request_id, draft.record.engine)
    return report(request_pk)


def finish(request: Request, hint: str, explanation: str, engine: str) -> list[Next]:
    """Store the final successful hint directly (no generation phase needed)."""
    try:
        with write_transaction():
            Hint.create(request=request.id, hint=hint, explanation=explanation, engine=engine, job_finished_successfully=True)
            _touch(request.id, stage="finished").execute()
    except IntegrityError:
        pass
    return report(request.id)


# --- the failure path -------------------------------------------------------------------


def safe_cause(text: str, settings: Settings | None = None) -> str:
    """The last line of an error, without secrets, for a message shown to people."""
    settings = settings or get_settings()
    line = (text or "unknown error").strip().splitlines()[-1][:300]
    for secret in (settings.openai_api_key, settings.callback_token, settings.hint_api_token):
        if secret:
            line = line.replace(secret, "***")
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", line)


def fail_request(request_pk: int, message: str) -> list[Next]:
    """End a request with the one failed Hint that says why (no-op if it already ended)."""
    request = Request.get_or_none(Request.id == request_pk)
    if request is None:
        return []
    try:
        with write_transaction():
            Hint.create(request=request_pk, job_finished_successfully=False, generation_error_message=message)
            _touch(request_pk, stage="finished").execute()
    except IntegrityError:
        return []
    log.warning("request %s: failed: %s", request.request_id, message)
    return report(request_pk)


# --- step 6: reporting ------------------------------------------------------------------


def report(request_pk: int) -> list[Next]:
    """The callback message, when orchestration asked for callbacks (polling needs none)."""
    return [Next("return_hint", request_pk)] if get_settings().save_hint_url else []


class CallbackFailed(RuntimeError):
    pass


class ReportInProgress(RuntimeError):
    """Another delivery is posting this hint right now; try again once it is done."""


def return_hint(request_pk: int) -> list[Next]:
    """POST the final hint to orchestration, once; raising makes Dramatiq retry with backoff."""
    settings = get_settings()
    hint = Hint.get_or_none(Hint.request == request_pk)
    if hint is None or hint.reported_at is not None or not settings.save_hint_url:
        return []
    if not claims.claim(request_pk, "return_hint", claims.CALLBACK_CLAIM_SECONDS):
        raise ReportInProgress(f"request pk {request_pk}: another delivery is reporting this hint")
    request = Request.get_by_id(request_pk)
    payload = callback_payload(request)
    headers = {"Authorization": f"Bearer {settings.callback_token}"} if settings.callback_token else {}
    Hint.update(report_attempts=Hint.report_attempts + 1).where(Hint.id == hint.id).execute()
    try:
        reply = requests.post(settings.save_hint_url, json=payload, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise CallbackFailed(f"callback to orchestration failed: {type(exc).__name__}") from None
    if not 200 <= reply.status_code < 300:
        raise CallbackFailed(f"callback to orchestration answered HTTP {reply.status_code}")
    # Orchestration has it now: record that even through a database restart, or the
    # retry would post it a second time.
    through_outage(Hint.update(reported_at=utcnow()).where((Hint.id == hint.id) & Hint.reported_at.is_null()).execute)
    log.info("request %s: hint reported to orchestration", request.request_id)
    return []
