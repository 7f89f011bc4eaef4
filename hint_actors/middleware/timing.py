"""One structured log line per processed message: how long it queued and how long it worked.

Operators grep these lines to see where a slow request spent its time; the benchmark
(`python -m scripts.bench`) reads them for its per-step split. A line looks like

    step actor=run_enhanced_program request_id=123 arg=45 queue_wait_ms=3.1 work_ms=27.4 cpu_ms=4.2 retries=0 outcome=ok

`cpu_ms` is the CPU time of the worker thread that ran the step (not of the programs it
ran in the sandbox, nor of threads it started): work_ms much larger than cpu_ms means the
step waited (for the LLM, the sandbox, the database or the GIL). Every message carries
orchestration's `request_id` (`Runtime.send` puts it there), so no line needs a lookup;
every other line logged while the step runs names it too (logs.REQUEST_ID). With
LOG_FORMAT=json the line's values are also fields of its JSON object.
"""

from __future__ import annotations

import logging
import threading
import time

import dramatiq
from dramatiq.middleware import Middleware

from logs import REQUEST_ID
from runtime import REQUEST_ID_OPTION

log = logging.getLogger("hint.timing")


def format_line(actor: str, request_id: object, arg: object, queue_wait_ms: float, work_ms: float,
                cpu_ms: float, retries: int, outcome: str) -> str:
    """The logfmt body of a step line; `scripts.bench_steps.parse_line` reads it back."""
    return (
        f"step actor={actor} request_id={request_id if request_id is not None else '-'} arg={arg} "
        f"queue_wait_ms={queue_wait_ms:.1f} work_ms={work_ms:.1f} cpu_ms={cpu_ms:.1f} retries={retries} "
        f"outcome={outcome}"
    )


def outcome_of(message: dramatiq.Message, exception: BaseException | None) -> str:
    """ok, wait (another worker has the work), retry, or failed (retries used up)."""
    if exception is None:
        return "ok"
    if message.failed:
        return "failed"
    return "wait" if isinstance(exception, dramatiq.Retry) else "retry"


class StepTiming(Middleware):
    """Logs queue wait (enqueued, or due after a retry backoff, until started) and work time.

    First in the list, so the work time includes every other middleware (e.g. waiting for
    a pooled database connection) and the queue wait is only time spent in a queue.
    """

    def __init__(self) -> None:
        self._current = threading.local()  # both hooks run on the same worker thread

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        # Every line this thread logs until the step ends names the request (logs.py).
        self._current.context = REQUEST_ID.set(message.options.get(REQUEST_ID_OPTION))
        self._current.started = time.time()
        self._current.cpu_started = time.thread_time()

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        started = getattr(self._current, "started", None)
        if started is None:
            return
        ended, cpu = time.time(), time.thread_time() - self._current.cpu_started
        # A retried message keeps its first timestamp; count its wait from when it was due.
        due_ms = message.options.get("eta") or message.message_timestamp
        fields = {
            "actor": message.actor_name, "arg": message.args[0] if message.args else None,
            "queue_wait_ms": round(max(0.0, started * 1000 - due_ms), 1), "work_ms": round((ended - started) * 1000, 1),
            "cpu_ms": round(cpu * 1000, 1), "retries": message.options.get("retries", 0),
            "outcome": outcome_of(message, exception),
        }
        request_id = message.options.get(REQUEST_ID_OPTION)
        log.info(format_line(
            fields["actor"], request_id, fields["arg"] if fields["arg"] is not None else "-", fields["queue_wait_ms"],
            fields["work_ms"], fields["cpu_ms"], fields["retries"], fields["outcome"],
        ), extra={"fields": fields, "request_id": request_id})
        self._current.started = None
        REQUEST_ID.reset(self._current.context)

    after_skip_message = after_process_message
