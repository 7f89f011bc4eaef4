"""The broker, built from settings: RabbitMQ in production, in-process when embedded."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
import pika.exceptions
import psycopg2
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, default_middleware
from dramatiq.middleware import Retries as DramatiqRetries
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded

from hint_actors import claims
from models import db
from settings import Settings

log = logging.getLogger("hint.broker")


class BrokerPriority(Middleware):
    """Lets actors declare their RabbitMQ message priority on the decorator."""

    @property
    def actor_options(self) -> set[str]:
        return {"broker_priority"}

    def before_enqueue(self, broker, message, delay):  # noqa: ANN001 - Dramatiq's signature
        if "broker_priority" not in message.options:
            priority = broker.get_actor(message.actor_name).options.get("broker_priority")
            if priority is not None:
                message.options["broker_priority"] = priority


class DatabaseConnection(Middleware):
    """A pooled connection per message, returned to the pool when the message is done."""

    def before_process_message(self, broker, message):  # noqa: ANN001
        db.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        if not db.is_closed():
            db.close()

    after_skip_message = after_process_message


class GiveUp(Middleware):
    """Calls `handler(actor_name, message, exception)` when a message's retries are exhausted.

    Runs after the Retries middleware, which marks such a message as failed.
    """

    def __init__(self, handler: Callable[[str, dramatiq.Message, BaseException], None]):
        self.handler = handler

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        if exception is not None and message.failed:
            try:
                db.connect(reuse_if_open=True)
                self.handler(message.actor_name, message, exception)
            except Exception:  # the handler must never take the worker down
                log.exception("could not record the failure of message %s", message.message_id)
            finally:
                if not db.is_closed():
                    db.close()


# An outage of the database or the broker is nobody's fault in the step that met it.
OUTAGE_ERRORS = (
    OperationalError,  # peewee's wrapper: connection refused or lost, server shutting down
    InterfaceError,  # a connection already closed under us
    psycopg2.OperationalError,
    MaxConnectionsExceeded,  # every pooled connection busy for the whole wait
    dramatiq.errors.BrokerConnectionError,  # publishing the next step failed
    pika.exceptions.AMQPError,
)
OUTAGE_RETRIES = 120  # with backoff capped at 30 s: about an hour of outage
OUTAGE_MIN_BACKOFF_MS = 1000
OUTAGE_MAX_BACKOFF_MS = 30_000


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


class Retries(DramatiqRetries):
    """Dramatiq's retries, except that an outage does not count against the step.

    A step that failed because PostgreSQL or RabbitMQ went away is retried until they
    are back (up to OUTAGE_RETRIES times), instead of using up its few retries and
    ending the request with a failed hint for a reason that was not its own.
    """

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        outages = message.options.get("outages", 0)
        if exception is None or not is_outage(exception) or outages >= OUTAGE_RETRIES:
            return super().after_process_message(broker, message, result=result, exception=exception)
        message.options["outages"] = outages + 1
        backoff = min(OUTAGE_MAX_BACKOFF_MS, OUTAGE_MIN_BACKOFF_MS * 2 ** min(outages, 10))
        delay = int(backoff * random.uniform(0.5, 1.0))  # jitter: workers do not all return at once
        log.warning(
            "%s(%s): %s during an outage; retrying in %d ms",
            message.actor_name, message.args[0] if message.args else "", type(exception).__name__, delay,
        )
        # If the broker is the one down, this raises and the message is not acknowledged:
        # RabbitMQ hands it out again once it is back.
        broker.enqueue(message, delay=delay)


class ReleaseClaims(Middleware):
    """Releases the claims a failed step took, so its retry can claim the work at once."""

    def __init__(self) -> None:
        self._unreleased: list[claims.Held] = []
        self._lock = threading.Lock()

    def before_process_message(self, broker, message):  # noqa: ANN001
        claims.forget_held()
        with self._lock:
            pending, self._unreleased = self._unreleased, []
        if pending:  # the database was down when they should have been released
            self._release(pending)

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        held = claims.forget_held()
        if exception is not None and held:
            self._release(held)

    after_skip_message = after_process_message

    def _release(self, held: list[claims.Held]) -> None:
        try:
            db.connect(reuse_if_open=True)
            claims.release(held)
        except Exception as exc:  # noqa: BLE001 - kept and tried again with the next message
            log.warning("could not release %d claim(s) yet: %s", len(held), type(exc).__name__)
            with self._lock:
                self._unreleased.extend(held)


# RabbitMQ blocks publishers when it runs out of memory or disk; without a timeout a
# publish would then wait forever, holding an API thread or a worker thread.
PIKA_DEFAULTS = {"blocked_connection_timeout": "30", "socket_timeout": "5"}


def amqp_url(url: str) -> str:
    """`url` with PIKA_DEFAULTS for the parameters it does not set itself."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in PIKA_DEFAULTS.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _middleware() -> list[Middleware]:
    """Dramatiq's default middleware, with the outage-aware Retries in place of its own."""
    return [Retries() if cls is DramatiqRetries else cls() for cls in default_middleware]


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.rabbitmq_url:
        # One connection per thread, reused for every publish; dramatiq replaces it when
        # it breaks (a restarted broker) and retries the publish on the new one.
        broker = RabbitmqBroker(
            url=";".join(amqp_url(u) for u in settings.rabbitmq_url.split(";")),
            confirm_delivery=True,  # a publish returns only once RabbitMQ has the message
            max_priority=settings.queue_max_priority,
            middleware=_middleware(),
        )
    else:
        broker = StubBroker(middleware=_middleware())
        broker.emit_after("process_boot")
    broker.add_middleware(BrokerPriority())
    broker.add_middleware(DatabaseConnection())
    broker.add_middleware(ReleaseClaims())
    return broker


def ping(broker: dramatiq.Broker) -> None:
    """Raise unless this thread can talk to the broker (the in-process broker always can).

    A connection the broker dropped (it restarted) is replaced once, so readiness
    reflects the broker, not a stale connection of this thread.
    """
    if not isinstance(broker, RabbitmqBroker):
        return
    for attempt in (1, 2):
        try:
            broker.connection.process_data_events(time_limit=0)
            return
        except Exception:
            del broker.connection  # the next use opens a fresh one
            if attempt == 2:
                raise


class Sweeper(Middleware):
    """Runs `sweep_once` every `interval` seconds in a thread of each worker process."""

    def __init__(self, sweep_once: Callable[[], None], interval: float):
        self.sweep_once = sweep_once
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker, worker):  # noqa: ANN001
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="hint-sweep", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker, worker):  # noqa: ANN001
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                db.connect(reuse_if_open=True)
                self.sweep_once()
            except Exception:  # a failed pass is retried at the next tick
                log.exception("sweep pass failed")
            finally:
                if not db.is_closed():
                    db.close()
