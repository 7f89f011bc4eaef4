"""The callback to orchestration: retried until a 2xx, with its bearer token, once per hint,
and reported again by the sweep when it never went out."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from hint_actors import flow, sweep
from hint_actors.leases import Leases
from hint_actors.pipeline import STEPS
from hint_core.lifecycle import Step
from models import Hint, Request, StepClaim, utcnow
from tests.helpers import CallbackReceiver, ask, join, queued


@pytest.fixture
def receiver():
    receiver = CallbackReceiver(fail_first=2)
    yield receiver
    receiver.stop()


@pytest.fixture
def settings(make_settings, receiver):
    return make_settings(BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url, BACKEND_ORCHESTRATION_TOKEN="cb-token")


def test_the_callback_is_retried_until_orchestration_takes_it(client, runtime, worker, receiver, monkeypatch):
    # Short pauses between attempts, so the test does not wait out the real backoff.
    monkeypatch.setitem(runtime.broker.get_actor(Step.RETURN_HINT).options, "min_backoff", 10)
    ask(client, 1)
    join(runtime, timeout_ms=60_000)  # idle: no callback left queued or waiting to be retried
    assert receiver.calls == 3  # two 500s, then a 200
    [body] = receiver.received
    assert body["request_id"] == 1 and body["job_finished_successfully"] is True
    assert set(body["other_hint_data"]) == {
        "request", "reflection", "program_enhancement_phase", "enhanced_programs", "hint_generation_phase", "hint",
    }
    hint = Hint.get()
    assert hint.reported_at is not None and hint.report_attempts == 3


def test_the_callback_carries_orchestrations_bearer_token(client, runtime, worker, receiver, monkeypatch):
    monkeypatch.setitem(runtime.broker.get_actor(Step.RETURN_HINT).options, "min_backoff", 10)
    ask(client, 2)
    join(runtime, timeout_ms=60_000)
    assert receiver.headers and all(h["Authorization"] == "Bearer cb-token" for h in receiver.headers)


def test_overlapping_deliveries_post_the_hint_once(client, runtime, worker, receiver):
    receiver.fail_first, receiver.delay = 0, 0.5
    ask(client, 3)
    join(runtime)
    runtime.broker.flush_all()
    receiver.calls = 0
    receiver.received.clear()
    Hint.update(reported_at=None).execute()
    pk = Request.get().id
    errors = []

    def deliver() -> None:
        try:
            flow.process(runtime, Leases(runtime.settings.lease_seconds), STEPS[Step.RETURN_HINT], pk)
        except Exception as exc:  # noqa: BLE001 - collected: a Busy is the expected answer
            errors.append(type(exc).__name__)

    deliveries = [threading.Thread(target=deliver) for _ in range(4)]
    for d in deliveries:
        d.start()
    for d in deliveries:
        d.join()
    assert receiver.calls == 1 and receiver.most_in_flight == 1
    assert errors == ["Busy"] * 3  # the others wait and look again; then nothing is left to do
    flow.process(runtime, Leases(runtime.settings.lease_seconds), STEPS[Step.RETURN_HINT], pk)
    assert receiver.calls == 1


def test_the_sweep_reports_a_hint_that_never_went_out(client, runtime, worker, receiver):
    receiver.fail_first = 0
    worker.stop()  # nothing consumes: the hint is stored by calling the steps directly
    ask(client, 4)
    request = Request.get()
    runtime.broker.flush_all()
    for step in (Step.RUN_STUDENT_PROGRAM, Step.QUERY_FOR_ENHANCED_PROGRAMS, Step.RUN_ENHANCED_PROGRAM,
                 Step.ADD_REFLECTION, Step.GENERATE_HINT):
        flow.process(runtime, Leases(runtime.settings.lease_seconds), STEPS[step], request.id)
    runtime.broker.flush_all()  # the return_hint message is lost (a crash between commit and send)
    assert Hint.get().reported_at is None

    sweep.sweep(runtime)
    assert queued(runtime) == []  # too recent to call it lost
    Hint.update(created_at=utcnow() - dt.timedelta(seconds=120)).execute()
    sweep.sweep(runtime)
    assert queued(runtime) == ["return_hint"]

    # A hint whose callback was tried lately is left to its own retries for an hour.
    runtime.broker.flush_all()
    Hint.update(report_attempts=25, created_at=utcnow() - dt.timedelta(hours=2)).execute()
    StepClaim.create(request=request, step=Step.RETURN_HINT, holder="w:1:1", claimed_at=utcnow(),
                     expires_at=utcnow(), released_at=utcnow())
    sweep.sweep(runtime)
    assert queued(runtime) == []
    StepClaim.update(claimed_at=utcnow() - dt.timedelta(hours=2)).execute()
    sweep.sweep(runtime)
    assert queued(runtime) == ["return_hint"]
