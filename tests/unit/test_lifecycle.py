"""What a request needs next, decided from what is stored (hint_core/lifecycle.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hint_core.enums import Engine, HintType
from hint_core.lifecycle import RequestState, Stage, Step, advance, initial_steps, waiting_for

NEW = RequestState(pk=1, request_id=10, stage=Stage.PENDING, hint_type=HintType.DEBUG)
RAN = replace(NEW, student_run=True)
CANDIDATES_STORED = replace(RAN, last_attempt=1, last_engine=Engine.OPENAI, unevaluated=4)
JUDGED = replace(CANDIDATES_STORED, unevaluated=0, first_llm_passed=True)


def test_a_new_request_runs_the_program_and_asks_for_candidates():
    assert initial_steps(HintType.DEBUG) == [Step.RUN_STUDENT_PROGRAM, Step.QUERY_FOR_ENHANCED_PROGRAMS]
    assert advance(RAN) == [Step.QUERY_FOR_ENHANCED_PROGRAMS]


def test_stored_candidates_are_run_then_the_hint_waits_for_the_reflection():
    assert advance(CANDIDATES_STORED) == [Step.RUN_ENHANCED_PROGRAM]
    assert advance(JUDGED) == []  # everything is there but the reflection
    assert waiting_for(JUDGED) == "add_reflection"
    assert advance(replace(JUDGED, reflection=True)) == [Step.GENERATE_HINT]
    assert advance(replace(JUDGED, reflection_expired=True)) == [Step.GENERATE_HINT]


def test_the_hint_waits_for_the_students_run_too():
    early = replace(JUDGED, student_run=False, reflection=True)
    assert advance(early) == [Step.RUN_STUDENT_PROGRAM]


@pytest.mark.parametrize("hint_type, due", [
    (HintType.PLAN, [Step.RUN_STUDENT_PROGRAM]),  # it ends the request with "already correct"
    (HintType.DEBUG, [Step.RUN_STUDENT_PROGRAM]),
    (HintType.OPTIMIZE, [Step.GENERATE_HINT]),  # a correct program is what optimize is for
])
def test_a_correct_program_needs_no_plan_or_debug_hint(hint_type, due):
    state = replace(JUDGED, hint_type=hint_type, student_correct=True, reflection=True)
    assert advance(state) == due


def test_the_cascade_escalates_only_when_none_of_the_cheaper_models_programs_passed():
    cascade = replace(JUDGED, cascade=True, reflection=True)
    assert advance(cascade) == [Step.GENERATE_HINT]  # one of its programs passed
    failed = replace(cascade, first_llm_passed=False)
    assert failed.escalation_due and advance(failed) == [Step.QUERY_FOR_ENHANCED_PROGRAMS]
    assert failed.next_attempt == 2
    escalated = replace(failed, last_attempt=2, unevaluated=3)
    assert advance(escalated) == [Step.RUN_ENHANCED_PROGRAM]
    assert advance(replace(escalated, unevaluated=0)) == [Step.GENERATE_HINT]  # attempt 2 is final
    # Only an LLM phase escalates: one answered by the pool or from the cache is final.
    assert advance(replace(failed, last_engine=Engine.POOL)) == [Step.GENERATE_HINT]
    assert advance(replace(failed, cascade=False)) == [Step.GENERATE_HINT]


def test_a_claimed_request_writes_its_hint_and_a_finished_one_reports_it():
    assert advance(replace(JUDGED, stage=Stage.HINT_CLAIMED)) == [Step.GENERATE_HINT]
    finished = replace(JUDGED, stage=Stage.FINISHED)
    assert advance(finished) == []
    assert advance(replace(finished, report_wanted=True)) == [Step.RETURN_HINT]
