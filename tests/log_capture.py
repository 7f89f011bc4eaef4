"""The service's own logging setup (logs.configure_logging) writing into a string, and put
back as it was after the test: the tests read the lines an operator would read."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from logs import configure_logging
from settings import Settings

LOGGERS = ("pika", "pika.adapters.blocking_connection", "peewee", "httpx", "httpx2", "httpcore", "urllib3", "openai")


@pytest.fixture
def log_lines() -> Iterator[Callable[[Settings], io.StringIO]]:
    """`configure(settings)` installs the service's logging into a StringIO and returns it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in LOGGERS}
    saved_filters = {name: logging.getLogger(name).filters[:] for name in LOGGERS}

    def configure(settings: Settings) -> io.StringIO:
        stream = io.StringIO()
        configure_logging(settings, stream=stream)
        return stream

    yield configure
    for handler in root.handlers[:]:
        if handler not in saved[0]:
            root.removeHandler(handler)
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).filters[:] = saved_filters[name]


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line of a LOG_FORMAT=json stream, parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
