"""The two engine-dependent steps of the pipeline, free of the database and the queue.

`propose_programs` gathers candidate programs (LLM and known-correct ones);
`write_hint` writes the hint from the evidence. Both return everything the audit trail
keeps (prompt, model, temperature, whole response, tokens, waiting time) as plain data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from hint_core.ai_config import AIConfig, PhaseConfig, PricingConfig
from hint_core.leak_guard import Runner
from hint_core.llm import LLMClient, LLMError, ParseError, Usage, parse_program
from hint_core.llm_hint import write_llm_hint
from hint_core.offline import offline_hint
from hint_core.pool import PoolOffer, Verified
from hint_core.problem_source import ProblemSource
from hint_core.problems import Problem
from hint_core.prompts import PROGRAM_KEY, HintContext, hint_generation_messages, program_generation_messages

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the pipeline steps need; `runtime.make_services` builds it from the settings."""

    problems: ProblemSource
    ai: AIConfig
    llm: LLMClient | None  # None: the offline engine



@dataclass
class ProposedProgram:
    source: str  # "llm", "reference" or "pool"
    program: str | None
    invalid_reason: str | None = None
    verified: Verified | None = None  # the pool's verdict under the current tests: no run needed


@dataclass
class PhaseRecord:
    """The audit fields of one LLM phase (or of the offline engine standing in for it)."""

    engine: str
    model: str | None = None
    temperature: float | None = None
    n: int | None = None
    prompt: Any = None
    response: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    waiting_seconds: float = 0.0
    error: str | None = None
    # Money at the prices of the moment (None: the model has no price); no column stores it yet.
    cost: float | None = 0.0

    def charge(self, usage: Usage, pricing: PricingConfig) -> None:
        """Take over what the phase's LLM calls cost and answered (`Usage` owns the columns)."""
        columns = usage.columns()
        columns["model"] = usage.model or self.model
        for name, value in columns.items():
            setattr(self, name, value)
        self.response = usage.responses
        self.cost = usage.cost(pricing)


@dataclass
class Proposal:
    record: PhaseRecord
    programs: list[ProposedProgram] = field(default_factory=list)


def cascades(ai: AIConfig) -> bool:
    """Is program generation a cascade (a cheaper model first, the configured one if needed)?"""
    phase = ai.program_generation
    return bool(phase.cheap_model) and phase.cheap_model != phase.model


def program_phase(ai: AIConfig, attempt: int) -> PhaseConfig:
    """The settings of one attempt at program generation: the cheap model first in a cascade."""
    phase = ai.program_generation
    return replace(phase, model=phase.cheap_model) if attempt == 1 and cascades(ai) else phase


def _llm_programs(
    svc: Services, problem: Problem, hint_type: str, student_program: str, request_id: object, attempt: int
) -> tuple[PhaseRecord, list[ProposedProgram]]:
    """Ask the LLM for candidates; an answer that does not parse is an invalid candidate."""
    assert svc.llm is not None
    phase = program_phase(svc.ai, attempt)
    messages = program_generation_messages(problem, hint_type, student_program)
    record = PhaseRecord(
        engine="openai", model=phase.model, temperature=phase.temperature, n=phase.n, prompt=messages
    )
    usage = Usage()
    try:
        reply = svc.llm.ask(messages, phase, usage, n=phase.n, request_id=request_id)
    except LLMError as exc:
        record.charge(usage, svc.ai.pricing)
        if svc.ai.fallback != "offline":
            raise
        log.warning("request %s: program generation by %s failed: %s", request_id, phase.model, exc)
        record.error = f"LLM unavailable, used known-correct programs only: {exc}"
        return record, []
    record.charge(usage, svc.ai.pricing)
    programs = []
    finishes = reply.finish_reasons + [None] * len(reply.contents)
    for content, finish in zip(reply.contents, finishes, strict=False):
        try:
            programs.append(ProposedProgram("llm", parse_program(content, PROGRAM_KEY[hint_type])))
        except ParseError as exc:
            cut = " (the answer was cut off at max_tokens)" if finish == "length" else ""
            programs.append(ProposedProgram("llm", None, f"{exc}{cut}"))
    return record, programs


def escalate_programs(
    svc: Services, problem: Problem, hint_type: str, student_program: str, request_id: object, attempt: int
) -> Proposal:
    """The next attempt of a cascade: the configured (stronger) model's candidates only;
    the known-correct programs were offered with the first attempt already."""
    record, programs = _llm_programs(svc, problem, hint_type, student_program, request_id, attempt)
    return Proposal(record, programs)


