"""One structured log line per processed message: how long it queued and how long it worked.

Operators grep these lines to see where a slow request spent its time; the benchmark
(`python -m scripts.bench`) reads them for its per-step split. A line looks like

    step actor=run_enhanced_program request_id=123 arg=45 queue_wait_ms=3.1 work_ms=27.4 cpu_ms=4.2 retries=0 outcome=ok

`cpu_ms` is the CPU time of the worker thread that ran the step (not of the programs it
ran in the sandbox, nor of threads it started): work_ms much larger than cpu_ms means the
step waited (for the LLM, the sandbox, the database or the GIL).

Messages carry orchestration's `request_id` as a message option: the API tags the first
messages of a request, and a message sent while another is processed inherits its tag,
so every step of a request logs the id operators know without a database lookup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
from dramatiq.middleware import Middleware

log = logging.getLogger("hint.timing")

OPTION = "request_id"
_current = threading.local()


@contextmanager
def tagged(request_id: int | None) -> Iterator[None]:
    """Messages sent inside this block carry `request_id` (for the API's first sends)."""
    previous = getattr(_current, "request_id", None)
    _current.request_id = request_id
    try:
        yield
    finally:
        _current.request_id = previous


def format_line(actor: str, request_id: object, arg: object, queue_wait_ms: float, work_ms: float,
                cpu_ms: float, retries: int, outcome: str) -> str:
    """The logfmt body of a step line; `scripts.bench_steps.parse_line` reads it back."""
    return (
        f"step actor={actor} request_id={request_id if request_id is not None else '-'} arg={arg} "
        f"queue_wait_ms={queue_wait_ms:.1f} work_ms={work_ms:.1f} cpu_ms={cpu_ms:.1f} retries={retries} "
        f"outcome={outcome}"
    )


class StepTiming(Middleware):
    """Logs queue wait (enqueued, or due after a retry backoff, until started) and work time."""

    def before_enqueue(self, broker, message, delay):  # noqa: ANN001 - Dramatiq's signature
        request_id = getattr(_current, "request_id", None)
        if request_id is not None and OPTION not in message.options:
            message.options[OPTION] = request_id

    def before_process_message(self, broker, message):  # noqa: ANN001
        # Both hooks run on the same worker thread, so a thread-local is enough.
        _current.started = time.time()
        _current.cpu_started = time.thread_time()
        _current.request_id = message.options.get(OPTION)

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        started = getattr(_current, "started", None)
        if started is None:
            return
        ended, cpu = time.time(), time.thread_time() - _current.cpu_started
        # A retried message keeps its first timestamp; count its wait from when it was due.
        due_ms = message.options.get("eta") or message.message_timestamp
        outcome = "ok" if exception is None else ("failed" if message.failed else "retry")
        log.info(format_line(
            message.actor_name, message.options.get(OPTION), message.args[0] if message.args else "-",
            max(0.0, started * 1000 - due_ms), (ended - started) * 1000, cpu * 1000,
            message.options.get("retries", 0), outcome,
        ))
        _current.started = None
        _current.request_id = None

    after_skip_message = after_process_message


def install(broker: dramatiq.Broker) -> None:
    """First in line, so the work time includes every other middleware (e.g. waiting for a
    pooled database connection) and the queue wait is only time spent in a queue."""
    first = type(broker.middleware[0]) if broker.middleware else None
    broker.add_middleware(StepTiming(), before=first)
