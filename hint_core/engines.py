"""The two engine-dependent steps of the pipeline, free of the database and the queue.

`propose_programs` gathers candidate programs (LLM and known-correct ones);
`write_hint` writes the hint from the evidence. Both return everything the audit trail
keeps (prompt, model, temperature, whole response, tokens, waiting time) as plain data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hint_core.ai_config import AIConfig, load_ai_config
from hint_core.llm import LLMClient, LLMError, ParseError, parse_hint, parse_program
from hint_core.offline import offline_hint
from hint_core.pool import PoolOffer
from hint_core.problems import Problem, ProblemBank, ProblemSource
from hint_core.prompts import PROGRAM_KEY, HintContext, hint_generation_messages, program_generation_messages

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the pipeline steps need, built once per process from settings."""

    problems: ProblemSource
    ai: AIConfig
    llm: LLMClient | None  # None: the offline engine

    @classmethod
    def build(
        cls,
        ai_config_path: Path,
        problem_bank_dir: Path,
        problems_url: str | None,
        openai_api_key: str | None,
        openai_base_url: str | None,
    ) -> Services:
        ai = load_ai_config(ai_config_path)
        llm = None
        if ai.use_llm(bool(openai_api_key or openai_base_url)):
            llm = LLMClient(openai_api_key, openai_base_url)
        return cls(ProblemSource(ProblemBank(problem_bank_dir), problems_url), ai, llm)


@dataclass
class ProposedProgram:
    source: str  # "llm", "reference" or "pool"
    program: str | None
    invalid_reason: str | None = None


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


@dataclass
class Proposal:
    record: PhaseRecord
    programs: list[ProposedProgram] = field(default_factory=list)


def propose_programs(
    svc: Services, problem: Problem, hint_type: str, student_program: str, request_id: object,
    pool: PoolOffer | None = None,
) -> Proposal:
    """Candidates for the hint: the LLM's (when configured) plus known-correct programs.

    Reference solutions and pool programs are always offered: they cost nothing, they are
    verified like any candidate, and they keep the pipeline going when the LLM answers
    nothing usable. When the pool already holds a program close enough to the student's
    (`pool.skip_llm_when_distance_at_most`), the LLM call is skipped for plan/debug.
    """
    pool = pool or PoolOffer()
    references = [ProposedProgram("reference", s) for s in problem.solutions]
    references += [ProposedProgram("pool", p) for p in pool.programs]
    if svc.llm is None:
        return Proposal(PhaseRecord(engine="offline"), references)
    threshold = svc.ai.pool.skip_llm_when_distance_at_most
    if threshold is not None and hint_type != "optimize" and pool.nearest_distance is not None \
            and pool.nearest_distance <= threshold:
        log.info("request %s: pool program %d token(s) away, LLM program call skipped", request_id, pool.nearest_distance)
        return Proposal(PhaseRecord(engine="pool"), references)

    phase = svc.ai.program_generation
    messages = program_generation_messages(problem, hint_type, student_program)
    record = PhaseRecord(engine="openai", model=phase.model, temperature=phase.temperature, n=phase.n, prompt=messages)
    try:
        reply = svc.llm.complete(messages, phase, n=phase.n, request_id=request_id)
    except LLMError as exc:
        if svc.ai.fallback != "offline":
            raise
        log.warning("request %s: program generation fell back to reference solutions: %s", request_id, exc)
        record.error = f"LLM unavailable, used reference solutions: {exc}"
        return Proposal(record, references)

    record.model = reply.model
    record.response = reply.raw
    record.prompt_tokens, record.completion_tokens = reply.prompt_tokens, reply.completion_tokens
    record.llm_calls, record.waiting_seconds = reply.calls, reply.latency
    programs = []
    for content in reply.contents:
        try:
            programs.append(ProposedProgram("llm", parse_program(content, PROGRAM_KEY[hint_type])))
        except ParseError as exc:
            programs.append(ProposedProgram("llm", None, str(exc)))
    return Proposal(record, programs + references)


@dataclass
class HintDraft:
    record: PhaseRecord
    explanation: str
    hint: str


def _offline_draft(ctx: HintContext, reference_run_time: float | None, error: str | None = None) -> HintDraft:
    made = offline_hint(
        ctx.problem, ctx.hint_type, ctx.student_program, ctx.student_run, ctx.selected_program, reference_run_time
    )
    return HintDraft(PhaseRecord(engine="offline", error=error), made.explanation, made.hint)


def write_hint(svc: Services, ctx: HintContext, reference_run_time: float | None, request_id: object) -> HintDraft:
    """The hint for a request whose evidence is complete."""
    if svc.llm is None:
        return _offline_draft(ctx, reference_run_time)

    phase = svc.ai.hint_generation
    messages = hint_generation_messages(ctx)
    record = PhaseRecord(engine="openai", model=phase.model, temperature=phase.temperature, n=1, prompt=messages)
    try:
        reply = svc.llm.complete(messages, phase, n=1, request_id=request_id)
        record.model, record.response = reply.model, reply.raw
        record.prompt_tokens, record.completion_tokens = reply.prompt_tokens, reply.completion_tokens
        record.llm_calls, record.waiting_seconds = reply.calls, reply.latency
        explanation, hint = parse_hint(reply.contents[0] if reply.contents else "")
        return HintDraft(record, explanation, hint)
    except (LLMError, ParseError) as exc:
        if svc.ai.fallback != "offline":
            raise LLMError(f"hint generation failed: {exc}") from None
        log.warning("request %s: hint generation fell back to the offline engine: %s", request_id, exc)
        return _offline_draft(ctx, reference_run_time, error=f"LLM hint failed, offline hint used: {exc}")
