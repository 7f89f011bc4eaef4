"""The `/ai_hint/` blueprint: the HTTP contract orchestration relies on (see docs/api.md and
`hint_api/openapi.yaml`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, jsonify, request

from hint_api import intake, runtime_of, unavailable
from hint_api.backlog import BACKLOG, RETRY_AFTER_SECONDS
from hint_api.intake import IntakeError
from hint_core.lifecycle import Step, initial_steps
from logs import bind_request_id
from maintenance import MaintenanceError, previous_attempt, rerun
from models import Request, RequestAttempt
from payloads import artifacts, hint_status
from runtime import BROKER_OUTAGES, Runtime

log = logging.getLogger("hint.api")

bp = Blueprint("ai_hint", __name__, url_prefix="/ai_hint")

Reply = Response | tuple[Response, int, dict[str, str]]


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _body() -> object:
    if not request.is_json:
        raise IntakeError("the body must be a JSON object (Content-Type: application/json)")
    data = request.get_data(cache=False)  # read first: a body over MAX_CONTENT_LENGTH is 413, not a parse error
    try:
        # NaN and Infinity are not JSON: stored, they would come back as invalid JSON.
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, NaN; absurd nesting
        raise IntakeError("the body must be a JSON object of standard JSON values "
                          "(Content-Type: application/json; no NaN or Infinity)") from None


def _publish(send: Callable[[], None], stored: intake.Stored, what: str) -> Reply | None:
    """Send the first message(s); a 503 that says the data is safely stored if the broker is down."""
    try:
        send()
    except BROKER_OUTAGES as exc:
        log.warning("request %s: could not publish %s: %s", stored.request.request_id, what, type(exc).__name__)
        return unavailable(
            f"the task queue is unavailable; the {what} was stored and will be processed "
            "when you retry this call with the same payload",
            stored=True, request_id=stored.request.request_id,
        )
    return None


def _runtime() -> Runtime:
    return runtime_of(current_app)


@bp.post("/add_request/")
def add_request() -> Reply:
    rt = _runtime()
    request_id, fields = intake.parse_add_request(_body())
    bind_request_id(request_id)
    if current_app.extensions[BACKLOG].full() and not intake.stored(request_id):
        log.info("request %s: refused, the backlog is full (%d requests waiting)", request_id,
                 current_app.extensions[BACKLOG].size())
        return jsonify(error="the service is at capacity; nothing was stored, retry this call later",
                       stored=False), 429, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if not rt.services.problems.knows(fields["problem_id"]):
        raise IntakeError(f"unknown problem_id '{fields['problem_id']}'", status=422)
    stored = intake.store_request(
        request_id, fields, rt.settings.reflection_wait_seconds, rt.settings.request_deadline_seconds
    )
    g.stored = True  # from here on, an outage answer says the request is safe
    if stored.created:
        current_app.extensions[BACKLOG].admitted()
    if stored.request.enqueued_at is None:
        # First call, or a retry after the broker was down: the steps are idempotent.
        def send() -> None:
            for step in initial_steps(stored.request.hint_type):
                rt.send(step, stored.request.id, request_id)

        failed = _publish(send, stored, "request")
        if failed:
            return failed
        intake.mark_enqueued(stored.request)
    elif not stored.created and rt.settings.save_hint_url and intake.report_again(stored.request):
        # Asked again for a request that ended (orchestration lost our answer, or its
        # database was reset): post the same answer again.
        failed = _publish(lambda: rt.send(Step.RETURN_HINT, stored.request.id, request_id), stored, "request")
        if failed:
            return failed
    log.info("request %s: %s (%s, %s)", request_id, "accepted" if stored.created else "repeated",
             fields["problem_id"], fields["hint_type"])
    return jsonify(request_id=request_id, status="accepted" if stored.created else "already_accepted")


@bp.post("/add_reflection/")
def add_reflection() -> Reply:
    rt = _runtime()
    request_id, fields = intake.parse_add_reflection(_body())
    bind_request_id(request_id)
    stored = intake.store_reflection(request_id, fields)
    g.stored = True
    # Sent again on a repeated call too: the first send may have failed (503), and the
    # step only looks at what is stored, so an extra message is harmless.
    failed = _publish(lambda: rt.send(Step.ADD_REFLECTION, stored.request.id, request_id), stored, "reflection")
    if failed:
        return failed
    log.info("request %s: reflection %s", request_id, "accepted" if stored.created else "repeated")
    return jsonify(request_id=request_id, status="accepted" if stored.created else "already_accepted")


def _lookup() -> Request:
    request_id = intake.request_id_of(request.args.get("request_id"), from_query=True)
    bind_request_id(request_id)
    found = Request.get_or_none(Request.request_id == request_id)
    if found is None:
        raise IntakeError(f"no request with request_id {request_id}", status=404)
    return found


@bp.get("/query_hint/")
def query_hint() -> Response:
    return jsonify(hint_status(_lookup()))


@bp.get("/trace/")
def trace() -> Response:
    """Everything stored for one request: for instructors, researchers and operators."""
    found = _lookup()
    attempts = RequestAttempt.select().where(RequestAttempt.request == found.id).order_by(RequestAttempt.attempt)
    return jsonify({**hint_status(found), "stage": found.stage, **artifacts(found, _runtime().services.ai.pricing),
                    "previous_attempts": [previous_attempt(row) for row in attempts]})


@bp.post("/rerun/")
def rerun_request() -> Reply:
    """An operator's re-run of a finished request (always behind the token: access.py)."""
    body = _body()
    if not isinstance(body, dict):
        raise IntakeError("the body must be a JSON object with request_id")
    request_id = intake.request_id_of(body.get("request_id"))
    bind_request_id(request_id)
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise IntakeError("reason must be a string")
    try:
        done = rerun(_runtime(), request_id, reason)
    except MaintenanceError as exc:
        log.info("request %s: re-run refused: %s", request_id, exc)
        return jsonify(error=str(exc)), exc.status, {}
    except BROKER_OUTAGES as exc:
        log.warning("request %s: re-run stored, could not publish: %s", request_id, type(exc).__name__)
        return unavailable("the task queue is unavailable; the re-run was stored and the sweep will send its steps",
                           stored=True, request_id=request_id)
    return jsonify(request_id=request_id, status="rerun", attempt=done.attempt, steps=done.steps,
                   previous_attempt=done.previous)
