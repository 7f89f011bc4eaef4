"""The remote executor against the fake orchestration, over real sockets.

Wall-clock bounds are loose (a busy two-core machine): they separate "retried and went
on" from "waited for a deadline", not milliseconds.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from hint_core.problems import Problem
from hint_core.remote import (
    ExecutorBusy,
    OrchestrationUnreachable,
    RemoteExecutionConfig,
    RemoteExecutionFailed,
    RemoteExecutor,
    remote_problem,
)
from hint_core.remote.problems import RemoteProblemText
from hint_core.sandbox import SandboxError
from hint_core.sandbox.results import RunResult
from tests.fake_orchestration import FakeOrchestration

RIGHT = "def reverse_words(text):\n    return ' '.join(reversed(text.split()))\n"
WRONG = "def reverse_words(text):\n    return text[::-1]\n"
CRASH = "def reverse_words(text):\n    return undefined_name\n"
WRONG_EVIDENCE = "Test failed: reverse_words('hello world') should be 'world hello', got 'dlrow olleh'"
PROBLEM: Problem = remote_problem(
    RemoteProblemText("reverse_words", "Reverse the words.", "def reverse_words(text):\n    pass\n"))


@pytest.fixture
def fake():
    with FakeOrchestration() as server:
        yield server


def executor_for(fake: FakeOrchestration, **knobs) -> RemoteExecutor:
    knobs.setdefault("outage_seconds", 10.0)
    knobs.setdefault("deadline", 30.0)
    return RemoteExecutor(RemoteExecutionConfig(fake.execute_url, fake.result_url, **knobs))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- verdicts --------------------------------------------------------------------------------


def test_a_right_program_passes_after_an_unfinished_first_poll(fake):
    result = executor_for(fake).run(PROBLEM, RIGHT)

    assert result.correct and result.status == "passed"
    assert result.executor == "remote" and result.tests == [] and result.error is None
    assert result.first_failure_text() is None
    assert fake.executed() == [("reverse_words", RIGHT)]
    assert len(fake.poll_times(1)) >= 2  # the fake always answers "not finished" first


def test_a_wrong_program_fails_with_the_handlers_last_stderr_line_as_evidence(fake):
    result = executor_for(fake).run(PROBLEM, WRONG)

    assert not result.correct and result.status == "failed"
    assert result.error == WRONG_EVIDENCE
    assert result.first_failure_text() == WRONG_EVIDENCE  # what the debug prompt and offline hints use
    assert result.output == ""  # the same one line again would only repeat the evidence in a prompt
    assert result.run_time > 0


def test_a_crashing_program_reports_the_exception_line(fake):
    result = executor_for(fake).run(PROBLEM, CRASH)

    assert not result.correct
    assert result.first_failure_text() == "NameError: name 'undefined_name' is not defined"


def test_a_remote_result_round_trips_through_storage_and_old_rows_read_as_local(fake):
    stored = executor_for(fake).run(PROBLEM, WRONG).to_dict()
    assert stored["executor"] == "remote" and stored["first_failure"] == WRONG_EVIDENCE

    again = RunResult.from_dict(stored)
    assert again.executor == "remote" and again.first_failure_text() == WRONG_EVIDENCE

    old_row = {k: v for k, v in stored.items() if k != "executor"}
    assert RunResult.from_dict(old_row).executor == "local"


def test_a_failure_without_output_still_carries_evidence(fake):
    fake.judge = lambda problem_id, program: (False, "")
    result = executor_for(fake).run(PROBLEM, WRONG)
    assert not result.correct and "failed" in (result.first_failure_text() or "")


def test_buggy_output_is_bounded_and_loses_control_characters(fake):
    fake.judge = lambda problem_id, program: (False, "Test failed: \x1b[31m" + "x" * 10_000)
    result = executor_for(fake).run(PROBLEM, WRONG)
    assert "\x1b" not in result.error and len(result.error) <= 500 and len(result.output) <= 4000


def test_polls_start_short_and_grow(fake):
    fake.handler_seconds = 2.0
    executor_for(fake, first_poll=0.05, poll_growth=1.5, max_poll=1.0).run(PROBLEM, RIGHT)

    times = fake.poll_times(1)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] < 0.5, gaps  # the first pauses are tens of milliseconds
    assert gaps[-1] > 2 * gaps[0], gaps  # ... and they grow
    assert max(gaps) < 2.0, gaps  # ... up to about a second
    assert len(times) < 20, gaps  # a fixed 50 ms pause would have polled ~40 times


# --- transient failures: retried, the request kept ----------------------------------------------


def test_502_from_the_proxy_on_submit_and_poll_is_retried(fake):
    fake.fail_next("execute", 2, status=502)
    fake.fail_next("result", 2, status=502)
    executor = executor_for(fake)

    result = executor.run(PROBLEM, WRONG)

    assert result.error == WRONG_EVIDENCE
    assert len(fake.calls["execute"]) == 3
    assert len(fake.jobs) == 1  # one execution: failed polls re-poll the same id
    assert executor.stats()["transient_failures"] == 4


def test_connection_refused_for_a_while_is_retried(fake):
    fake.pause(0.8)  # nothing listens for 0.8 s
    started = time.monotonic()
    result = executor_for(fake).run(PROBLEM, RIGHT)
    assert result.correct
    assert time.monotonic() - started > 0.7


def test_an_outage_while_polling_re_polls_the_same_execution(fake):
    fake.handler_seconds = 1.0
    executor = executor_for(fake)
    outcome: list[RunResult] = []
    runner = threading.Thread(target=lambda: outcome.append(executor.run(PROBLEM, RIGHT)))
    runner.start()
    deadline = time.monotonic() + 10
    while not fake.poll_times(1) and time.monotonic() < deadline:
        time.sleep(0.01)
    fake.pause(0.8)
    runner.join(30)

    assert outcome and outcome[0].correct
    assert len(fake.jobs) == 1 and len(fake.calls["execute"]) == 1


def test_a_timeout_and_a_dropped_connection_are_retried(fake):
    fake.fail_next("result", 1, stall=2.0)  # longer than the client's read timeout
    fake.fail_next("result", 1, drop=True)
    result = executor_for(fake, request_timeout=0.5).run(PROBLEM, WRONG)
    assert result.error == WRONG_EVIDENCE and len(fake.jobs) == 1


def test_a_malformed_answer_is_retried(fake):
    fake.fail_next("result", 1, status=200, body=b"<html>Bad gateway</html>")
    fake.fail_next("execute", 1, status=200, body={"id": "no execution id here"})
    assert executor_for(fake).run(PROBLEM, RIGHT).correct


def test_a_lost_execution_id_is_submitted_again(fake):
    fake.handler_seconds = 0.5
    executor = executor_for(fake)
    fake.fail_next("result", 1, status=404, body={"error": "Execution record not found"})
    result = executor.run(PROBLEM, WRONG)
    assert result.error == WRONG_EVIDENCE
    assert len(fake.executed()) == 2 and executor.stats()["resubmits"] == 1


def test_a_lost_execution_id_fails_for_good_once_resubmits_are_spent(fake):
    fake.fail_next("result", 5, status=404, body={"error": "Execution record not found"})
    with pytest.raises(RemoteExecutionFailed, match="execution lost.*404"):
        executor_for(fake, resubmits=1).run(PROBLEM, RIGHT)
    assert len(fake.executed()) == 2


# --- permanent failures and outages ------------------------------------------------------------


def test_an_error_answer_is_a_permanent_failure_with_its_cause(fake):
    unknown = remote_problem(RemoteProblemText("no_such_task", "", "def f():\n    pass\n"))
    with pytest.raises(RemoteExecutionFailed) as caught:
        executor_for(fake).run(unknown, RIGHT)
    assert "could not be run remotely" in str(caught.value)
    assert "Task 'no_such_task' not found" in caught.value.cause
    assert isinstance(caught.value, SandboxError)  # the Executor protocol's only error type


def test_a_4xx_on_submit_is_a_permanent_failure(fake):
    fake.fail_next("execute", 1, status=400, body={"error": "Missing field: student_program"})
    started = time.monotonic()
    with pytest.raises(RemoteExecutionFailed, match="HTTP 400: Missing field"):
        executor_for(fake).run(PROBLEM, RIGHT)
    assert time.monotonic() - started < 5  # not retried until a deadline
    assert len(fake.calls["execute"]) == 1


def test_no_verdict_before_the_deadline_is_a_permanent_failure(fake):
    fake.handler_seconds = 30.0
    started = time.monotonic()
    with pytest.raises(RemoteExecutionFailed, match="no verdict within the 1s deadline"):
        executor_for(fake, deadline=1.0).run(PROBLEM, RIGHT)
    assert time.monotonic() - started < 5


def test_nothing_listening_raises_unreachable_not_a_program_failure():
    config = RemoteExecutionConfig(f"http://127.0.0.1:{closed_port()}/execute", "http://127.0.0.1:9/result",
                                   outage_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(OrchestrationUnreachable, match="connection refused") as caught:
        RemoteExecutor(config).run(PROBLEM, RIGHT)
    assert time.monotonic() - started < 10
    assert caught.value.retry_after > 0 and isinstance(caught.value, SandboxError)


def test_a_handler_answering_5xx_for_too_long_is_an_outage(fake):
    fake.fail_next("execute", 1000, status=503)
    with pytest.raises(OrchestrationUnreachable, match="HTTP 503"):
        executor_for(fake, outage_seconds=0.5).run(PROBLEM, RIGHT)


def test_the_token_is_sent_and_never_shown(fake, caplog):
    fake.token = "s3cret-token"
    caplog.set_level(logging.DEBUG)
    assert executor_for(fake, token="s3cret-token").run(PROBLEM, RIGHT).correct
    assert {c.authorization for c in fake.calls["execute"]} == {"Bearer s3cret-token"}

    fake.fail_next("execute", 1, status=502, body={"error": "upstream"})  # a logged transient failure
    wrong = executor_for(fake, token="wrong-token-value")
    with pytest.raises(RemoteExecutionFailed, match="HTTP 401") as caught:
        wrong.run(PROBLEM, RIGHT)
    shown = " ".join([str(caught.value), repr(wrong), repr(wrong.config), caplog.text])
    assert "s3cret-token" not in shown and "wrong-token-value" not in shown


def test_a_bad_configuration_names_the_field():
    with pytest.raises(ValueError, match="execute_url"):
        RemoteExecutionConfig("orchestration:8000/execute", "http://x/result")
    with pytest.raises(ValueError, match="deadline"):
        RemoteExecutionConfig("http://x/execute", "http://x/result", deadline=0)


# --- concurrency ------------------------------------------------------------------------------------


def test_runs_from_several_threads_go_side_by_side(fake):
    fake.handler_seconds = 1.0
    executor = executor_for(fake, max_concurrent=6)
    results: list[RunResult] = []
    threads = [threading.Thread(target=lambda: results.append(executor.run(PROBLEM, RIGHT)))
               for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started

    assert len(results) == 6 and all(r.correct for r in results)
    assert elapsed < 4.5, elapsed  # one after the other would take over 6 s
    assert executor.stats()["peak_in_flight"] >= 2


def test_a_full_executor_answers_busy_at_once_instead_of_blocking(fake):
    fake.handler_seconds = 1.5
    executor = executor_for(fake, max_concurrent=2, acquire_timeout=0.05)
    results: list[RunResult] = []
    threads = [threading.Thread(target=lambda: results.append(executor.run(PROBLEM, RIGHT)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while executor.stats()["in_flight"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    with pytest.raises(ExecutorBusy) as caught:
        executor.run(PROBLEM, RIGHT)
    assert time.monotonic() - started < 1.0  # well before a slot frees
    assert caught.value.retry_after > 0 and isinstance(caught.value, SandboxError)

    for thread in threads:
        thread.join(30)
    fake.handler_seconds = 0.0
    assert len(results) == 2 and executor.run(PROBLEM, RIGHT).correct  # slots come back
    assert executor.stats()["busy_rejections"] == 1 and executor.stats()["in_flight"] == 0


def test_the_fake_records_callbacks(fake):
    import requests

    reply = requests.post(fake.save_hint_url, json={"request_id": 7, "hint": "h"}, timeout=5)
    assert reply.status_code == 200 and fake.callbacks == [{"request_id": 7, "hint": "h"}]
