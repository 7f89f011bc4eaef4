"""The Dramatiq actors, built from the step table (pipeline.py) for one runtime.

Every actor does the same thing (`flow.process`) for its own step. All share the queue
TASK_QUEUE; each carries its step's RabbitMQ priority, and the same order inside a
worker process, so requests already started finish before new ones begin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq

from hint_actors import flow
from hint_actors.leases import Leases
from hint_actors.middleware.retries import Outage, Wait
from hint_actors.pipeline import STEPS, StepSpec
from hint_core.errors import Busy, Unavailable
from hint_core.lifecycle import Step
from hint_core.redact import safe_cause
from runtime import OUTAGES, Runtime

log = logging.getLogger("hint.actors")


def _in_worker(settings_max: int, broker_priority: int) -> int:
    """Dramatiq's order inside a worker process (lower runs first), mirroring the broker's
    (higher first). A worker prefetches up to twice its threads; without this, those
    messages would run first-in first-out whatever their broker priority."""
    return settings_max - broker_priority


def _actor_function(rt: Runtime, leases: Leases, spec: StepSpec) -> Callable[[int], None]:
    def run(request_pk: int) -> None:
        try:
            flow.process(rt, leases, spec, request_pk)
        except Busy as exc:
            raise Wait(str(exc), delay=int(exc.retry_after * 1000)) from None
        except (*OUTAGES, Unavailable) as exc:
            raise Outage(f"{type(exc).__name__}: {safe_cause(str(exc), rt.settings.secrets())}") from exc

    run.__name__ = run.__qualname__ = spec.step.value
    return run


def declare(rt: Runtime, leases: Leases) -> dict[Step, dramatiq.Actor]:
    """One actor per step on the runtime's broker (its middleware must be installed first)."""
    settings = rt.settings
    actors = {}
    for spec in STEPS.values():
        priority = settings.priority(spec.step)
        actors[spec.step] = dramatiq.actor(
            _actor_function(rt, leases, spec),
            actor_name=spec.step.value,
            queue_name=settings.task_queue,
            broker=rt.broker,
            priority=_in_worker(settings.queue_max_priority, priority),
            max_retries=spec.max_retries,
            min_backoff=spec.min_backoff_ms,
            max_backoff=spec.max_backoff_ms,
            time_limit=spec.time_limit_ms,
        )
    return actors


def give_up_handler(rt: Runtime) -> Callable[[str, dramatiq.Message, BaseException], None]:
    """What the GiveUp middleware calls when a step's retries are used up."""

    def give_up(actor_name: str, message: dramatiq.Message, exception: BaseException) -> None:
        cause = safe_cause(f"{type(exception).__name__}: {exception}", rt.settings.secrets())
        flow.give_up(rt, STEPS[Step(actor_name)], message.args[0], cause)

    return give_up
