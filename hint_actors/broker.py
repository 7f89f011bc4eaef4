"""The broker, built from settings: RabbitMQ in production, in-process when embedded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

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


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.rabbitmq_url:
        broker = RabbitmqBroker(
            url=settings.rabbitmq_url,
            confirm_delivery=True,  # a publish returns only once RabbitMQ has the message
            max_priority=settings.queue_max_priority,
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(BrokerPriority())
    broker.add_middleware(DatabaseConnection())
    return broker


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
