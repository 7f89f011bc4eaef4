"""The HTTP side: an application factory in the style of Flask's tutorial.

`create_app(runtime)` serves the API of the runtime it is given (its database, its
broker, its problems); `create_app(settings)` or `create_app()` builds one first. The
web side never imports the worker package: it stores a request and sends its first
steps with `Runtime.send`.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from database import close_connection
from hint_api import access
from hint_api.backlog import BACKLOG, Backlog
from hint_api.console import CONSOLE_BLUEPRINT, init_console
from hint_api.intake import IntakeError
from hint_core.errors import Unavailable
from logs import REQUEST_ID, bind_request_id
from models import db
from runtime import OUTAGES, Runtime, build
from settings import Settings, load_settings

log = logging.getLogger("hint.api")
access_log = logging.getLogger("hint.access")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = "5"
EXTENSION = "hint_runtime"
# Polled every few seconds by a process manager or Prometheus: their successful calls are
# logged at DEBUG only, so they do not drown the calls orchestration makes.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.metrics"})
REASON_CHARS = 300  # an error message is short; a longer one is cut in the log line


def runtime_of(app: Flask) -> Runtime:
    return app.extensions[EXTENSION]


def unavailable(error: str, **body: object) -> tuple[Response, int, dict[str, str]]:
    """The one 503: a retry of the same call later will succeed."""
    return jsonify(error=error, **body), 503, {"Retry-After": RETRY_AFTER_SECONDS}


def access_line(response: Response) -> None:
    """One line per call: method, path (never the query string: it may hold data), status,
    duration and request id; a refused call (4xx) adds the reason it was given. No body."""
    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    fields: dict[str, object] = {
        "method": request.method, "path": request.path, "status": response.status_code, "duration_ms": duration_ms,
    }
    message = "%s %s %d %.1f ms"
    args: list[object] = [request.method, request.path, response.status_code, duration_ms or 0.0]
    if 400 <= response.status_code < 500:
        body = response.get_json(silent=True) if response.is_json and not response.is_streamed else None
        reason = body.get("error") if isinstance(body, dict) else None
        if isinstance(reason, str):
            fields["reason"] = reason[:REASON_CHARS]
            message += ": %s"
            args.append(fields["reason"])
    quiet = request.endpoint in QUIET_ENDPOINTS and response.status_code < 400
    level = logging.WARNING if response.status_code >= 500 else logging.DEBUG if quiet else logging.INFO
    access_log.log(level, message, *args, extra={"fields": fields, "request_id": REQUEST_ID.get()})


def create_app(runtime: Runtime | Settings | None = None) -> Flask:
    if not isinstance(runtime, Runtime):
        runtime = build(runtime or load_settings())
    settings = runtime.settings

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.extensions[EXTENSION] = runtime
    app.extensions[BACKLOG] = Backlog(settings.max_pending_requests)

    from hint_api import health, routes, spec
    from hint_api.metrics import init_metrics

    app.register_blueprint(routes.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(spec.bp)
    init_metrics(app)  # GET /metrics, and the count of add_request calls by outcome
    init_console(app, settings)  # /console/: instructors' pages, behind HINT_CONSOLE_TOKENS

    @app.before_request
    def start_call() -> None:
        g.started = time.perf_counter()
        bind_request_id(None)  # a waitress thread serves many calls: never name the last one's

    @app.after_request
    def log_access(response: Response) -> Response:
        access_line(response)
        return response

    @app.before_request
    def authenticate_and_connect() -> tuple[Response, int] | None:
        # The console checks its own credentials (HINT_CONSOLE_TOKENS), never HINT_API_TOKEN.
        refused = None if request.blueprint == CONSOLE_BLUEPRINT else access.refusal(
            settings, request.endpoint, request.remote_addr, request.headers.get("Authorization"))
        if refused is not None:
            return jsonify(error=refused.error), refused.status
        if request.blueprint == "ai_hint":
            # Waits for a free pooled connection (database.make_database) rather than failing.
            db.connect(reuse_if_open=True)
        return None

    @app.teardown_request
    def return_connection(exc: BaseException | None) -> None:
        close_connection()  # back to the pool, whatever happened
        bind_request_id(None)  # the access line is written: this thread's next lines are not this call's

    @app.errorhandler(IntakeError)
    def intake_error(exc: IntakeError) -> tuple[Response, int]:
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = exc.get_response()
        response.data = jsonify(error=exc.description or exc.name).get_data()
        response.content_type = "application/json"
        return response

    def outage(exc: Exception) -> tuple[Response, int, dict[str, str]]:
        # The database (or the broker) is restarting or overloaded: a retry will succeed,
        # so say so instead of a 500. `stored` tells whether this call's data is safe.
        log.warning("%s %s: %s during an outage", request.method, request.path, type(exc).__name__)
        return unavailable("the service's database or queue is unavailable; retry this call",
                           stored=g.get("stored", False))

    for error in OUTAGES:
        app.register_error_handler(error, outage)

    @app.errorhandler(Unavailable)
    def orchestration_down(exc: Unavailable) -> tuple[Response, int, dict[str, str]]:
        # Only orchestration could tell whether this problem exists, and it does not answer.
        log.warning("%s %s: %s", request.method, request.path, exc)
        return unavailable("the course's orchestration service does not answer; retry this call",
                           stored=g.get("stored", False))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s", request.path)
        return jsonify(error="internal error; the operator's log has the details"), 500

    return app
