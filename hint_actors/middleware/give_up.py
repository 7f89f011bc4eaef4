"""Calls `handler(actor_name, message, exception)` when a message's retries are used up.

It stands before Retries in the middleware list: `after_*` hooks run in reverse order,
so Retries has marked the message failed by the time this one looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Middleware

from database import close_connection
from models import db

log = logging.getLogger("hint.give_up")

Handler = Callable[[str, dramatiq.Message, BaseException], None]


class GiveUp(Middleware):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        try:
            db.connect(reuse_if_open=True)
            self.handler(message.actor_name, message, exception)
        except Exception:  # the handler must never take the worker down
            log.exception("could not record the failure of message %s", message.message_id)
        finally:
            close_connection()
