"""Validating and storing what orchestration sends, free of Flask so it is tested directly.

A repeated call with the same request_id and the same payload changes nothing; a
different payload under a stored request_id is a conflict. Nothing stored is ever
overwritten by a bad or conflicting call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from peewee import IntegrityError

from hint_core.enums import HintType
from hint_core.errors import HintServiceError
from models import Hint, Reflection, Request, utcnow

MAX_PROGRAM_CHARS = 100_000
MAX_REFLECTION_CHARS = 10_000
MAX_NOTEBOOK_CHARS = 500_000
MAX_PROBLEM_ID_CHARS = 200
MAX_REQUEST_ID = 2**63 - 1


class IntakeError(HintServiceError):
    """Bad input: `status` is the HTTP status, the message says what is wrong."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Stored:
    request: Request
    created: bool  # False: an identical earlier call already stored it


def _digest(data: dict[str, Any]) -> str:
    # ASCII escapes: a notebook may hold a lone surrogate, which has no UTF-8 encoding.
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntakeError(f"'{name}' must be a JSON object")
    return value


def _storable(value: str, name: str) -> None:
    """Text PostgreSQL can store: UTF-8 encodable (no lone surrogates) and without NUL."""
    if "\x00" in value:
        raise IntakeError(f"'{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise IntakeError(f"'{name}' must be valid Unicode text") from None


def _text(data: dict[str, Any], name: str, limit: int, required: bool = True, allow_empty: bool = False) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise IntakeError(f"'data.{name}' must be a string")
    _storable(value, f"data.{name}")
    if not allow_empty and not value.strip():
        raise IntakeError(f"'data.{name}' must not be empty")
    if len(value) > limit:
        raise IntakeError(f"'data.{name}' is longer than {limit} characters", status=413)
    return value


def request_id_of(value: Any, from_query: bool = False) -> int:
    """A positive integer request id: a JSON integer, or digits in a query string."""
    if from_query and isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_REQUEST_ID:
        raise IntakeError("'request_id' must be a positive integer")
    return value


def parse_add_request(body: Any) -> tuple[int, dict[str, Any]]:
    body = _object(body, "body")
    request_id = request_id_of(body.get("request_id"))
    data = _object(body.get("data"), "data")
    problem_id = _text(data, "problem_id", MAX_PROBLEM_ID_CHARS)
    hint_type = data.get("hint_type")
    if not isinstance(hint_type, str) or hint_type not in {t.value for t in HintType}:
        raise IntakeError(f"'data.hint_type' must be one of {', '.join(HintType)}")
    notebook = data.get("student_notebook")
    if notebook is not None:
        _object(notebook, "data.student_notebook")
        text = json.dumps(notebook)  # escapes NUL and lone surrogates, so it stores as it is
        if len(text) > MAX_NOTEBOOK_CHARS:
            raise IntakeError("'data.student_notebook' is too large", status=413)
    fields = {
        "problem_id": problem_id,
        "hint_type": HintType(hint_type),
        "student_program": _text(data, "student_program", MAX_PROGRAM_CHARS, allow_empty=True),
        "student_notebook": notebook,
    }
    return request_id, fields


def parse_add_reflection(body: Any) -> tuple[int, dict[str, str]]:
    body = _object(body, "body")
    request_id = request_id_of(body.get("request_id"))
    data = _object(body.get("data"), "data")
    return request_id, {
        "reflection_question": _text(data, "reflection_question", MAX_REFLECTION_CHARS, allow_empty=True),
        "reflection_answer": _text(data, "reflection_answer", MAX_REFLECTION_CHARS, allow_empty=True),
    }


def store_request(
    request_id: int, fields: dict[str, Any], reflection_wait_seconds: float, deadline_seconds: float
) -> Stored:
    digest = _digest(fields)
    now = utcnow()
    # Insert first: a new request (nearly every call) then costs one statement, not a
    # lookup and an insert; the unique request_id tells a repeated call from a new one.
    # One statement needs no explicit transaction: it commits or fails as a whole.
    try:
        created = Request.create(
            request_id=request_id,
            payload_hash=digest,
            created_at=now,
            updated_at=now,
            reflection_deadline_at=now + dt.timedelta(seconds=reflection_wait_seconds),
            deadline_at=now + dt.timedelta(seconds=deadline_seconds),
            **fields,
        )
        return Stored(created, True)
    except IntegrityError:  # stored before: by an earlier call, or a concurrent one just now
        existing = Request.get_or_none(Request.request_id == request_id)
        if existing is None:  # some other constraint failed: not a repeated call
            raise
    if existing.payload_hash != digest:
        raise IntakeError(f"request_id {request_id} was already used with a different payload", status=409)
    return Stored(existing, False)


def store_reflection(request_id: int, fields: dict[str, str]) -> Stored:
    request = Request.select(Request.id, Request.request_id).where(Request.request_id == request_id).first()
    if request is None:
        raise IntakeError(f"no request with request_id {request_id}", status=404)
    digest = _digest(fields)
    try:
        Reflection.create(request=request, payload_hash=digest, **fields)
        return Stored(request, True)
    except IntegrityError:
        existing = Reflection.get(Reflection.request == request)
        if existing.payload_hash != digest:
            raise IntakeError(f"request_id {request_id} already has a different reflection", status=409) from None
        return Stored(request, False)


def stored(request_id: int) -> bool:
    return Request.select(Request.id).where(Request.request_id == request_id).exists()


def report_again(request: Request) -> bool:
    """Mark an ended request's hint as not reported yet, so its callback is posted again;
    False while the request is still running (its callback will come by itself)."""
    return bool(Hint.update(reported_at=None).where(Hint.request == request.id).execute())


def mark_enqueued(request: Request) -> None:
    Request.update(enqueued_at=utcnow()).where(Request.id == request.id).execute()
