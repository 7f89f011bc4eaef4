"""Serve the API with waitress: `python -m hint_api.serve` (listens on $HOST:$PORT, default
127.0.0.1:8001).

In the embedded mode (no RABBITMQ_URL) the same process also runs the workers, on the
in-process broker, and applies the SQLite migrations first, so one command is enough.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

from waitress import serve

from hint_api import MAX_BODY_BYTES, create_app
from logs import configure_logging
from migrations import migrate
from runtime import build
from settings import load_settings, warn_unknown

log = logging.getLogger("hint.serve")

# File descriptors kept for everything but client connections: database and broker
# connections, the sandbox's sockets and pipes, log files.
RESERVED_FDS = 256
MAX_CONNECTIONS = 10_000


def open_files_limit() -> int:
    """Raise this process's open-files limit to what the system allows, and return it: a
    flood of idle connections must find room (with poll(), not select(), no fd is too high)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def waitress_options() -> dict[str, Any]:
    """How waitress meets hostile clients (shared with the benchmark's trivial route).

    poll() instead of select(): select() fails for a descriptor above 1023, and took the
    process down under a flood. Connections are capped below the open-files limit; a body
    larger than the API accepts is refused at its headers; a connection that stalls (a
    half-sent body, an idle client) is closed after `channel_timeout` seconds.
    """
    return {
        "threads": 16,
        "asyncore_use_poll": True,
        "connection_limit": max(100, min(MAX_CONNECTIONS, open_files_limit() - RESERVED_FDS)),
        "channel_timeout": 15,
        "cleanup_interval": 5,
        "max_request_body_size": MAX_BODY_BYTES,
        "max_request_header_size": 64 * 1024,
    }


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    warn_unknown(settings, log)
    runtime = build(settings)
    app = create_app(runtime)
    if settings.embedded_broker:
        from hint_actors import worker  # the embedded mode runs the workers in this process

        migrate(settings.database_url)
        worker.preflight(runtime)
        worker.start(runtime)
        log.info("embedded mode: in-process broker and workers, database %s", settings.database_label)
    options = waitress_options()
    log.info("listening on %s:%d (up to %d connections)", settings.host, settings.port, options["connection_limit"])
    serve(app, host=settings.host, port=settings.port, **options)


if __name__ == "__main__":
    main()
