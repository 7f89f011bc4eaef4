"""Running a program through orchestration's execution endpoints (the original's contract).

    POST execute_url {"problem_id", "student_program"}  -> 200 {"execution_id"}
    GET  result_url?execution_id=ID                     -> {"job_finished": false} while it runs,
         then {"job_finished": true, "correctness", "buggy_output", "elapsed_time"}

One ``run()`` submits once and polls, from the calling thread, with a pause that starts
short and grows (``first_poll`` x ``poll_growth`` up to ``max_poll``) until the verdict or
the ``deadline``. What each answer means (see docs/remote.md for the table):

- Transient (connection refused or dropped, timeouts, 5xx incl. the proxy's 502, 408, 429,
  a body that is not the expected JSON): retried with a growing backoff. A failed submit
  is sent again (no id came back, so nothing is lost; at worst the handler judges the
  program twice). A failed poll polls the same execution id again: the job keeps running
  at the handler and re-submitting would only add load. A streak of transient failures
  longer than ``outage_seconds`` ends the run with ``OrchestrationUnreachable`` (or
  ``RemoteExecutionFailed`` when orchestration answers but with garbage).
- The execution id is lost (the result URL answers 404, or 500 with an ``error``: the
  handler says the job died, e.g. "Execution took too long ... worker failure"): the
  program is submitted again, at most ``resubmits`` times.
- Permanent (another 4xx, ``{"error": ...}`` with status 200, no verdict by the
  deadline): ``RemoteExecutionFailed`` carrying the cause.

At most ``max_concurrent`` runs are in flight per executor; a run that finds no free slot
within ``acquire_timeout`` raises ``ExecutorBusy`` at once, so a slow problem handler
holds at most that many threads and the caller re-queues the step instead of blocking.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hint_core.problems import Problem
from hint_core.remote.errors import ExecutorBusy, OrchestrationUnreachable, RemoteExecutionFailed
from hint_core.remote.http import Answer, NetworkFailure, OrchestrationHttp, bounded, check_url, safe_url
from hint_core.sandbox.results import RunResult

log = logging.getLogger("hint_core.remote")

REMOTE = "remote"  # RunResult.executor of a run judged by orchestration
MAX_ERROR = 500  # characters of buggy_output kept as the failing evidence (it reaches prompts)
MAX_OUTPUT = 4000  # characters of buggy_output kept as the run's output
NO_DETAIL = "the course's tests failed (orchestration gave no detail)"
RETRYABLE_4XX = (408, 429)  # request timeout, too many requests: orchestration is only busy


class RemoteStatus(StrEnum):
    """RunResult.status of a remote run: the handler says pass or fail, nothing finer."""

    PASSED = "passed"
    FAILED = "failed"


class _Kind(StrEnum):
    """Why an attempt failed transiently; decides which exception a long streak raises."""

    NETWORK = "network"  # no HTTP answer
    SERVER = "server"  # 5xx, 408, 429
    MALFORMED = "malformed"  # an answer, but not the JSON the contract describes


@dataclass(frozen=True)
class RemoteExecutionConfig:
    """The remote executor's knobs; see docs/remote.md. Times are seconds."""

    execute_url: str
    result_url: str
    token: str | None = field(default=None, repr=False)  # sent as "Authorization: Bearer ..."
    max_concurrent: int = 4  # runs in flight per executor (per worker process); see docs/remote.md
    acquire_timeout: float = 0.0  # wait this long for a free slot, then ExecutorBusy (0: never wait)
    deadline: float = 60.0  # submit to verdict; keep it below the step's time limit
    first_poll: float = 0.05  # pause before the first poll
    poll_growth: float = 1.5  # each pause is this much longer than the last ...
    max_poll: float = 1.0  # ... up to this
    request_timeout: float = 10.0  # one HTTP call (read); connecting gets connect_timeout
    connect_timeout: float = 3.0
    outage_seconds: float = 15.0  # a streak of transient failures this long ends the run
    retry_first: float = 0.1  # backoff after the first transient failure of a streak ...
    retry_max: float = 2.0  # ... doubling up to this
    resubmits: int = 1  # new submissions after the execution id was lost

    def __post_init__(self) -> None:
        check_url(self.execute_url, "execute_url")
        check_url(self.result_url, "result_url")
        if self.max_concurrent < 1 or self.resubmits < 0:
            raise ValueError("max_concurrent must be at least 1 and resubmits at least 0")
        positive = ("deadline", "first_poll", "max_poll", "request_timeout", "connect_timeout",
                    "outage_seconds", "retry_first", "retry_max")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.acquire_timeout < 0 or self.poll_growth < 1:
            raise ValueError("acquire_timeout must be >= 0 and poll_growth >= 1")


