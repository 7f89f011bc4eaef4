"""Messages arrive at least once: every message delivered twice must change nothing.

No second LLM call, enhancement phase, candidate, hint-generation phase, hint or
callback; work leased by a live worker is left alone (the redelivery waits and looks
again), and a lease left by a dead worker lapses and is taken over. Outages do not use
up a step's retries, and a step that fails for good ends its request with one failed
hint that names the step and the cause without secrets.

"Exactly once" is checked after the system is idle (the queue and its delayed messages
empty, the sweep not running) and against the stored attempt counters, so a late
duplicate cannot slip past by arriving after the assertion.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from peewee import OperationalError

from hint_actors import flow, leases, sweep
from hint_actors import worker as hint_worker
from hint_actors.leases import Leases
from hint_actors.middleware import retries
from hint_actors.pipeline import STEPS
from hint_core.errors import Busy
from hint_core.lifecycle import Step
from hint_core.sandbox import SandboxError
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
from runtime import build
from tests.fake_openai import stall
from tests.helpers import api_client, ask, join, queued, status, wait_until


class DeliverTwice(Middleware):
    """Every message sent is delivered a second time, as RabbitMQ may (same message id)."""

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        if not message.options.get("second_delivery"):
            broker.enqueue(message.copy(options={"second_delivery": True}), delay=delay)


@pytest.fixture
def settings(make_settings, receiver):
    return make_settings(BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url)


def process(runtime, step: Step, request_pk: int, held: Leases | None = None) -> None:
    """One delivery of `step`, as an actor would run it (without a worker)."""
    flow.process(runtime, held or Leases(runtime.settings.lease_seconds), STEPS[step], request_pk)


def llm_calls(fake, kind: str) -> int:
    return len(fake.prompts(kind))


def assert_one_of_everything(fake, receiver, request_id: int) -> None:
    request = Request.get(Request.request_id == request_id)
    assert ProgramEnhancementPhase.select().where(ProgramEnhancementPhase.request == request).count() == 1
    assert HintGenerationPhase.select().where(HintGenerationPhase.request == request).count() == 1
    hint = Hint.get(Hint.request == request)
    assert Hint.select().where(Hint.request == request).count() == 1 and hint.job_finished_successfully
    assert llm_calls(fake, "program") == 1 and llm_calls(fake, "hint") == 1
    assert receiver.request_ids() == [request_id] and receiver.calls == 1
    assert hint.report_attempts == 1 and hint.reported_at is not None


@pytest.fixture
def llm_runtime(settings, llm_services, executor):
    return build(settings, services=llm_services, executor=executor)


@pytest.mark.parametrize("threads", [1, 4], ids=["one-after-the-other", "at-the-same-time"])
def test_every_message_delivered_twice_does_everything_once(llm_runtime, fake_llm, receiver, threads):
    runtime = llm_runtime
    client = api_client(runtime)
    runtime.broker.add_middleware(DeliverTwice())
    fake_llm.latency = 0.3  # second deliveries arrive while the first waits for the LLM
    started = hint_worker.start(runtime, threads=threads)
    try:
        ask(client, 1)
        join(runtime, timeout_ms=60_000)  # idle: no message queued or delayed, no sweep
    finally:
        started.stop()
    assert_one_of_everything(fake_llm, receiver, 1)
    candidates = EnhancedProgram.select().where(EnhancedProgram.request == Request.get().id)
    keys = [(c.phase_id, c.index) for c in candidates]
    assert len(keys) == len(set(keys)) and all(c.evaluated_at for c in candidates)


def test_a_second_delivery_waits_while_an_llm_call_is_in_progress(llm_runtime, fake_llm):
    runtime = llm_runtime
    ask(api_client(runtime), 2)
    runtime.broker.flush_all()
    request = Request.get()
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    fake_llm.push(stall(1.0))
    first = threading.Thread(target=process, args=(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id))
    first.start()
    wait_until(lambda: fake_llm.requests, what="the first delivery's LLM call")
    with pytest.raises(Busy) as busy:  # the redelivery, mid-call: look again, do not drop it
        process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)
    assert 0 < busy.value.retry_after <= runtime.settings.lease_seconds
    first.join()
    assert llm_calls(fake_llm, "program") == 1
    assert ProgramEnhancementPhase.select().count() == 1
    runtime.broker.flush_all()
    # Once the first is done, the redelivery looks again and finds nothing left to do.
    process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)
    assert llm_calls(fake_llm, "program") == 1 and queued(runtime) == []


def test_a_dead_workers_lease_lapses_and_is_taken_over(llm_runtime, fake_llm):
    runtime = llm_runtime
    ask(api_client(runtime), 3)
    runtime.broker.flush_all()
    request = Request.get()
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    now = utcnow()
    # A worker died mid-call: its lease is no longer renewed.
    StepClaim.create(request=request, step=Step.QUERY_FOR_ENHANCED_PROGRAMS, holder="gone:1:1",
                     claimed_at=now, expires_at=now + dt.timedelta(seconds=2))
    Request.update(updated_at=now - dt.timedelta(seconds=600)).execute()

    with pytest.raises(Busy):
        process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)  # the redelivery after the crash
    sweep.sweep(runtime)
    assert queued(runtime) == []  # the lease still looks alive: nothing re-sent
    assert llm_calls(fake_llm, "program") == 0

    wait_until(lambda: not leases.live(request.id, Step.QUERY_FOR_ENHANCED_PROGRAMS), timeout=10,
               what="the dead worker's lease to lapse")
    Request.update(updated_at=now - dt.timedelta(seconds=600)).execute()
    sweep.sweep(runtime)
    assert queued(runtime) == ["query_for_enhanced_programs"]
    held = Leases(runtime.settings.lease_seconds)
    process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id, held)
    assert llm_calls(fake_llm, "program") == 1
    assert ProgramEnhancementPhase.select().count() == 1
    taken = StepClaim.get(StepClaim.step == Step.QUERY_FOR_ENHANCED_PROGRAMS)
    assert taken.takeovers == 1 and taken.holder.startswith(held.process) and taken.released_at is not None


def test_a_lease_lives_while_its_holder_renews_it_and_is_released_when_the_work_ends(client, runtime):
    ask(client, 4)
    request = Request.get()
    mine, other = Leases(1.0), Leases(1.0)
    with mine.hold(request.id, Step.GENERATE_HINT):
        started = time.monotonic()
        while time.monotonic() - started < 3.0:  # three lease lengths: alive thanks to the heartbeat
            mine.renew()
            with pytest.raises(Busy):
                other.take(request.id, Step.GENERATE_HINT)
            time.sleep(0.3)
    # Released: the next delivery takes it at once, and it is not counted as a takeover.
    other.release(other.take(request.id, Step.GENERATE_HINT))
    assert StepClaim.get().takeovers == 0


def test_a_failed_step_releases_its_lease_for_its_retry(client, runtime):
    ask(client, 4)
    request = Request.get()
    held = Leases(runtime.settings.lease_seconds)
    with pytest.raises(RuntimeError), held.hold(request.id, Step.GENERATE_HINT):
        raise RuntimeError("the LLM client blew up")
    held.release(held.take(request.id, Step.GENERATE_HINT))  # the retry takes it without waiting


def test_the_sweep_claims_the_hint_stage_when_the_last_message_was_lost(client, runtime):
    client.post("/ai_hint/add_request/", json={"request_id": 5, "data": {
        "problem_id": "factorial", "student_program": "def factorial(n):\n    return 0\n", "hint_type": "debug"}})
    runtime.broker.flush_all()
    request = Request.get()
    # Every step runs, but the reflection's message is lost: nobody looks at the evidence.
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)
    process(runtime, Step.RUN_ENHANCED_PROGRAM, request.id)
    runtime.broker.flush_all()
    Reflection.create(request=request, reflection_question="q", reflection_answer="a", payload_hash="x")
    assert Request.get().stage == "pending"
    sweep.sweep(runtime)
    assert queued(runtime) == []  # not stalled yet
    Request.update(updated_at=utcnow() - dt.timedelta(seconds=61)).execute()
    sweep.sweep(runtime)
    assert queued(runtime) == ["generate_hint"]
    assert Request.get().stage == "hint_claimed"


def test_the_sweep_resends_only_what_is_missing(client, runtime):
    client.post("/ai_hint/add_request/", json={"request_id": 8, "data": {
        "problem_id": "factorial", "student_program": "def factorial(n):\n    return 0\n", "hint_type": "debug"}})
    runtime.broker.flush_all()
    request = Request.get()
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    Request.update(updated_at=utcnow() - dt.timedelta(seconds=61)).execute()
    sweep.sweep(runtime)
    assert queued(runtime) == ["query_for_enhanced_programs"]
    # Re-sending counts as progress: the next pass leaves the request its STALL_SECONDS.
    sweep.sweep(runtime)
    assert queued(runtime) == ["query_for_enhanced_programs"]


class FlakyDatabaseExecutor:
    """Runs programs for real, after failing like a restarting database a few times."""

    def __init__(self, executor, failures: int) -> None:
        self.executor, self.failures = executor, failures

    def run(self, problem, program):
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return self.executor.run(problem, program)


def test_a_database_outage_does_not_use_up_a_steps_retries(settings, offline_services, executor, monkeypatch):
    monkeypatch.setattr(retries, "OUTAGE_MIN_BACKOFF_MS", 5)
    monkeypatch.setattr(retries, "OUTAGE_MAX_BACKOFF_MS", 20)
    flaky = FlakyDatabaseExecutor(executor, failures=6)  # more failures than the step's max_retries (3)
    runtime = build(settings, services=offline_services, executor=flaky)
    client = api_client(runtime)
    started = hint_worker.start(runtime, threads=2)
    try:
        ask(client, 6)
        join(runtime)
    finally:
        started.stop()
    hint = Hint.get()
    assert hint.job_finished_successfully, hint.generation_error_message
    assert flaky.failures == 0


class SecretLeakingExecutor:
    def run(self, problem, program):
        raise RuntimeError("boom near sk-very-secret talking to postgresql://hint:pw@db/hint")


def test_a_step_that_keeps_failing_ends_with_one_failed_hint_reported_without_secrets(
    make_settings, offline_services, receiver, monkeypatch
):
    settings = make_settings(BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url, OPENAI_API_KEY="sk-very-secret")
    runtime = build(settings, services=offline_services, executor=SecretLeakingExecutor())
    client = api_client(runtime)
    started = hint_worker.start(runtime, threads=2)
    try:
        for step in (Step.RUN_STUDENT_PROGRAM, Step.RUN_ENHANCED_PROGRAM):
            monkeypatch.setitem(runtime.broker.get_actor(step).options, "max_retries", 0)
        ask(client, 7)
        join(runtime)
    finally:
        started.stop()
    hint = Hint.get()
    assert hint.job_finished_successfully is False
    message = hint.generation_error_message
    assert message == "run_student_program failed: RuntimeError: boom near *** talking to postgresql://hint:***@db/hint"
    assert "Traceback" not in message
    assert Hint.select().count() == 1
    [callback] = receiver.received
    assert callback["job_finished_successfully"] is False and callback["generation_error_message"] == message
    assert status(client, 7)["generation_error_message"] == message


class OneUnluckyRun:
    """The sandbox itself fails once, for one program."""

    def __init__(self, executor, unlucky: str) -> None:
        self.executor, self.unlucky, self.ran = executor, unlucky, []
        self.failures = [SandboxError("fork server went away")]

    def run(self, problem, program):
        self.ran.append(program)
        if program == self.unlucky and self.failures:
            raise self.failures.pop()
        return self.executor.run(problem, program)


def test_a_sandbox_failure_is_retried_for_that_candidate_only(client, runtime, executor):
    ask(client, 8)
    runtime.broker.flush_all()
    request = Request.get()
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)
    assert queued(runtime) == ["run_enhanced_program"]
    unlucky = EnhancedProgram.select().order_by(EnhancedProgram.index).first().program
    runtime.executor = OneUnluckyRun(executor, unlucky)
    with pytest.raises(SandboxError):
        process(runtime, Step.RUN_ENHANCED_PROGRAM, request.id)  # Dramatiq retries the message
    waiting = [c.program for c in EnhancedProgram.select().where(EnhancedProgram.evaluated_at.is_null())]
    assert waiting == [unlucky] and EnhancedProgram.select().count() == 3
    runtime.executor.ran.clear()
    process(runtime, Step.RUN_ENHANCED_PROGRAM, request.id)  # the retry
    assert runtime.executor.ran == [unlucky]
    assert EnhancedProgram.select().where(EnhancedProgram.correct == True).count() == 3  # noqa: E712


def test_candidates_that_cannot_be_run_count_as_incorrect_and_the_request_goes_on(client, runtime):
    ask(client, 9)
    runtime.broker.flush_all()
    request = Request.get()
    process(runtime, Step.RUN_STUDENT_PROGRAM, request.id)
    process(runtime, Step.QUERY_FOR_ENHANCED_PROGRAMS, request.id)
    runtime.broker.flush_all()
    flow.give_up(runtime, STEPS[Step.RUN_ENHANCED_PROGRAM], request.id, "SandboxError: fork server went away")
    assert queued(runtime) == ["generate_hint"]
    reasons = {c.invalid_reason for c in EnhancedProgram.select()}
    assert reasons == {"could not be run: SandboxError: fork server went away"}
    assert EnhancedProgram.select().where(EnhancedProgram.correct == False).count() == 3  # noqa: E712
