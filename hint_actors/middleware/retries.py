"""Dramatiq's retries, except for what is nobody's failure: waiting, and outages.

A step that met an outage of PostgreSQL or RabbitMQ is retried until they are back (up
to OUTAGE_RETRIES times, about an hour) instead of using up its few retries and ending
the request with a failed hint for a reason that was not its own. A step that found its
work in another worker's hands (`hint_core.errors.Busy`) looks again after the time the
other one needs, also without counting. Both are logged as one line, no traceback.
"""

from __future__ import annotations

import logging
import random

import dramatiq
from dramatiq.middleware import Retries as DramatiqRetries

log = logging.getLogger("hint.retries")

OUTAGE_RETRIES = 120  # with backoff capped at 30 s: about an hour of outage
OUTAGE_MIN_BACKOFF_MS = 1000
OUTAGE_MAX_BACKOFF_MS = 30_000


class Wait(dramatiq.Retry):
    """Raised by an actor whose work is in another's hands: look again after `delay` ms."""


class Outage(dramatiq.Retry):
    """Raised by an actor that met an outage of the database or the broker."""


class Retries(DramatiqRetries):
    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if isinstance(exception, Wait):
            log.info("%s(%s): %s; looking again in %d ms", message.actor_name, _arg(message), exception,
                     exception.delay)
            # If the broker is the one down, this raises and the message is not acknowledged:
            # RabbitMQ hands it out again once it is back.
            broker.enqueue(message, delay=exception.delay)
            return
        outages = message.options.get("outages", 0)
        if not isinstance(exception, Outage) or outages >= OUTAGE_RETRIES:
            return super().after_process_message(broker, message, result=result, exception=exception)
        message.options["outages"] = outages + 1
        backoff = min(OUTAGE_MAX_BACKOFF_MS, OUTAGE_MIN_BACKOFF_MS * 2 ** min(outages, 10))
        delay = int(backoff * random.uniform(0.5, 1.0))  # jitter: workers do not all return at once
        log.warning("%s(%s): %s during an outage; retrying in %d ms", message.actor_name, _arg(message),
                    exception, delay)
        broker.enqueue(message, delay=delay)


def _arg(message: dramatiq.Message) -> object:
    return message.args[0] if message.args else ""