class _IdLost(Exception):
    """The handler no longer knows the execution: submit the program again."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class _Budget:
    """One run's clock: the overall deadline and the current streak of transient failures."""

    def __init__(self, config: RemoteExecutionConfig, problem_id: str) -> None:
        self.config = config
        self.problem_id = problem_id
        self.deadline = time.monotonic() + config.deadline
        self.execution_id: str | None = None
        self.streak_start: float | None = None
        self.backoff = config.retry_first
        self.last: tuple[_Kind, str] | None = None  # the streak's latest failure
        self.transient_failures = 0

    def where(self) -> str:
        execution = f", execution {self.execution_id}" if self.execution_id else ""
        return f"problem {self.problem_id}{execution}"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def request_timeout(self) -> float:
        return max(0.1, min(self.config.request_timeout, self.remaining()))

    def answered(self) -> None:
        """A usable answer arrived: the streak, if any, is over."""
        if self.streak_start is not None:
            log.info("orchestration answers again (%s)", self.where())
        self.streak_start, self.last, self.backoff = None, None, self.config.retry_first

    def failed(self, kind: _Kind, cause: str, url: str) -> float:
        """Record a transient failure; the pause before trying again, or raise when the
        streak has lasted ``outage_seconds``."""
        now = time.monotonic()
        self.transient_failures += 1
        if self.streak_start is None:
            self.streak_start = now
            log.warning("orchestration %s: %s; retrying (%s)", safe_url(url), cause, self.where())
        self.last = (kind, f"{safe_url(url)}: {cause}")
        if now - self.streak_start >= self.config.outage_seconds:
            raise self.give_up(f"for {now - self.streak_start:.0f}s")
        pause = self.backoff * random.uniform(0.8, 1.2)  # jitter: workers do not all come back at once
        self.backoff = min(self.backoff * 2, self.config.retry_max)
        return pause

    def pause(self, seconds: float) -> None:
        """Sleep, unless that would pass the deadline: then the run ends."""
        if seconds >= self.remaining():
            time.sleep(max(0.0, self.remaining()))
            raise self.give_up(f"within the {self.config.deadline:g}s deadline")
        time.sleep(seconds)

    def give_up(self, when: str) -> Exception:
        if self.last is None:  # the job was running: it just did not finish in time
            return RemoteExecutionFailed(f"no verdict {when}", self.problem_id, self.execution_id)
        kind, cause = self.last
        if kind == _Kind.MALFORMED:
            return RemoteExecutionFailed(f"malformed answers {when}; last: {cause}",
                                         self.problem_id, self.execution_id)
        # Down for outage_seconds already: a pause as long before the step tries again.
        return OrchestrationUnreachable(f"no usable answer {when}; last: {cause}", self.config.outage_seconds)


