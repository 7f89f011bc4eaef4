"""Liveness and readiness probes for the process manager or load balancer."""

from __future__ import annotations

import dramatiq
from flask import Blueprint, current_app, jsonify

from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        db.execute_sql("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure as not ready
        checks["database"] = f"unreachable ({type(exc).__name__})"
    broker = dramatiq.get_broker()
    try:
        if hasattr(broker, "channel"):  # RabbitMQ; the in-process broker is always there
            broker.channel.queue_declare(queue=current_app.config["SETTINGS"].task_queue, passive=True)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"unreachable ({type(exc).__name__})"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(ready=ready, **checks), 200 if ready else 503
