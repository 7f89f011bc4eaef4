"""The API keeps the contract it publishes: the OpenAPI document is valid OpenAPI, the trace
of a finished, a failed and a pending request matches its `Trace` schema, every 503 says
when to retry, and a 405 says which methods are allowed."""

from __future__ import annotations

import datetime as dt

import pytest
from dramatiq.errors import ConnectionClosed
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi
from peewee import OperationalError

from hint_actors import sweep
from hint_core.errors import Unavailable
from models import Request, utcnow
from tests.helpers import BUGGY_FACTORIAL, ask, join, status


def test_the_served_document_is_valid_openapi(client):
    validate_openapi(client.get("/openapi.json").get_json())  # raises, naming the place, when not


def schema_validator(client, name):
    """A validator of the served document's component `name` (its $refs resolve in the document)."""
    document = client.get("/openapi.json").get_json()
    return OAS30Validator({**document["components"]["schemas"][name], "components": document["components"]})


def test_traces_of_finished_failed_and_pending_requests_match_the_trace_schema(client, runtime, worker):
    ask(client, 1)  # ends with a hint
    ask(client, 2, BUGGY_FACTORIAL, reflection=False)  # will end failed, past its deadline
    join(runtime)
    worker.pause()
    Request.update(deadline_at=utcnow() - dt.timedelta(seconds=1)).where(Request.request_id == 2).execute()
    sweep.sweep(runtime)
    ask(client, 3)  # stays pending: the worker is paused
    assert status(client, 1)["job_finished_successfully"] is True
    assert status(client, 2)["job_finished_successfully"] is False
    assert status(client, 3)["job_finished"] is False

    trace = schema_validator(client, "Trace")
    status_schema = schema_validator(client, "HintStatus")
    for request_id, stage in ((1, "finished"), (2, "finished"), (3, "pending")):
        served = client.get(f"/ai_hint/trace/?request_id={request_id}").get_json()
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in trace.iter_errors(served)]
        assert errors == [], f"trace of request {request_id}: {errors}"
        assert served["stage"] == stage
        status_schema.validate(status(client, request_id))
    worker.resume()


def database_down(runtime, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(runtime.database, "execute_sql", down)


def broker_down(runtime, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionClosed(OSError("connection refused"))

    monkeypatch.setattr(runtime.broker, "enqueue", down)


def orchestration_down(runtime, monkeypatch):
    def down(problem_id):
        raise Unavailable("orchestration's problem handler does not answer")

    monkeypatch.setattr(runtime.services.problems, "knows", down)


ADD_REQUEST = ("post", "/ai_hint/add_request/", {
    "request_id": 5, "data": {"problem_id": "factorial", "student_program": "x = 1\n", "hint_type": "debug"},
})


@pytest.mark.parametrize("outage, call", [
    (database_down, ADD_REQUEST),
    (database_down, ("get", "/ai_hint/query_hint/?request_id=5", None)),
    (database_down, ("get", "/readyz", None)),
    (broker_down, ADD_REQUEST),
    (orchestration_down, ADD_REQUEST),
], ids=["database-add_request", "database-query_hint", "database-readyz", "broker-add_request",
        "orchestration-add_request"])
def test_every_503_says_when_to_retry(client, runtime, monkeypatch, outage, call):
    outage(runtime, monkeypatch)
    method, path, body = call
    reply = getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
    assert reply.status_code == 503
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.is_json


def test_a_405_names_the_allowed_methods_and_is_json_like_every_error(client):
    reply = client.delete("/ai_hint/query_hint/?request_id=1")
    assert reply.status_code == 405
    assert set(reply.headers["Allow"].split(", ")) >= {"GET"}
    assert reply.is_json and set(reply.get_json()) == {"error"}
