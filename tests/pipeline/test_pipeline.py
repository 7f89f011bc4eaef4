"""The whole pipeline in this process: HTTP API -> in-process broker -> worker -> hint."""

from __future__ import annotations

import datetime as dt

import pytest

from hint_actors import flow, sweep
from hint_actors.leases import Leases
from hint_actors.pipeline import STEPS
from hint_core.lifecycle import Step
from models import EnhancedProgram, Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, utcnow
from runtime import build
from tests.helpers import BUGGY_FACTORIAL, CORRECT_FACTORIAL, api_client, ask, join, queued, status


def test_debug_request_gets_offline_hint_naming_the_failing_test(client, runtime, worker):
    ask(client, 1, BUGGY_FACTORIAL)
    join(runtime)
    answer = status(client, 1)
    assert answer["job_finished"] and answer["job_finished_successfully"]
    assert "factorial(0) returned 0, expected 1" in answer["hint"]
    assert "result = 1" not in answer["hint"]  # no solution code
    trace = client.get("/ai_hint/trace/?request_id=1").get_json()
    assert trace["hint"]["engine"] == "offline"
    assert trace["hint_generation_phase"]["engine"] == "offline"
    assert trace["request"]["student_run"]["status"] == "wrong_answer"
    assert all(p["source"] == "reference" and p["correct"] for p in trace["enhanced_programs"])
    # The selected program is a verified-correct candidate.
    selected = trace["hint_generation_phase"]["selected_program"]
    assert selected in {p["id"] for p in trace["enhanced_programs"] if p["correct"]}


def test_correct_program_is_told_so_at_once(client, runtime, worker):
    ask(client, 2, CORRECT_FACTORIAL, hint_type="plan")
    join(runtime)
    answer = status(client, 2)
    assert answer["hint"] == "Your code seems already correct."
    assert Hint.select().count() == 1


def test_optimize_compares_with_the_fastest_correct_candidate(client, runtime, worker):
    ask(client, 3, CORRECT_FACTORIAL, hint_type="optimize")
    join(runtime)
    answer = status(client, 3)
    assert answer["job_finished_successfully"], answer
    phase = HintGenerationPhase.get()
    times = [p.run_time for p in EnhancedProgram.select().where(EnhancedProgram.correct == True)]  # noqa: E712
    assert phase.selected_program.run_time == min(times)


def test_missing_reflection_lets_the_hint_go_ahead_after_the_wait(client, runtime, worker):
    ask(client, 4, BUGGY_FACTORIAL, reflection=False)
    join(runtime)
    assert not status(client, 4)["job_finished"]  # waiting for the reflection
    # The wait is measured against the stored deadline, so move it instead of the clock.
    Request.update(reflection_deadline_at=utcnow() - dt.timedelta(seconds=1)).execute()
    worker.pause()
    sweep.sweep(runtime)
    assert queued(runtime) == ["generate_hint"]
    assert Request.get().stage == "hint_claimed"
    worker.resume()
    join(runtime)
    assert status(client, 4)["job_finished_successfully"]


def test_request_past_its_deadline_ends_with_one_failed_hint(client, runtime, worker):
    ask(client, 5, BUGGY_FACTORIAL, reflection=False)
    join(runtime)
    Request.update(deadline_at=utcnow() - dt.timedelta(seconds=1)).execute()
    worker.pause()
    sweep.sweep(runtime)
    sweep.sweep(runtime)  # a second pass changes nothing
    answer = status(client, 5)
    assert answer["job_finished"] and answer["job_finished_successfully"] is False
    assert "deadline exceeded while waiting for add_reflection" in answer["generation_error_message"]
    assert Hint.select().count() == 1
    assert queued(runtime) == []  # no callback URL configured: polling needs no return_hint message
    worker.resume()


class BrokenExecutor:
    def run(self, problem, program):
        raise RuntimeError("sandbox exploded")


@pytest.fixture
def broken_runtime(settings, services):
    return build(settings, services=services, executor=BrokenExecutor())


def test_a_step_that_keeps_failing_ends_the_request_with_a_clear_error(broken_runtime, monkeypatch):
    from hint_actors import worker as hint_worker

    client = api_client(broken_runtime)
    started = hint_worker.start(broken_runtime, threads=2)
    try:
        for step in (Step.RUN_STUDENT_PROGRAM, Step.RUN_ENHANCED_PROGRAM):
            monkeypatch.setitem(broken_runtime.broker.get_actor(step).options, "max_retries", 0)
        ask(client, 6, BUGGY_FACTORIAL)
        join(broken_runtime)
    finally:
        started.stop()
    answer = status(client, 6)
    assert answer["job_finished"] and answer["job_finished_successfully"] is False
    assert answer["generation_error_message"] == "run_student_program failed: RuntimeError: sandbox exploded"
    assert Hint.select().count() == 1


def test_every_step_is_safe_to_run_twice(client, runtime, worker):
    ask(client, 7, BUGGY_FACTORIAL)
    join(runtime)
    request = Request.get()
    first_hint = Hint.get()
    worker.pause()
    for step in Step:
        flow.process(runtime, Leases(runtime.settings.lease_seconds), STEPS[step], request.id)
    assert queued(runtime) == []  # nothing was due, so nothing was sent
    worker.resume()
    assert ProgramEnhancementPhase.select().count() == 1
    assert HintGenerationPhase.select().count() == 1
    assert Hint.select().count() == 1 and Hint.get().id == first_hint.id
