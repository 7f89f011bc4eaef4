"""Serve the API with waitress: `python -m hint_api.serve` (listens on $PORT, default 8001).

In the embedded mode (no RABBITMQ_URL) the same process also runs the workers, on the
in-process broker, and applies the SQLite migrations first, so one command is enough.
"""

from __future__ import annotations

import logging

from waitress import serve

from hint_api import create_app
from logs import configure_logging
from migrations import migrate
from runtime import build
from settings import load_settings, warn_unknown

log = logging.getLogger("hint.serve")

# Shared with the benchmark's trivial-route baseline, so both measure the same server.
WAITRESS_OPTIONS = {"threads": 16, "connection_limit": 1000, "channel_timeout": 30}


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    warn_unknown(settings, log)
    runtime = build(settings)
    app = create_app(runtime)
    if settings.embedded_broker:
        from hint_actors import worker  # the embedded mode runs the workers in this process

        migrate(settings.database_url)
        worker.start(runtime)
        log.info("embedded mode: in-process broker and workers, database %s", settings.database_label)
    log.info("listening on port %d", settings.port)
    serve(app, host="0.0.0.0", port=settings.port, **WAITRESS_OPTIONS)


if __name__ == "__main__":
    main()
