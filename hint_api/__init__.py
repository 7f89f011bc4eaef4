"""The HTTP side: an application factory in the style of Flask's tutorial."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from hint_actors.broker import OUTAGE_ERRORS
from hint_api.console import CONSOLE_BLUEPRINT, init_console
from hint_api.intake import IntakeError
from models import db
from settings import Settings, get_settings

log = logging.getLogger("hint.api")

MAX_BODY_BYTES = 1024 * 1024
# Probes answer without the token and without the database (see health.py).
OPEN_ENDPOINTS = ("health.healthz", "health.readyz")


def _authorized(settings: Settings) -> bool:
    if request.blueprint == CONSOLE_BLUEPRINT:
        return True  # the console checks its own credentials (HINT_CONSOLE_TOKENS), never HINT_API_TOKEN
    if not settings.hint_api_token or request.endpoint in OPEN_ENDPOINTS:
        return True
    given = request.headers.get("Authorization", "")
    # Constant time: how much of a guess matched must not show in the answer's timing.
    return hmac.compare_digest(given.encode(), f"Bearer {settings.hint_api_token}".encode())


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    # Importing the actors binds the database and the broker for this process.
    from hint_actors.steps import get_services

    app = Flask(__name__)
    app.config.update(SETTINGS=settings, PROBLEMS=get_services().problems, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)

    from hint_api import health, routes, spec

    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(spec.bp)
    init_console(app, settings)  # /console/: instructors' pages, behind HINT_CONSOLE_TOKENS

    @app.before_request
    def authenticate_and_connect():
        if not _authorized(settings):
            return jsonify(error="missing or wrong bearer token"), 401
        if request.blueprint == "ai_hint":
            # Waits for a free pooled connection (models.make_database) rather than failing.
            db.connect(reuse_if_open=True)
        return None

    @app.teardown_request
    def close_connection(exc):  # noqa: ANN001
        if not db.is_closed():
            db.close()  # back to the pool, whatever happened

    @app.errorhandler(IntakeError)
    def intake_error(exc: IntakeError):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    def outage(exc: Exception):
        # The database (or the broker) is restarting or overloaded: a retry will succeed,
        # so say so instead of a 500. `stored` tells whether this call's data is safe.
        log.warning("%s %s: %s during an outage", request.method, request.path, type(exc).__name__)
        body = {"error": "the service's database or queue is unavailable; retry this call", "stored": g.get("stored", False)}
        return jsonify(body), 503, {"Retry-After": "5"}

    for error in OUTAGE_ERRORS:
        app.register_error_handler(error, outage)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return jsonify(error="internal error; the operator's log has the details"), 500

    return app
