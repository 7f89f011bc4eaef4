"""Crash safety on the production stack: workers killed with SIGKILL in the middle of a
step, RabbitMQ and PostgreSQL going away during a run. Every request still ends exactly
once: one hint, one hint-generation phase, one enhancement phase, one callback.

The stack runs with a fast sweep (every second, stalls after 3 s) and the production
lease length (15 s): a lease left by a killed worker lapses within it.

"Exactly once" is checked once the stack is idle (no message of its queue ready,
unacknowledged or delayed) and every hint is recorded as reported, so a late duplicate
callback has nothing left to come from.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest

from tests.fake_openai import FakeOpenAI, stall
from tests.production import (
    fast_ai_config,
    postgres_down,
    production_stack,
    purge_queue,
    rabbitmq_down,
)

FIX = "def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
REFLECTION = ("What do you think is wrong?", "My result starts at zero, so it stays zero.")


def buggy(request_id: int) -> str:
    """Each request its own program, so none reuses another's LLM answer."""
    name = f"product_{request_id}"
    return f"def factorial(n):\n    {name} = 0\n    for i in range(1, n + 1):\n        {name} *= i\n    return {name}\n"


@pytest.fixture
def fake():
    fake = FakeOpenAI()
    fake.program_answers = [json.dumps({"fixed_program": FIX})]
    fake.start()
    yield fake
    fake.stop()


@contextmanager
def crash_stack(tmp_path, fake, receiver, exclusive: bool = False, **extra: str):
    config = fast_ai_config(tmp_path / "ai_config.yaml", timeout_seconds=5, deadline_seconds=6, program_generation__n=1)
    with production_stack(
        tmp_path, workers=0, exclusive=exclusive,
        OPENAI_API_KEY="k", OPENAI_BASE_URL=fake.base_url, AI_CONFIG_PATH=str(config),
        BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url, STALL_SECONDS="3", SWEEP_INTERVAL_SECONDS="1",
        REFLECTION_WAIT_SECONDS="10", REQUEST_DEADLINE_SECONDS="120", **extra,
    ) as stack:
        yield stack


def ask(stack, request_id: int) -> None:
    assert stack.add_request(request_id, "factorial", buggy(request_id), "debug").status_code == 200
    assert stack.add_reflection(request_id, *REFLECTION).status_code == 200


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def assert_ended_once(stack, receiver, request_ids: list[int]) -> None:
    for request_id in request_ids:
        answer = stack.wait_for_hint(request_id, timeout=90)
        assert answer["job_finished_successfully"], answer
    wait_for(lambda: stack.query("SELECT count(*) FROM hint WHERE reported_at IS NULL") == [(0,)], 60,
             "every hint reported")
    wait_for(stack.queue_idle, 60, "the stack to be idle")
    assert sorted(c["request_id"] for c in receiver.received) == sorted(request_ids), stack.output()
    for request_id in request_ids:
        pk = stack.request_pk(request_id)
        counts = stack.query(
            "SELECT (SELECT count(*) FROM hint WHERE request_id = %s),"
            " (SELECT count(*) FROM hint_generation_phase WHERE request_id = %s),"
            " (SELECT count(*) FROM program_enhancement_phase WHERE request_id = %s)", pk, pk, pk,
        )[0]
        assert counts == (1, 1, 1), (request_id, counts)


def test_worker_killed_while_waiting_on_the_llm(production_servers, fake, receiver, tmp_path):
    fake.push(stall(3))  # the first call is the program call: it is in flight when the worker dies
    with crash_stack(tmp_path, fake, receiver) as stack:
        worker = stack.start_worker(threads=4)
        stack.wait_until_consuming()
        ask(stack, 1)
        wait_for(lambda: fake.prompts("program"), 20, "the program call")
        stack.kill(worker)
        killed_at = time.monotonic()
        stack.start_worker(threads=4)
        stack.wait_for_hint(1, timeout=90)
        # Issue 13's bound: at most about 30 s beyond the request's normal time (a few
        # seconds here). The lease lapses within LEASE_SECONDS (15 s) of the kill.
        assert time.monotonic() - killed_at < 40, stack.output()
        assert_ended_once(stack, receiver, [1])
        # The killed worker's call was lost; the lease it left was taken over once, and
        # the redelivered message did not ask the LLM again while the lease was live.
        assert len(fake.prompts("program")) == 2 and len(fake.prompts("hint")) == 1
        takeovers = stack.query("SELECT takeovers FROM step_claim WHERE step = 'query_for_enhanced_programs'")
        assert takeovers == [(1,)]


