"""Messages arrive at least once: every message delivered twice must change nothing.

No second LLM call, enhancement phase, candidate, hint-generation phase, hint or
callback; a step whose work is claimed by a live worker is left alone, and a claim left
by a dead worker is taken over. Outages of the database do not use up a step's retries,
and a step that fails for good ends its request with one failed hint that names the
step and the cause without secrets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import threading
import time

import pytest
from dramatiq.middleware import Middleware
from peewee import OperationalError

from hint_actors import claims, steps, sweep
from models import (
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    StepClaim,
    utcnow,
)
from tests.conftest import join
from tests.fake_openai import stall
from tests.stack import CallbackReceiver

# `hint_actors.broker` the attribute is the broker object; this is the module.
broker_module = importlib.import_module("hint_actors.broker")

BUGGY = "def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"


class DeliverTwice(Middleware):
    """Every message sent is delivered a second time, as RabbitMQ may (same message id)."""

    def after_enqueue(self, broker, message, delay):  # noqa: ANN001
        if not message.options.get("second_delivery"):
            broker.enqueue(message.copy(options={"second_delivery": True}), delay=delay)


@pytest.fixture
def twice(broker):
    middleware = DeliverTwice()
    broker.add_middleware(middleware)
    yield
    broker.middleware.remove(middleware)


@pytest.fixture
def receiver(monkeypatch):
    receiver = CallbackReceiver()
    settings = dataclasses.replace(steps.get_settings(), save_hint_url=receiver.url)
    monkeypatch.setattr(steps, "get_settings", lambda: settings)
    yield receiver
    receiver.stop()


def ask(client, request_id: int, program: str = BUGGY, hint_type: str = "debug") -> None:
    reply = client.post("/ai_hint/add_request/", json={"request_id": request_id, "data": {
        "problem_id": "factorial", "student_program": program, "hint_type": hint_type}})
    assert reply.status_code == 200, reply.get_json()
    reply = client.post("/ai_hint/add_reflection/", json={"request_id": request_id, "data": {
        "reflection_question": "What is wrong?", "reflection_answer": "My result always stays at zero."}})
    assert reply.status_code == 200, reply.get_json()


def wait_for_callbacks(receiver, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def llm_calls(fake, kind: str) -> int:
    return len(fake.prompts(kind))


def assert_one_of_everything(fake, receiver, request_id: int) -> None:
    request = Request.get(Request.request_id == request_id)
    assert ProgramEnhancementPhase.select().where(ProgramEnhancementPhase.request == request).count() == 1
    assert HintGenerationPhase.select().where(HintGenerationPhase.request == request).count() == 1
    assert Hint.select().where(Hint.request == request).count() == 1
    assert Hint.get(Hint.request == request).job_finished_successfully
    assert llm_calls(fake, "program") == 1 and llm_calls(fake, "hint") == 1
    assert [c["request_id"] for c in receiver.received] == [request_id]


@pytest.mark.parametrize("threads", [1, 4], ids=["one-after-the-other", "at-the-same-time"])
def test_every_message_delivered_twice_does_everything_once(
    client, broker, twice, llm_services, fake_llm, receiver, threads
):
    import dramatiq

    fake_llm.latency = 0.3  # second deliveries arrive while the first waits for the LLM
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    worker.start()
    try:
        ask(client, 1)
        join(broker)
        wait_for_callbacks(receiver, 1)
        time.sleep(0.5)  # a duplicate callback would arrive now
    finally:
        worker.stop()
    assert_one_of_everything(fake_llm, receiver, 1)
    candidates = EnhancedProgram.select().where(EnhancedProgram.request == Request.get().id)
    keys = [(c.phase_id, c.index) for c in candidates]
    assert len(keys) == len(set(keys)) and all(c.evaluated_at for c in candidates)


def test_a_second_delivery_leaves_an_llm_call_in_progress_alone(client, broker, llm_services, fake_llm):
    ask(client, 2)
    broker.flush_all()
    request = Request.get()
    steps.run_student_program(request.id)
    fake_llm.push(stall(1.0))
    first = threading.Thread(target=steps.query_for_enhanced_programs, args=(request.id,))
    first.start()
    deadline = time.monotonic() + 10
    while not fake_llm.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert steps.query_for_enhanced_programs(request.id) == []  # the redelivery, mid-call
    first.join()
    assert llm_calls(fake_llm, "program") == 1
    assert ProgramEnhancementPhase.select().count() == 1
    # Once the first is done, a late redelivery re-sends the candidates instead of asking again.
    again = steps.query_for_enhanced_programs(request.id)
    assert {n.actor for n in again} == {"run_enhanced_program"} and llm_calls(fake_llm, "program") == 1


def test_a_dead_workers_claim_is_taken_over_once_it_expires(client, broker, llm_services, fake_llm):
    ask(client, 3)
    broker.flush_all()
    request = Request.get()
    steps.run_student_program(request.id)
    now = utcnow()
    StepClaim.create(request=request, step="query_for_enhanced_programs", holder="gone:1:1",
                     claimed_at=now, expires_at=now + dt.timedelta(seconds=100))
    Request.update(updated_at=now - dt.timedelta(seconds=600)).execute()

    assert steps.query_for_enhanced_programs(request.id) == []  # the redelivery after the crash
    assert sweep.sweep(stall_seconds=60, report_url_set=False) == []  # the claim still looks alive
    assert llm_calls(fake_llm, "program") == 0

    later = now + dt.timedelta(seconds=101)  # before the request's deadline (120 s in tests)
    resent = sweep.sweep(stall_seconds=60, report_url_set=False, now=later)
    assert [n.actor for n in resent] == ["query_for_enhanced_programs"]
    StepClaim.update(expires_at=now - dt.timedelta(seconds=1)).execute()  # what `later` saw
    steps.query_for_enhanced_programs(request.id)
    assert llm_calls(fake_llm, "program") == 1
    assert ProgramEnhancementPhase.select().count() == 1
    taken = StepClaim.get(StepClaim.step == "query_for_enhanced_programs")
    assert taken.takeovers == 1 and taken.holder == claims.holder()


def test_a_failed_step_releases_its_claim_for_its_retry(client, broker):
    ask(client, 4)
    request = Request.get()
    assert claims.claim(request.id, "generate_hint", 300)
    assert not claims.claim(request.id, "generate_hint", 300)
    claims.release(claims.forget_held())
    assert claims.claim(request.id, "generate_hint", 300)


def test_the_sweep_claims_the_hint_stage_when_the_last_message_was_lost(client, broker, offline_services):
    client.post("/ai_hint/add_request/", json={"request_id": 5, "data": {
        "problem_id": "factorial", "student_program": BUGGY, "hint_type": "debug"}})
    broker.flush_all()
    request = Request.get()
    # Every step runs, but the reflection's message is lost: nobody checks the barrier.
    steps.run_student_program(request.id)
    for message in steps.query_for_enhanced_programs(request.id):
        steps.run_enhanced_program(message.arg)
    Reflection.create(request=request, reflection_question="q", reflection_answer="a", payload_hash="x")
    assert Request.get().stage == "pending"
    assert sweep.sweep(stall_seconds=60, report_url_set=False) == []  # not stalled yet
    Request.update(updated_at=utcnow() - dt.timedelta(seconds=61)).execute()
    assert [n.actor for n in sweep.sweep(stall_seconds=60, report_url_set=False)] == ["generate_hint"]
    assert Request.get().stage == "hint_claimed"


def test_a_database_outage_does_not_use_up_a_steps_retries(client, broker, worker, offline_services, monkeypatch):
    monkeypatch.setattr(broker_module, "OUTAGE_MIN_BACKOFF_MS", 5)
    monkeypatch.setattr(broker_module, "OUTAGE_MAX_BACKOFF_MS", 20)
    real_run = steps.run_program
    outages = []

    def flaky(problem, program):
        if len(outages) < 6:  # more failures than the step's max_retries (3)
            outages.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_run(problem, program)

    monkeypatch.setattr(steps, "run_program", flaky)
    ask(client, 6)
    join(broker)
    hint = Hint.get()
    assert hint.job_finished_successfully, hint.generation_error_message
    assert len(outages) == 6


def test_a_step_that_keeps_failing_ends_with_one_failed_hint_reported_without_secrets(
    client, broker, worker, offline_services, receiver, monkeypatch
):
    settings = dataclasses.replace(steps.get_settings(), openai_api_key="sk-very-secret")
    monkeypatch.setattr(steps, "get_settings", lambda: settings)

    def broken(problem, program):
        raise RuntimeError("boom near sk-very-secret talking to postgresql://hint:pw@db/hint")

    monkeypatch.setattr(steps, "run_program", broken)
    from hint_actors import actors

    for actor in (actors.run_student_program, actors.run_enhanced_program):
        monkeypatch.setitem(actor.options, "max_retries", 0)
    ask(client, 7)
    join(broker)
    wait_for_callbacks(receiver, 1)
    hint = Hint.get()
    assert hint.job_finished_successfully is False
    message = hint.generation_error_message
    assert message == "run_student_program failed: RuntimeError: boom near *** talking to postgresql://hint:***@db/hint"
    assert "Traceback" not in message
    assert Hint.select().count() == 1
    [callback] = receiver.received
    assert callback["job_finished_successfully"] is False and callback["generation_error_message"] == message


def test_the_sweep_resends_only_what_is_missing(client, broker, offline_services):
    client.post("/ai_hint/add_request/", json={"request_id": 8, "data": {
        "problem_id": "factorial", "student_program": BUGGY, "hint_type": "debug"}})
    broker.flush_all()
    request = Request.get()
    steps.run_student_program(request.id)
    Request.update(updated_at=utcnow() - dt.timedelta(seconds=61)).execute()
    assert [n.actor for n in sweep.sweep(stall_seconds=60, report_url_set=False)] == ["query_for_enhanced_programs"]
    # Re-sending counts as progress: the next pass leaves the request its STALL_SECONDS.
    assert sweep.sweep(stall_seconds=60, report_url_set=False) == []


def test_a_sandbox_failure_is_retried_for_that_candidate_only(client, broker, offline_services, monkeypatch):
    from hint_core.sandbox import SandboxError, run_program

    ask(client, 8)
    broker.flush_all()
    request = Request.get()
    steps.run_student_program(request.id)
    assert [n.actor for n in steps.query_for_enhanced_programs(request.id)] == ["run_enhanced_program"]
    unlucky = EnhancedProgram.select().order_by(EnhancedProgram.index).first().program
    ran, failures = [], [SandboxError("fork server went away")]

    def sandbox(problem, program):
        ran.append(program)
        if program == unlucky and failures:
            raise failures.pop()
        return run_program(problem, program)

    monkeypatch.setattr(steps, "run_program", sandbox)
    with pytest.raises(SandboxError):
        steps.run_enhanced_program(request.id)  # Dramatiq retries the message
    waiting = [c.program for c in EnhancedProgram.select().where(EnhancedProgram.evaluated_at.is_null())]
    assert waiting == [unlucky] and EnhancedProgram.select().count() == 3
    ran.clear()
    steps.run_enhanced_program(request.id)  # the retry
    assert ran == [unlucky]
    assert EnhancedProgram.select().where(EnhancedProgram.correct == True).count() == 3  # noqa: E712


def test_candidates_that_cannot_be_run_count_as_incorrect_and_the_request_goes_on(client, broker, offline_services):
    ask(client, 9)
    broker.flush_all()
    request = Request.get()
    steps.run_student_program(request.id)
    steps.query_for_enhanced_programs(request.id)
    sent = steps.give_up_candidates(request.id, "SandboxError: fork server went away")
    assert [n.actor for n in sent] == ["generate_hint"]
    reasons = {c.invalid_reason for c in EnhancedProgram.select()}
    assert reasons == {"could not be run: SandboxError: fork server went away"}
    assert EnhancedProgram.select().where(EnhancedProgram.correct == False).count() == 3  # noqa: E712
