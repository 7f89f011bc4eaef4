"""The Dramatiq actors: each one calls one step and sends the step's follow-up messages.

All actors share the queue TASK_QUEUE; later steps carry higher message priorities so
requests already started finish before new ones begin.
"""

from __future__ import annotations

import logging
import os
import socket

import dramatiq

from hint_actors import steps, sweep
from settings import get_settings

log = logging.getLogger("hint.actors")

_settings = get_settings()
QUEUE = _settings.task_queue
P = _settings.priorities
SECOND = 1000
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def _in_worker(broker_priority: int) -> int:
    """Dramatiq's order inside a worker process (lower runs first), mirroring the broker's
    (higher first). A worker prefetches up to twice its threads; without this, those
    messages would run first-in first-out whatever their broker priority."""
    return _settings.queue_max_priority - broker_priority


def send_next(messages: list[steps.Next]) -> None:
    for message in messages:
        ACTORS[message.actor].send(message.arg)


@dramatiq.actor(queue_name=QUEUE, broker_priority=P.run_student_program, priority=_in_worker(P.run_student_program), max_retries=3, min_backoff=SECOND, time_limit=120 * SECOND)
def run_student_program(request_pk: int) -> None:
    send_next(steps.run_student_program(request_pk))


@dramatiq.actor(queue_name=QUEUE, broker_priority=P.query_for_enhanced_programs, priority=_in_worker(P.query_for_enhanced_programs), max_retries=3, min_backoff=2 * SECOND, time_limit=600 * SECOND)
def query_for_enhanced_programs(request_pk: int) -> None:
    send_next(steps.query_for_enhanced_programs(request_pk))


@dramatiq.actor(queue_name=QUEUE, broker_priority=P.run_enhanced_program, priority=_in_worker(P.run_enhanced_program), max_retries=3, min_backoff=SECOND, time_limit=120 * SECOND)
def run_enhanced_program(request_pk: int) -> None:
    send_next(steps.run_enhanced_program(request_pk))


@dramatiq.actor(queue_name=QUEUE, broker_priority=P.add_reflection, priority=_in_worker(P.add_reflection), max_retries=5, min_backoff=SECOND)
def add_reflection(request_pk: int) -> None:
    send_next(steps.add_reflection(request_pk))


@dramatiq.actor(queue_name=QUEUE, broker_priority=P.generate_hint, priority=_in_worker(P.generate_hint), max_retries=3, min_backoff=2 * SECOND, time_limit=600 * SECOND)
def generate_hint(request_pk: int) -> None:
    send_next(steps.generate_hint(request_pk))


# Orchestration may be down for a while: keep trying with growing pauses (up to ~10 min apart).
@dramatiq.actor(queue_name=QUEUE, broker_priority=P.return_hint, priority=_in_worker(P.return_hint), max_retries=25, min_backoff=SECOND, max_backoff=600 * SECOND)
def return_hint(request_pk: int) -> None:
    try:
        send_next(steps.return_hint(request_pk))
    except steps.ReportInProgress:
        # Another delivery is posting it; look again once that one is done (or expired).
        raise dramatiq.Retry(delay=5 * SECOND) from None


ACTORS = {
    actor.actor_name: actor
    for actor in (run_student_program, query_for_enhanced_programs, run_enhanced_program, add_reflection, generate_hint, return_hint)
}


def on_give_up(actor_name: str, message: dramatiq.Message, exception: BaseException) -> None:
    """A step failed for good: end the request with a failed hint that names step and cause."""
    cause = steps.safe_cause(f"{type(exception).__name__}: {exception}")
    arg = message.args[0]
    if actor_name == "run_enhanced_program":
        send_next(steps.give_up_candidates(arg, cause))
    elif actor_name == "return_hint":
        log.error("request pk %s: giving up reporting the hint: %s", arg, cause)
    else:
        send_next(steps.fail_request(arg, f"{actor_name} failed: {cause}"))


def sweep_once() -> None:
    """One sweep pass, if this process holds the lease."""
    # Three missed renewals hand the sweep to another process (its holder died).
    if sweep.acquire_lease(HOLDER, ttl_seconds=max(3.0, 3 * _settings.sweep_interval_seconds)):
        send_next(sweep.sweep(_settings.stall_seconds, bool(_settings.save_hint_url)))