class RemoteExecutor:
    """The ``Executor`` protocol, over orchestration. Thread-safe: call ``run`` from many threads."""

    def __init__(self, config: RemoteExecutionConfig) -> None:
        self.config = config
        self._http = OrchestrationHttp(config.token, config.connect_timeout)
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._peak = 0
        self._busy = 0
        self._runs = 0
        self._transient = 0
        self._resubmits = 0
        self._typical = 1.0  # a moving average of run times: how long until a slot frees

    def __repr__(self) -> str:
        config = self.config
        return f"RemoteExecutor({safe_url(config.execute_url)}, max_concurrent={config.max_concurrent})"

    def stats(self) -> dict[str, Any]:
        """Counters for health pages and the benchmark."""
        with self._lock:
            return {"in_flight": self._in_flight, "peak_in_flight": self._peak, "busy_rejections": self._busy,
                    "runs": self._runs, "transient_failures": self._transient, "resubmits": self._resubmits,
                    "max_concurrent": self.config.max_concurrent}

    def run(self, problem: Problem, program: str) -> RunResult:
        """The handler's verdict on ``program``; raises ExecutorBusy, OrchestrationUnreachable
        or RemoteExecutionFailed (all SandboxError) when there is none."""
        if not self._slots.acquire(timeout=self.config.acquire_timeout):
            with self._lock:
                self._busy += 1
                # With every slot taken, one frees every typical/max_concurrent seconds on
                # average; jitter spreads the re-queued steps so they do not all return at once.
                share = min(10.0, max(0.2, self._typical / self.config.max_concurrent))
            raise ExecutorBusy(self.config.max_concurrent, share * random.uniform(0.5, 1.5))
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        started = time.monotonic()
        budget = _Budget(self.config, problem.id)
        try:
            result = self._execute(problem.id, program, budget)
            log.debug("problem %s: remote run %s, execution %s, %.3fs", problem.id, result.status,
                      budget.execution_id, time.monotonic() - started)
            return result
        finally:
            self._slots.release()
            with self._lock:
                self._in_flight -= 1
                self._runs += 1
                self._transient += budget.transient_failures
                self._typical = 0.8 * self._typical + 0.2 * (time.monotonic() - started)

    def _execute(self, problem_id: str, program: str, budget: _Budget) -> RunResult:
        for resubmit in range(self.config.resubmits + 1):
            budget.execution_id = self._submit(problem_id, program, budget)
            try:
                return self._await(budget)
            except _IdLost as lost:
                cause = lost.cause
                if resubmit < self.config.resubmits:
                    log.warning("problem %s: execution %s lost (%s); submitting again",
                                problem_id, budget.execution_id, cause)
                    with self._lock:
                        self._resubmits += 1
        raise RemoteExecutionFailed(f"execution lost: {cause}", problem_id, budget.execution_id)

    def _submit(self, problem_id: str, program: str, budget: _Budget) -> str:
        url = self.config.execute_url
        while True:
            try:
                answer = self._http.post(url, {"problem_id": problem_id, "student_program": program},
                                         budget.request_timeout())
            except NetworkFailure as exc:
                budget.pause(budget.failed(_Kind.NETWORK, exc.cause, url))
                continue
            execution_id = answer.field("execution_id")
            if answer.status == 200 and answer.error_text() is None and _usable_id(execution_id):
                budget.answered()
                return str(execution_id)
            if answer.status == 200 and answer.error_text() is not None:
                raise RemoteExecutionFailed(f"the execute URL refused it: {answer.error_text()}", problem_id)
            if answer.status == 200:
                budget.pause(budget.failed(_Kind.MALFORMED, "HTTP 200 without an execution_id", url))
            elif answer.status >= 500 or answer.status in RETRYABLE_4XX:
                budget.pause(budget.failed(_Kind.SERVER, answer.describe(), url))
            else:
                raise RemoteExecutionFailed(f"the execute URL answered {answer.describe()}", problem_id)

    def _await(self, budget: _Budget) -> RunResult:
        url = self.config.result_url
        pause = interval = self.config.first_poll
        while True:
            budget.pause(pause)
            try:
                params = {"execution_id": budget.execution_id or ""}
                answer = self._http.get(url, params, budget.request_timeout())
            except NetworkFailure as exc:
                pause = budget.failed(_Kind.NETWORK, exc.cause, url)
                continue
            if answer.status == 200 and answer.error_text() is not None:
                raise RemoteExecutionFailed(f"orchestration reports {answer.error_text()}", budget.problem_id,
                                            budget.execution_id)
            if answer.status == 200:
                finished = answer.field("job_finished")
                result = _result(answer) if finished is True else None
                if finished is False or result is not None:
                    budget.answered()
                    if result is not None:
                        return result
                    interval = min(interval * self.config.poll_growth, self.config.max_poll)
                    pause = interval
                    continue
                pause = budget.failed(_Kind.MALFORMED, "HTTP 200 without job_finished and a verdict", url)
            elif answer.status == 404 or (answer.status == 500 and answer.error_text() is not None):
                raise _IdLost(answer.describe())
            elif answer.status >= 500 or answer.status in RETRYABLE_4XX:
                pause = budget.failed(_Kind.SERVER, answer.describe(), url)
            else:
                raise RemoteExecutionFailed(f"the result URL answered {answer.describe()}", budget.problem_id,
                                            budget.execution_id)


def _usable_id(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() != ""
    return isinstance(value, int) and not isinstance(value, bool)


def _printable(text: str) -> str:
    # The last stderr line is the program's own text: keep it readable, drop control characters.
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")


def _result(answer: Answer) -> RunResult | None:
    """The RunResult of a finished job's answer; None when the answer lacks a verdict."""
    correct = answer.field("correctness")
    if not isinstance(correct, bool):
        return None
    raw = answer.field("buggy_output")
    buggy = _printable("" if raw is None else str(raw)).strip()
    elapsed = answer.field("elapsed_time")
    run_time = float(elapsed) if isinstance(elapsed, int | float) and not isinstance(elapsed, bool) else 0.0
    if not (math.isfinite(run_time) and run_time >= 0):
        run_time = 0.0
    error = None if correct else bounded(buggy, MAX_ERROR) or NO_DETAIL
    return RunResult(
        correct=correct,
        status=RemoteStatus.PASSED if correct else RemoteStatus.FAILED,
        tests=[],  # the handler judges with its own script: no per-test detail comes back
        # The whole text only when it says more than the one-line error (a prompt quotes both).
        output="" if buggy == error else buggy[:MAX_OUTPUT],
        error=error,
        run_time=run_time,
        executor=REMOTE,
    )
