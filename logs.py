"""Log configuration for every process (web, worker, scripts), from the settings."""

from __future__ import annotations

import logging

from settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging(settings: Settings) -> None:
    """The level and format the settings ask for, and the libraries' noise turned down."""
    logging.basicConfig(level=settings.log_level, format=FORMAT, force=True)
    # One INFO line per HTTP call of the LLM client or of the callback is noise, not news.
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "pika"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # Every SQL statement with its parameters (programs, prompts, hidden tests) at DEBUG:
    # never, whatever LOG_LEVEL says.
    logging.getLogger("peewee").setLevel(logging.INFO)