@dataclass(frozen=True)
class Reused:
    """Verified LLM programs of an identical earlier request, and the phases they came from."""

    programs: tuple[str, ...]
    phases: tuple[int, ...]


def _reuse(known: list[ProposedProgram], reused: Reused) -> Proposal:
    record = PhaseRecord(
        engine="cache", n=len(reused.programs), response={"reused_from_phases": list(reused.phases)}
    )
    fresh = [p for p in known if p.program not in reused.programs]
    return Proposal(record, [ProposedProgram("llm", p) for p in reused.programs] + fresh)


def propose_programs(
    svc: Services, problem: Problem, hint_type: str, student_program: str, request_id: object,
    pool: PoolOffer | None = None, reused: Reused | None = None,
) -> Proposal:
    """Candidates for the hint: the LLM's (when configured) plus known-correct programs.

    `reused` (verified programs of an identical earlier request) stands in for the LLM
    call: the same question is not paid for twice.

    Reference solutions and pool programs are always offered: they cost nothing, those the
    pool already verified against the current tests carry its verdict (the rest are run
    like any candidate), and they keep the pipeline going when the LLM answers nothing
    usable. When the pool already holds a program close enough to the student's
    (`pool.skip_llm_when_distance_at_most`), the LLM call is skipped for plan/debug.
    """
    pool = pool or PoolOffer()
    references = [ProposedProgram("reference", s, verified=pool.verified.get(s)) for s in problem.solutions]
    references += [ProposedProgram("pool", p, verified=pool.verified.get(p)) for p in pool.programs]
    if svc.llm is None:
        return Proposal(PhaseRecord(engine="offline"), references)
    if reused and reused.programs:
        log.info("request %s: reusing %d verified program(s) of an identical request",
                 request_id, len(reused.programs))
        return _reuse(references, reused)
    threshold = svc.ai.pool.skip_llm_when_distance_at_most
    if threshold is not None and hint_type != "optimize" and pool.nearest_distance is not None \
            and pool.nearest_distance <= threshold:
        log.info("request %s: pool program %d token(s) away, LLM program call skipped",
                 request_id, pool.nearest_distance)
        return Proposal(PhaseRecord(engine="pool"), references)

    record, programs = _llm_programs(svc, problem, hint_type, student_program, request_id, attempt=1)
    return Proposal(record, programs + references)


@dataclass
class HintDraft:
    record: PhaseRecord
    explanation: str
    hint: str
    notes: dict[str, Any] | None = None  # e.g. corrective retries, the leak guard's findings


def _offline_draft(
    ctx: HintContext, reference_run_time: float | None, error: str | None = None,
    record: PhaseRecord | None = None,
    notes: dict[str, Any] | None = None,
) -> HintDraft:
    """The offline engine's hint; `record` keeps what LLM calls before it cost."""
    made = offline_hint(
        ctx.problem, ctx.hint_type, ctx.student_program, ctx.student_run, ctx.selected_program,
        reference_run_time,
    )
    record = record or PhaseRecord(engine="offline")
    record.engine, record.error = "offline", error
    return HintDraft(record, made.explanation, made.hint, notes or None)


def write_hint(
    svc: Services, ctx: HintContext, reference_run_time: float | None, request_id: object, run: Runner
) -> HintDraft:
    """The hint for a request whose evidence is complete; `run` runs a program the leak
    guard wants to try (the runtime's executor)."""
    if svc.llm is None:
        return _offline_draft(ctx, reference_run_time)

    phase = svc.ai.hint_generation
    record = PhaseRecord(
        engine="openai", model=phase.model, temperature=phase.temperature, n=1,
        prompt=hint_generation_messages(ctx),
    )
    usage, notes = Usage(), {}
    try:
        written = write_llm_hint(svc.llm, phase, ctx, usage, notes, request_id, run)
    except (LLMError, ParseError) as exc:
        record.charge(usage, svc.ai.pricing)
        if svc.ai.fallback != "offline":
            raise LLMError(f"hint generation failed: {exc}") from None
        log.warning("request %s: hint generation fell back to the offline engine: %s", request_id, exc)
        error = f"LLM hint failed, offline hint used: {exc}"
        return _offline_draft(ctx, reference_run_time, error, record, notes)
    record.charge(usage, svc.ai.pricing)
    if written is None:  # the leak guard found no safe LLM hint; the offline one never carries code
        return _offline_draft(ctx, reference_run_time, "every LLM hint gave the solution away", record, notes)
    return HintDraft(record, written.explanation, written.hint, notes or None)
