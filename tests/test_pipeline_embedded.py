"""The whole pipeline in this process: HTTP API -> in-process broker -> worker -> hint."""

from __future__ import annotations

import datetime as dt

from hint_actors import steps, sweep
from models import EnhancedProgram, Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, utcnow
from tests.conftest import join

BUGGY_FACTORIAL = "def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
CORRECT_FACTORIAL = "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result\n"


def ask(client, request_id, program, hint_type="debug", problem_id="factorial", reflection=True):
    reply = client.post("/ai_hint/add_request/", json={
        "type": "add_request", "request_id": request_id,
        "data": {"problem_id": problem_id, "student_program": program, "hint_type": hint_type},
    })
    assert reply.status_code == 200, reply.get_json()
    if reflection:
        reply = client.post("/ai_hint/add_reflection/", json={
            "request_id": request_id,
            "data": {"reflection_question": "What is wrong?", "reflection_answer": "The result is always zero somehow."},
        })
        assert reply.status_code == 200, reply.get_json()


def status(client, request_id):
    return client.get(f"/ai_hint/query_hint/?request_id={request_id}").get_json()


def test_debug_request_gets_offline_hint_naming_the_failing_test(client, broker, worker):
    ask(client, 1, BUGGY_FACTORIAL)
    join(broker)
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


def test_correct_program_is_told_so_at_once(client, broker, worker):
    ask(client, 2, CORRECT_FACTORIAL, hint_type="plan")
    join(broker)
    answer = status(client, 2)
    assert answer["hint"] == "Your code seems already correct."
    assert Hint.select().count() == 1


def test_optimize_compares_with_the_fastest_correct_candidate(client, broker, worker):
    ask(client, 3, CORRECT_FACTORIAL, hint_type="optimize")
    join(broker)
    answer = status(client, 3)
    assert answer["job_finished_successfully"], answer
    phase = HintGenerationPhase.get()
    times = [p.run_time for p in EnhancedProgram.select().where(EnhancedProgram.correct == True)]  # noqa: E712
    assert phase.selected_program.run_time == min(times)


def test_missing_reflection_lets_the_hint_go_ahead_after_the_wait(client, broker, worker):
    ask(client, 4, BUGGY_FACTORIAL, reflection=False)
    join(broker)
    assert not status(client, 4)["job_finished"]  # waiting for the reflection
    # The wait is measured against the stored deadline, so move it instead of the clock.
    Request.update(reflection_deadline_at=utcnow() - dt.timedelta(seconds=1)).execute()
    steps_to_send = sweep.sweep(stall_seconds=600, report_url_set=False)
    assert [n.actor for n in steps_to_send] == ["generate_hint"]
    from hint_actors.actors import send_next

    send_next(steps_to_send)
    join(broker)
    assert status(client, 4)["job_finished_successfully"]


def test_request_past_its_deadline_ends_with_one_failed_hint(client, broker, worker):
    ask(client, 5, BUGGY_FACTORIAL, reflection=False)
    join(broker)
    Request.update(deadline_at=utcnow() - dt.timedelta(seconds=1)).execute()
    sent = sweep.sweep(stall_seconds=600, report_url_set=False)
    sweep.sweep(stall_seconds=600, report_url_set=False)  # a second pass changes nothing
    answer = status(client, 5)
    assert answer["job_finished"] and answer["job_finished_successfully"] is False
    assert "deadline exceeded while waiting for add_reflection" in answer["generation_error_message"]
    assert Hint.select().count() == 1
    assert sent == []  # no callback URL configured: polling needs no return_hint message


def test_a_step_that_keeps_failing_ends_the_request_with_a_clear_error(client, broker, worker, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("sandbox exploded")

    monkeypatch.setattr(steps, "run_program", broken)
    from hint_actors import actors

    for actor in (actors.run_student_program, actors.query_for_enhanced_programs):
        monkeypatch.setitem(actor.options, "max_retries", 0)
    ask(client, 6, BUGGY_FACTORIAL)
    join(broker)
    answer = status(client, 6)
    assert answer["job_finished"] and answer["job_finished_successfully"] is False
    assert answer["generation_error_message"] == "run_student_program failed: RuntimeError: sandbox exploded"
    assert Hint.select().count() == 1


def test_every_step_is_safe_to_run_twice(client, broker, worker):
    ask(client, 7, BUGGY_FACTORIAL)
    join(broker)
    request = Request.get()
    first_hint = Hint.get()
    for step in (steps.run_student_program, steps.query_for_enhanced_programs, steps.add_reflection, steps.generate_hint):
        step(request.id)
    steps.run_enhanced_program(request.id)
    assert ProgramEnhancementPhase.select().count() == 1
    assert HintGenerationPhase.select().count() == 1
    assert Hint.select().count() == 1 and Hint.get().id == first_hint.id
