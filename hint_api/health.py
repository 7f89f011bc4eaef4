"""Liveness and readiness probes for the process manager or load balancer."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify

import migrations
from hint_api import RETRY_AFTER_SECONDS, runtime_of
from models import db
from runtime import ping_broker

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers; it needs neither the database nor the broker for that."""
    return jsonify(status="ok")


def _check(probe: Callable[[], None]) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable ({type(exc).__name__})"


def _database() -> None:
    db.connect(reuse_if_open=True)
    db.execute_sql("SELECT 1")


def _schema(database_url: str) -> str:
    """"ok" when every migration is applied: a schema behind the code fails every API call."""
    try:
        missing = migrations.pending(database_url)
    except Exception as exc:  # noqa: BLE001 - an unreadable schema means not ready
        return f"unreadable ({type(exc).__name__})"
    return f"pending migrations: {', '.join(missing)}" if missing else "ok"


@bp.get("/readyz")
def readyz() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Ready to take requests: the database answers with its schema up to date (no pending
    migration: `python -m scripts.migrate`), and the broker answers."""
    runtime = runtime_of(current_app)
    database = _check(_database)
    checks = {"database": database,
              "migrations": _schema(runtime.settings.database_url) if database == "ok" else "unknown",
              "broker": _check(lambda: ping_broker(runtime.broker))}
    ready = all(v == "ok" for v in checks.values())
    if not ready:  # every 503 of the service says when to look again
        return jsonify(ready=ready, **checks), 503, {"Retry-After": RETRY_AFTER_SECONDS}
    return jsonify(ready=ready, **checks), 200
