"""The HTTP side: an application factory in the style of Flask's tutorial."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from hint_api.intake import IntakeError
from models import db
from settings import Settings, get_settings

log = logging.getLogger("hint.api")

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    # Importing the actors binds the database and the broker for this process.
    from hint_actors.steps import get_services

    app = Flask(__name__)
    app.config.update(SETTINGS=settings, PROBLEMS=get_services().problems, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)

    from hint_api import health, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)

    @app.before_request
    def authenticate_and_connect():
        if settings.hint_api_token and request.endpoint not in ("health.healthz", "health.readyz"):
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {settings.hint_api_token}".encode()):
                return jsonify(error="missing or wrong bearer token"), 401
        db.connect(reuse_if_open=True)
        return None

    @app.teardown_request
    def close_connection(exc):  # noqa: ANN001
        if not db.is_closed():
            db.close()

    @app.errorhandler(IntakeError)
    def intake_error(exc: IntakeError):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.description or exc.name), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return jsonify(error="internal error; the operator's log has the details"), 500

    return app
