"""What the service says about a request, as plain JSON, built in one place: the polling
status and the trace (web side) and the callback payload (worker side)."""

from __future__ import annotations

from typing import Any

from playhouse.shortcuts import model_to_dict

from hint_core.ai_config import PricingConfig
from hint_core.llm import usage_report
from models import EnhancedProgram, Hint, HintGenerationPhase, ProgramEnhancementPhase, Reflection, Request


def _row(row: Any, exclude: tuple = ()) -> dict[str, Any] | None:
    if row is None:
        return None
    data = model_to_dict(row, recurse=False, exclude=[getattr(type(row), name) for name in exclude])
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def hint_status(request: Request) -> dict[str, Any]:
    """The polling answer of `query_hint`."""
    hint = Hint.get_or_none(Hint.request == request.id)
    return {
        "request_id": request.request_id,
        "job_finished": hint is not None,
        "hint": hint.hint if hint else None,
        "job_finished_successfully": hint.job_finished_successfully if hint else None,
        "generation_error_message": hint.generation_error_message if hint else None,
    }


def artifacts(request: Request, pricing: PricingConfig) -> dict[str, Any]:
    """Every stored artifact of the request, in pipeline order, and what its LLM calls cost."""
    phases = ProgramEnhancementPhase.select().where(ProgramEnhancementPhase.request == request.id).order_by(
        ProgramEnhancementPhase.attempt
    )
    programs = EnhancedProgram.select().where(EnhancedProgram.request == request.id).order_by(
        EnhancedProgram.phase, EnhancedProgram.index
    )
    hint_phases = HintGenerationPhase.select().where(HintGenerationPhase.request == request.id).order_by(
        HintGenerationPhase.attempt
    )
    hint_phase_rows = [_row(p) for p in hint_phases]
    phase_rows = [_row(p) for p in phases]
    return {
        "request": _row(request, exclude=("payload_hash",)),
        "reflection": _row(Reflection.get_or_none(Reflection.request == request.id), exclude=("payload_hash",)),
        "program_enhancement_phase": phase_rows[-1] if phase_rows else None,
        "program_enhancement_phases": phase_rows,
        "enhanced_programs": [_row(p) for p in programs],
        "hint_generation_phase": hint_phase_rows[-1] if hint_phase_rows else None,
        "hint_generation_phases": hint_phase_rows,
        "hint": _row(Hint.get_or_none(Hint.request == request.id)),
        "llm_usage": usage_report(
            [("program_generation", p) for p in phase_rows] + [("hint_generation", p) for p in hint_phase_rows],
            pricing,
        ),
    }


# The other_hint_data keys, as the original backend sent them.
CALLBACK_KEYS = (
    "request", "reflection", "program_enhancement_phase", "enhanced_programs", "hint_generation_phase", "hint",
)
# CALLBACK_DETAIL=summary: per key, the columns kept (no program, prompt, response, test,
# reflection text or explanation: docs/security.md, "What leaves the service").
SUMMARY_COLUMNS = {
    "request": ("id", "request_id", "problem_id", "hint_type", "created_at", "student_correct", "stage"),
    "reflection": ("id", "created_at"),
    "program_enhancement_phase": ("id", "attempt", "engine", "model", "n", "llm_calls", "prompt_tokens",
                                  "completion_tokens", "waiting_seconds", "cost", "created_at", "completed_at"),
    "enhanced_programs": ("id", "index", "source", "correct", "run_time", "edit_distance"),
    "hint_generation_phase": ("id", "engine", "model", "llm_calls", "prompt_tokens", "completion_tokens",
                              "waiting_seconds", "cost", "selected_program", "created_at", "completed_at"),
    "hint": ("id", "engine", "job_finished_successfully", "created_at"),
}


def _summary(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_summary(key, item) for item in value]
    return {column: value.get(column) for column in SUMMARY_COLUMNS[key]}


def callback_payload(request: Request, detail: str, pricing: PricingConfig) -> dict[str, Any]:
    """What orchestration receives: the original's fields, with `other_hint_data` in full
    (every artifact, for orchestration's own records) or as a summary (CALLBACK_DETAIL)."""
    status = hint_status(request)
    data = artifacts(request, pricing)
    other = {key: data[key] for key in CALLBACK_KEYS}
    if detail == "summary":
        other = {key: _summary(key, value) for key, value in other.items()}
    return {
        "request_id": request.request_id,
        "hint": status["hint"],
        "job_finished_successfully": status["job_finished_successfully"],
        "generation_error_message": status["generation_error_message"],
        "other_hint_data": other,
    }