def test_worker_killed_while_running_a_program(production_servers, fake, receiver, tmp_path):
    with crash_stack(tmp_path, fake, receiver) as stack:
        worker = stack.start_worker(threads=4)
        stack.wait_until_consuming()
        sleepy = "import time\ntime.sleep(2)\n" + buggy(2)
        assert stack.add_request(2, "factorial", sleepy, "debug").status_code == 200
        assert stack.add_reflection(2, *REFLECTION).status_code == 200
        time.sleep(1.0)  # the student's program is sleeping in the sandbox now
        assert stack.query("SELECT student_run_at FROM request") == [(None,)]
        stack.kill(worker)
        stack.start_worker(threads=4)
        assert_ended_once(stack, receiver, [2])
        assert stack.query("SELECT student_run_at IS NOT NULL FROM request") == [(True,)]


# Where each request's worker dies: after committing these steps, before sending anything.
COMMIT_POINTS = {
    11: ["run_student_program"],
    12: ["run_student_program", "query_for_enhanced_programs"],
    13: ["run_student_program", "query_for_enhanced_programs", "run_enhanced_program"],  # hint stage claimed
    14: ["run_student_program", "query_for_enhanced_programs", "run_enhanced_program", "generate_hint"],
}


def test_worker_killed_between_commit_and_send(production_servers, fake, receiver, tmp_path):
    with crash_stack(tmp_path, fake, receiver) as stack:
        for request_id in COMMIT_POINTS:
            ask(stack, request_id)
        purge_queue(stack.env["TASK_QUEUE"])  # no worker yet: nothing was ever processed
        for request_id, names in COMMIT_POINTS.items():
            stack.run_steps_then_die(stack.request_pk(request_id), names)
        assert stack.query("SELECT stage FROM request WHERE request_id = 13") == [("hint_claimed",)]
        assert stack.query("SELECT count(*) FROM hint") == [(1,)]  # request 14's, never reported

        stack.start_worker(threads=4)  # only the sweep knows what is left to do
        assert_ended_once(stack, receiver, list(COMMIT_POINTS))
        assert len(fake.prompts("program")) == 4 and len(fake.prompts("hint")) == 4


def test_rabbitmq_restart_during_a_run(production_servers, fake, receiver, tmp_path):
    fake.latency = 1.0  # requests are in the middle of LLM calls when the broker goes
    with crash_stack(tmp_path, fake, receiver, exclusive=True) as stack:
        stack.start_worker(threads=8)
        stack.wait_until_consuming()
        for request_id in (21, 22, 23, 24):
            ask(stack, request_id)
        wait_for(lambda: len(fake.requests) >= 2, 20, "LLM calls in flight")
        with rabbitmq_down():
            reply = stack.add_request(25, "factorial", buggy(25), "debug")
            assert reply.status_code == 503 and reply.json()["stored"] is True
            assert stack.trace(21)["request_id"] == 21  # reads still work
        reply = stack.add_request(25, "factorial", buggy(25), "debug")  # the retry orchestration makes
        assert reply.status_code == 200, reply.text
        assert stack.add_reflection(25, *REFLECTION).status_code == 200
        assert_ended_once(stack, receiver, [21, 22, 23, 24, 25])
        assert len(fake.prompts("program")) == 5 and len(fake.prompts("hint")) == 5


def test_postgresql_restart_during_a_run(production_servers, fake, receiver, tmp_path):
    fake.latency = 1.0
    with crash_stack(tmp_path, fake, receiver, exclusive=True) as stack:
        stack.start_worker(threads=8)
        stack.wait_until_consuming()
        for request_id in (31, 32, 33, 34):
            ask(stack, request_id)
        wait_for(lambda: len(fake.requests) >= 2, 20, "LLM calls in flight")
        with postgres_down():
            reply = stack.add_request(35, "factorial", buggy(35), "debug")
            assert reply.status_code == 503 and reply.json()["stored"] is False
        reply = stack.add_request(35, "factorial", buggy(35), "debug")
        assert reply.status_code == 200, reply.text
        assert stack.add_reflection(35, *REFLECTION).status_code == 200
        assert_ended_once(stack, receiver, [31, 32, 33, 34, 35])
