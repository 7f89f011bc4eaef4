"""The worker host's HTTP port (WORKER_METRICS_PORT): /metrics, /healthz and /readyz.

`dramatiq hint_actors` starts `serve` in a process of its own (a Dramatiq "fork", the way
Dramatiq's Prometheus middleware starts its exposition server; see
hint_actors/middleware/metrics.py). It lives outside the `hint_actors` package on
purpose: the fork imports it by name, and importing `hint_actors` under Dramatiq's
command line would build a whole worker in the fork.

- `/metrics`: every worker process's metrics summed (prometheus_client's multiprocess
  mode over PROMETHEUS_MULTIPROC_DIR): Dramatiq's message metrics and the steps' outcomes.
- `/healthz` (liveness): 200 while at least one worker process of this host beat in the
  last `STALE_SECONDS`; a process beats only while its consumer and worker threads are
  all alive. 503 means restart the container.
- `/readyz` (readiness): live, and the database answers. 503 means this host does no
  work now (it will retry by itself); look at the database.

Every 503 carries Retry-After. `python -m scripts.probe_worker` asks it (a compose
healthcheck).
"""

from __future__ import annotations

import json
import logging
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger("hint.worker_probe")

BEAT_SECONDS = 5.0  # how often a healthy worker process touches its beat file
STALE_SECONDS = 20.0  # no beat for this long: the process is dead or stuck
BEAT_PREFIX = "beat-"
RETRY_AFTER_SECONDS = "5"


def beat_path(metrics_dir: Path, pid: int) -> Path:
    return metrics_dir / f"{BEAT_PREFIX}{pid}"


def live_workers(metrics_dir: Path, now: float | None = None) -> int:
    """Worker processes of this host that beat recently."""
    now = time.time() if now is None else now
    live = 0
    for beat in metrics_dir.glob(f"{BEAT_PREFIX}*"):
        try:
            if now - beat.stat().st_mtime <= STALE_SECONDS:
                live += 1
        except FileNotFoundError:  # its process shut down between the listing and the stat
            continue
    return live


def _database_ok(database_url: str) -> str:
    from database import make_database

    database = make_database(database_url, max_connections=1)
    try:
        database.connect(reuse_if_open=True)
        database.execute_sql("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable ({type(exc).__name__})"
    finally:
        database.close()


def handler_for(metrics_dir: Path, database_url: str) -> type[BaseHTTPRequestHandler]:
    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                return self._metrics()
            if self.path not in ("/healthz", "/readyz"):
                return self._answer(404, {"error": "not found; try /metrics, /healthz or /readyz"})
            live = live_workers(metrics_dir)
            body: dict[str, object] = {"live_worker_processes": live}
            ok = live > 0
            if self.path == "/readyz":
                body["database"] = _database_ok(database_url)
                ok = ok and body["database"] == "ok"
            body["ready" if self.path == "/readyz" else "status"] = ok if self.path == "/readyz" else (
                "ok" if ok else "no live worker process")
            return self._answer(200 if ok else 503, body)

        def _metrics(self) -> None:
            import prometheus_client as prom
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(metrics_dir))
            output = prom.generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", prom.CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(output)))
            self.end_headers()
            self.wfile.write(output)

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", RETRY_AFTER_SECONDS)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)  # polled every few seconds: not worth an INFO line

    return Probe


def serve() -> None:
    """The fork's entry point: serve the port until Dramatiq stops the fork."""
    from logs import configure_logging
    from settings import load_settings

    settings = load_settings()
    configure_logging(settings)  # LOG_FORMAT and LOG_LEVEL, as every process of the service
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.metrics_dir)  # before prometheus_client is imported
    settings.metrics_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = ThreadingHTTPServer((settings.worker_metrics_host, settings.worker_metrics_port),
                                     handler_for(settings.metrics_dir, settings.database_url))
    except OSError as exc:  # the workers go on working; only the probe and metrics are missing
        log.error("worker probe: cannot listen on %s:%d (WORKER_METRICS_PORT): %s", settings.worker_metrics_host,
                  settings.worker_metrics_port, exc)
        return
    log.info("worker probe and metrics on %s:%d", settings.worker_metrics_host, settings.worker_metrics_port)
    server.serve_forever()
