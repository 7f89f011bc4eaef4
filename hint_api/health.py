"""Liveness and readiness probes for the process manager or load balancer."""

from __future__ import annotations

import dramatiq
from flask import Blueprint, jsonify

from hint_actors.broker import ping
from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers; it needs neither the database nor the broker for that."""
    return jsonify(status="ok")


def _check(probe) -> str:  # noqa: ANN001
    try:
        probe()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable ({type(exc).__name__})"


def _database() -> None:
    db.connect(reuse_if_open=True)
    db.execute_sql("SELECT 1")


@bp.get("/readyz")
def readyz():
    """Ready to take requests: the database and the broker both answer."""
    checks = {"database": _check(_database), "broker": _check(lambda: ping(dramatiq.get_broker()))}
    ready = all(v == "ok" for v in checks.values())
    return jsonify(ready=ready, **checks), 200 if ready else 503
