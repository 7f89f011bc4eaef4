"""Serve the API with waitress: `python -m hint_api.serve` (listens on $PORT, default 8001).

In the embedded mode (no RABBITMQ_URL) the same process also runs the workers, on the
in-process broker, and applies the SQLite migrations first, so one command is enough.
"""

from __future__ import annotations

import logging

import dramatiq
from waitress import serve

from hint_api import create_app
from settings import Settings, get_settings

log = logging.getLogger("hint.serve")

# Shared with the benchmark's trivial-route baseline, so both measure the same server.
WAITRESS_OPTIONS = {"threads": 16, "connection_limit": 1000, "channel_timeout": 30}


def start_embedded_worker(settings: Settings) -> dramatiq.Worker:
    """Run the actors in this process, on the in-process broker."""
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=settings.worker_threads, worker_timeout=100)
    worker.start()
    return worker


def main() -> None:
    settings = get_settings()
    app = create_app(settings)
    if settings.embedded_broker:
        from scripts.migrate import migrate

        migrate(settings.database_url)
        start_embedded_worker(settings)
        log.info("embedded mode: in-process broker and workers, database %s", settings.database_url.split("://")[0])
    log.info("listening on port %d", settings.port)
    serve(app, host="0.0.0.0", port=settings.port, **WAITRESS_OPTIONS)


if __name__ == "__main__":
    main()
