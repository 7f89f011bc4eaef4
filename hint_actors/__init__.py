"""The worker side: `dramatiq hint_actors` imports this package.

Importing it binds the database, builds the broker from settings and declares the actors.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.middleware import Retries

from hint_actors import timing
from hint_actors.broker import GiveUp, Sweeper, build_broker
from models import connect_database
from settings import get_settings

_settings = get_settings()
logging.basicConfig(
    level=_settings.log_level, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
)
connect_database(_settings.database_url, _settings.db_max_connections)
broker = build_broker(_settings)
timing.install(broker)
dramatiq.set_broker(broker)

from hint_actors import actors  # noqa: E402 - actors bind to the broker set just above

# Placed before Retries: `after_*` hooks run in reverse, so Retries marks the message first.
broker.add_middleware(GiveUp(actors.on_give_up), before=Retries)
broker.add_middleware(Sweeper(actors.sweep_once, _settings.sweep_interval_seconds))

__all__ = ["actors", "broker"]
