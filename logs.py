"""Log configuration for every process (web, worker, scripts), from the settings.

Every line names the request it is about: the web side binds orchestration's request id
as soon as a call has parsed it (`bind_request_id`), the worker while it runs a step
(`request_context`, from the message's options), the sweep while it looks at a request.
`LOG_FORMAT=text` appends `request_id=N` to a line whose message does not already say so;
`LOG_FORMAT=json` writes one JSON object per line with `request_id` and the line's own
fields (a step's timings, an API call's method, path, status and duration).
docs/operations.md ("Logs") shows both and says what is never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any

from settings import LogFormat, Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"

# Orchestration's request id of what this thread is working on (an API call, a step).
REQUEST_ID: ContextVar[int | None] = ContextVar("hint_request_id", default=None)

# Libraries that would log every HTTP call (the LLM's, the callback's) at INFO, or a
# request's whole body (openai: the prompts) at DEBUG: at least WARNING, whatever LOG_LEVEL says.
NOISY = ("httpx", "httpx2", "httpcore", "urllib3", "openai")


def bind_request_id(request_id: int | None) -> None:
    """Name `request_id` on this thread's lines until the next bind (the web side binds
    None at the start of every call, so a waitress thread never carries one over)."""
    REQUEST_ID.set(request_id)


@contextmanager
def request_context(request_id: int | None) -> Iterator[None]:
    """Name `request_id` on the lines logged inside the block."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts `request_id` (and `fields`, a line's own structured data) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if not isinstance(getattr(record, "fields", None), dict):
            record.fields = {}
        return True


class TextFormatter(logging.Formatter):
    """FORMAT, with ` request_id=N` after the message when the message does not say it."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        if request_id is not None and f"request_id={request_id}" not in record.message:
            line += f" request_id={request_id}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, process, the
    line's own fields, and the traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "process": record.process,
        }
        for key, value in getattr(record, "fields", {}).items():
            entry.setdefault(key, value)  # a field never hides the standard keys
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class BrokerReconnect(logging.Filter):
    """RabbitMQ closing a connection (an idle web thread's, a restarted broker's) is expected:
    dramatiq opens a new one and publishes again. pika reports it as three ERROR lines with
    tracebacks; this keeps its one "connection close detected" line, as a WARNING without a
    traceback, and drops the rest (a publish that still fails is our own 503 line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        if not record.getMessage().startswith("Unexpected connection close detected"):
            return False
        reason = record.args[0] if isinstance(record.args, tuple) and record.args else record.getMessage()
        reason_name = type(reason).__name__ if isinstance(reason, BaseException) else "connection closed"
        record.msg = "RabbitMQ connection lost (%s); a new one is opened for the next message"
        record.args = (reason_name,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


_BROKER_RECONNECT = BrokerReconnect()


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """The level and format the settings ask for, and the libraries' noise turned down.
    `stream` is standard error unless a test hands in its own."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format is LogFormat.JSON else TextFormatter())
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # pika: only its lost-connection line, rewritten (BrokerReconnect), and CRITICAL.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    lost = logging.getLogger("pika.adapters.blocking_connection")
    lost.setLevel(logging.ERROR)
    lost.addFilter(_BROKER_RECONNECT)
    # Every SQL statement with its parameters (programs, prompts, hidden tests) at DEBUG:
    # never, whatever LOG_LEVEL says.
    logging.getLogger("peewee").setLevel(logging.INFO)
