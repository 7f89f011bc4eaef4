"""Every step of the pipeline, declared once: what it does and how it is run.

When a step is due is decided by `hint_core.lifecycle.advance`; what it does is a
function of steps.py; everything else about it is its entry here. The Dramatiq actors
are built from this table (actors.py), and its message priority is a setting
(`<STEP>_PRIORITY`, defaults in settings.py). Adding a step: a member of
`lifecycle.Step`, its condition in `advance`, a function, and an entry here.

`follows` lists the steps a step's work can make due: after it, only those are sent
(a step that merely saw another's work does not send on its behalf).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from hint_actors import steps
from hint_core.lifecycle import RequestState, Stage, Step
from runtime import Runtime

log = logging.getLogger("hint.pipeline")

SECOND_MS = 1000

Work = Callable[[Runtime, RequestState], None]
GiveUp = Callable[[Runtime, int, Step, str], None]
LeaseAttempt = Callable[[RequestState], int]


def end_request(rt: Runtime, request_pk: int, step: Step, cause: str) -> None:
    """The request cannot go on: it ends with one failed hint that names the step and the cause."""
    steps.fail_request(request_pk, f"{step} failed: {cause}")


def go_on_without_candidates(rt: Runtime, request_pk: int, step: Step, cause: str) -> None:
    steps.give_up_candidates(rt, request_pk, cause)


def leave_unreported(rt: Runtime, request_pk: int, step: Step, cause: str) -> None:
    # The hint is stored and can still be polled; the sweep tries again an hour later.
    log.error("request pk %s: giving up reporting the hint for now: %s", request_pk, cause)


def one_lease(state: RequestState) -> int:
    return 1


def lease_per_attempt(state: RequestState) -> int:
    return state.next_attempt  # a cascade's escalation is its own attempt with its own lease


@dataclass(frozen=True)
class StepSpec:
    step: Step
    work: Work | None  # None: an event; the step only looks at what is due now
    give_up: GiveUp  # when its retries are used up
    max_retries: int
    min_backoff_ms: int
    max_backoff_ms: int = 300 * SECOND_MS
    time_limit_ms: int = 600 * SECOND_MS
    follows: frozenset[Step] = frozenset()  # what its work (or giving up) can make due
    lease: LeaseAttempt | None = None  # costly work (LLM, callback) is leased, see leases.py
    enters: Stage | None = None  # sent only by whoever moves the request into this stage


# Every step may end its request (finished, or failed when it gives up): then the hint is reported.
ENDS = frozenset({Step.RETURN_HINT})

STEPS: dict[Step, StepSpec] = {spec.step: spec for spec in (
    StepSpec(Step.RUN_STUDENT_PROGRAM, steps.run_student_program, end_request,
             max_retries=3, min_backoff_ms=SECOND_MS, time_limit_ms=120 * SECOND_MS,
             follows=ENDS | {Step.GENERATE_HINT}),
    StepSpec(Step.QUERY_FOR_ENHANCED_PROGRAMS, steps.query_for_enhanced_programs, end_request,
             max_retries=3, min_backoff_ms=2 * SECOND_MS, lease=lease_per_attempt,
             follows=ENDS | {Step.RUN_ENHANCED_PROGRAM, Step.GENERATE_HINT}),
    StepSpec(Step.RUN_ENHANCED_PROGRAM, steps.run_enhanced_program, go_on_without_candidates,
             max_retries=3, min_backoff_ms=SECOND_MS, time_limit_ms=120 * SECOND_MS,
             follows=ENDS | {Step.QUERY_FOR_ENHANCED_PROGRAMS, Step.GENERATE_HINT}),  # the cascade escalates
    StepSpec(Step.ADD_REFLECTION, None, end_request, max_retries=5, min_backoff_ms=SECOND_MS,
             follows=ENDS | {Step.GENERATE_HINT}),
    StepSpec(Step.GENERATE_HINT, steps.generate_hint, end_request,
             max_retries=3, min_backoff_ms=2 * SECOND_MS, lease=one_lease, enters=Stage.HINT_CLAIMED,
             follows=ENDS),
    # Orchestration may be down for a while: keep trying with growing pauses (up to ~10 min apart).
    StepSpec(Step.RETURN_HINT, steps.return_hint, leave_unreported,
             max_retries=25, min_backoff_ms=SECOND_MS, max_backoff_ms=600 * SECOND_MS, lease=one_lease),
)}
