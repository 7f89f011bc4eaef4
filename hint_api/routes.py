"""The `/ai_hint/` blueprint: the HTTP contract orchestration relies on (see DESIGN.md)."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, g, jsonify, request

from hint_actors import actors, timing
from hint_actors.trace import artifacts, hint_status
from hint_api import intake
from hint_api.intake import IntakeError
from models import Request

log = logging.getLogger("hint.api")

bp = Blueprint("ai_hint", __name__, url_prefix="/ai_hint")


def _body() -> object:
    if not request.is_json:
        raise IntakeError("the body must be a JSON object (Content-Type: application/json)")
    try:
        # Read first: a body over MAX_CONTENT_LENGTH raises 413 here, not a parse error.
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):  # bad JSON or bad UTF-8; absurd nesting
        raise IntakeError("the body must be a JSON object (Content-Type: application/json)") from None


def _publish(send, stored: intake.Stored, what: str):  # noqa: ANN001
    """Send the first message(s); 503 that says the data is safely stored if the broker is down."""
    try:
        with timing.tagged(stored.request.request_id):  # the steps' timing lines name the request
            send()
    except Exception as exc:  # any broker error: connection refused, channel closed, no confirm
        log.error("request %s: could not publish %s: %s", stored.request.request_id, what, type(exc).__name__)
        return jsonify(
            error=f"the task queue is unavailable; the {what} was stored and will be processed "
            "when you retry this call with the same payload",
            stored=True,
            request_id=stored.request.request_id,
        ), 503
    return None


@bp.post("/add_request/")
def add_request():
    request_id, fields = intake.parse_add_request(_body())
    if not current_app.config["PROBLEMS"].knows(fields["problem_id"]):
        raise IntakeError(f"unknown problem_id '{fields['problem_id']}'", status=422)
    settings = current_app.config["SETTINGS"]
    stored = intake.store_request(
        request_id, fields, settings.reflection_wait_seconds, settings.request_deadline_seconds
    )
    g.stored = True  # from here on, an outage answer says the request is safe
    if stored.request.enqueued_at is None:
        # First call, or a retry after the broker was down: the steps are idempotent.
        def send() -> None:
            actors.run_student_program.send(stored.request.id)
            actors.query_for_enhanced_programs.send(stored.request.id)

        failed = _publish(send, stored, "request")
        if failed:
            return failed
        intake.mark_enqueued(stored.request)
    log.info("request %s: %s (%s, %s)", request_id, "accepted" if stored.created else "repeated",
             fields["problem_id"], fields["hint_type"])
    return jsonify(request_id=request_id, status="accepted" if stored.created else "already_accepted")


@bp.post("/add_reflection/")
def add_reflection():
    request_id, fields = intake.parse_add_reflection(_body())
    stored = intake.store_reflection(request_id, fields)
    g.stored = True
    # Sent again on a repeated call too: the first send may have failed (503), and the
    # step only looks at what is stored, so an extra message is harmless.
    failed = _publish(lambda: actors.add_reflection.send(stored.request.id), stored, "reflection")
    if failed:
        return failed
    log.info("request %s: reflection %s", request_id, "accepted" if stored.created else "repeated")
    return jsonify(request_id=request_id, status="accepted" if stored.created else "already_accepted")


def _lookup() -> Request:
    request_id = intake.request_id_of(request.args.get("request_id"), from_query=True)
    found = Request.get_or_none(Request.request_id == request_id)
    if found is None:
        raise IntakeError(f"no request with request_id {request_id}", status=404)
    return found


@bp.get("/query_hint/")
def query_hint():
    return jsonify(hint_status(_lookup()))


@bp.get("/trace/")
def trace():
    """Everything stored for one request: for instructors, researchers and operators."""
    found = _lookup()
    return jsonify({**hint_status(found), "stage": found.stage, **artifacts(found)})
