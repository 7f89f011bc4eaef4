"""A pooled database connection per message, returned to the pool when the message is done."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Middleware

from database import close_connection
from models import db


class DatabaseConnection(Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        db.connect(reuse_if_open=True)

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        close_connection()

    after_skip_message = after_process_message
