"""The life of a hint request: its stages, its steps, and what it needs next.

This module is the whole workflow. `advance(state)` reads what is stored about one
request and returns the steps it needs now; the workers run a step only when it is due
and then send what became due, and the periodic sweep re-sends the due steps of
requests that stopped moving. Nothing else decides what comes next.

    PENDING ──(evidence complete: the one claim)──▶ HINT_CLAIMED ──▶ FINISHED
      │ run_student_program        (student's run stored)
      │ query_for_enhanced_programs (a phase of candidates: LLM and known-correct programs)
      │ run_enhanced_program       (every candidate judged)
      │ add_reflection             (the student's reflection, or its wait expired)
      │                              generate_hint ──▶ return_hint (callback)
      └── a correct program for plan/debug, a step that failed for good, or the
          deadline: FINISHED at once

The model cascade (a cheaper model first, the configured one when none of the cheaper
model's programs passes) is the only loop: a second enhancement phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hint_core.enums import Engine, HintType


class Stage(StrEnum):
    PENDING = "pending"  # gathering evidence
    HINT_CLAIMED = "hint_claimed"  # the evidence is complete; one generate_hint writes the hint
    FINISHED = "finished"  # the one final Hint is stored (a hint or a failure)


class Step(StrEnum):
    """The pipeline's steps, in order; each is one Dramatiq actor of the same name."""

    RUN_STUDENT_PROGRAM = "run_student_program"
    QUERY_FOR_ENHANCED_PROGRAMS = "query_for_enhanced_programs"
    RUN_ENHANCED_PROGRAM = "run_enhanced_program"
    ADD_REFLECTION = "add_reflection"
    GENERATE_HINT = "generate_hint"
    RETURN_HINT = "return_hint"


@dataclass(frozen=True)
class RequestState:
    """What is stored about one request, as far as its next steps are concerned.

    Loaded in one statement (a consistent snapshot): "no candidate waits for a verdict"
    is only meaningful together with "which phases exist".
    """

    pk: int
    request_id: int
    stage: Stage
    hint_type: HintType
    student_run: bool = False  # the student's run is stored
    student_correct: bool = False  # ... and it passed every test
    last_attempt: int = 0  # the latest enhancement phase stored (0: none yet)
    last_engine: Engine | None = None  # who answered that phase
    first_llm_passed: bool = False  # a program of the first phase's LLM passed every test
    unevaluated: int = 0  # candidates stored and not judged yet
    cascade: bool = False  # program generation asks a cheaper model first (ai_config)
    reflection: bool = False  # the reflection is stored
    reflection_expired: bool = False  # ... or the wait for it is over
    report_wanted: bool = False  # finished, a callback URL is set, orchestration not told yet

    @property
    def escalation_due(self) -> bool:
        """The cascade's cheaper model answered, its programs are judged, and none passed."""
        return (
            self.cascade and self.last_attempt == 1 and self.last_engine == Engine.OPENAI
            and self.unevaluated == 0 and not self.first_llm_passed
        )

    @property
    def candidates_settled(self) -> bool:
        """No more candidates will come and every one is judged."""
        return self.last_attempt > 0 and self.unevaluated == 0 and not self.escalation_due

    @property
    def evidence_complete(self) -> bool:
        """What the hint is built on: the student's run, the judged candidates, the reflection."""
        return self.student_run and self.candidates_settled and (self.reflection or self.reflection_expired)

    @property
    def already_correct(self) -> bool:
        """A correct program gets "already correct" at once instead of a plan/debug hint."""
        return self.student_correct and self.hint_type.repairs

    @property
    def next_attempt(self) -> int:
        return self.last_attempt + 1


def advance(state: RequestState) -> list[Step]:
    """The steps `state` needs now (each idempotent: a step already under way is harmless)."""
    if state.stage is Stage.FINISHED:
        return [Step.RETURN_HINT] if state.report_wanted else []
    if state.stage is Stage.HINT_CLAIMED:
        return [Step.GENERATE_HINT]
    if state.already_correct:
        return [Step.RUN_STUDENT_PROGRAM]  # it ends the request with "already correct"
    due = []
    if not state.student_run:
        due.append(Step.RUN_STUDENT_PROGRAM)
    if state.last_attempt == 0 or state.escalation_due:
        due.append(Step.QUERY_FOR_ENHANCED_PROGRAMS)
    if state.unevaluated:
        due.append(Step.RUN_ENHANCED_PROGRAM)
    if state.evidence_complete:
        due.append(Step.GENERATE_HINT)  # from PENDING it first claims HINT_CLAIMED (one sender wins)
    return due


def initial_steps(hint_type: HintType) -> list[Step]:
    """What a newly stored request needs: sent by the API right after storing it."""
    return advance(RequestState(pk=0, request_id=0, stage=Stage.PENDING, hint_type=hint_type))


def waiting_for(state: RequestState) -> str:
    """The step a request waits on, in words for an error message ("deadline exceeded while ...")."""
    due = advance(state)
    if due:
        return due[0].value
    return Step.ADD_REFLECTION.value if state.stage is Stage.PENDING else "nothing"
