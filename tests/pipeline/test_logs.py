"""What an operator reads: one access line per API call, the reason of every refused call,
the request id on every line of a call or a step (the sweep's re-sent steps included),
JSON lines for log shippers, and an expected broker reconnect as one warning."""

from __future__ import annotations

import datetime as dt

import pika.exceptions
from peewee import OperationalError

from hint_actors import sweep
from hint_api import create_app
from models import Request, utcnow
from runtime import build
from tests import log_capture
from tests.helpers import BUGGY_FACTORIAL, ask, join, status
from tests.log_capture import json_lines

log_lines = log_capture.log_lines  # the fixture

SECRET_PROGRAM = "def factorial(n):\n    return 'a-distinctive-student-program'\n"


def add_request(client, request_id, **data):
    body = {"problem_id": "factorial", "student_program": SECRET_PROGRAM, "hint_type": "debug"} | data
    return client.post("/ai_hint/add_request/", json={"request_id": request_id, "data": body})


def access_lines(text):
    return [line for line in text.splitlines() if " hint.access " in line]


def test_every_api_call_has_one_access_line_with_status_duration_and_request_id(client, settings, log_lines):
    out = log_lines(settings)
    assert add_request(client, 3).status_code == 200
    assert client.get("/ai_hint/query_hint/?request_id=3").status_code == 200
    assert client.get("/ai_hint/query_hint/?request_id=99").status_code == 404
    lines = access_lines(out.getvalue())
    assert len(lines) == 3, out.getvalue()
    assert "INFO hint.access" in lines[0] and "POST /ai_hint/add_request/ 200 " in lines[0]
    assert " ms request_id=3" in lines[0]
    assert "GET /ai_hint/query_hint/ 200 " in lines[1] and lines[1].endswith("request_id=3")
    assert "GET /ai_hint/query_hint/ 404 " in lines[2] and "no request with request_id 99" in lines[2]
    # No query string, no body.
    assert "?" not in "".join(lines) and "a-distinctive-student-program" not in out.getvalue()


def test_a_refused_call_is_logged_with_its_reason(make_settings, services, executor, client, log_lines):
    out = log_lines(make_settings())
    assert add_request(client, 4, hint_type="poem").status_code == 400
    secured = create_app(build(make_settings(HINT_API_TOKEN="s3cret-token"), services=services, executor=executor))
    assert secured.test_client().get("/ai_hint/trace/?request_id=4",
                                     headers={"Authorization": "Bearer wrong-guess"}).status_code == 401
    bad, unauthorized = access_lines(out.getvalue())
    assert "POST /ai_hint/add_request/ 400 " in bad and "'data.hint_type' must be one of" in bad
    assert "GET /ai_hint/trace/ 401 " in unauthorized and "missing or wrong bearer token" in unauthorized
    assert "wrong-guess" not in out.getvalue() and "s3cret-token" not in out.getvalue()


def test_probes_log_only_when_they_fail(client, runtime, settings, monkeypatch, log_lines):
    out = log_lines(settings)
    client.get("/healthz")
    client.get("/readyz")
    assert access_lines(out.getvalue()) == []

    def down(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(runtime.database, "execute_sql", down)
    assert client.get("/readyz").status_code == 503
    (line,) = access_lines(out.getvalue())
    assert "WARNING hint.access" in line and "GET /readyz 503" in line


def test_json_lines_name_the_request_on_the_api_and_in_every_step(make_settings, services, executor, log_lines):
    settings = make_settings(LOG_FORMAT="json")
    out = log_lines(settings)
    runtime = build(settings, services=services, executor=executor)
    from tests.helpers import api_client

    client = api_client(runtime)
    from hint_actors import worker as hint_worker

    started = hint_worker.start(runtime, threads=2)
    try:
        ask(client, 11)
        join(runtime)
    finally:
        started.stop()
    assert status(client, 11)["job_finished_successfully"]
    lines = json_lines(out)  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "hint.access"]
    assert [(a["method"], a["path"], a["status"], a["request_id"]) for a in access] == [
        ("POST", "/ai_hint/add_request/", 200, 11), ("POST", "/ai_hint/add_reflection/", 200, 11),
        ("GET", "/ai_hint/query_hint/", 200, 11),
    ]
    assert all(isinstance(a["duration_ms"], float) and a["time"] and a["level"] == "INFO" for a in access)
    steps = [line for line in lines if line["logger"] == "hint.timing"]
    assert {s["actor"] for s in steps} >= {"run_student_program", "generate_hint"}
    assert all(s["request_id"] == 11 and s["outcome"] == "ok" and "work_ms" in s for s in steps)
    # Whatever else the web side and the steps said about the request names it too.
    about = [line for line in lines if line["logger"].startswith("hint.") and "request 11" in line["message"]]
    assert about and all(line["request_id"] == 11 for line in about)


def test_steps_the_sweep_sends_again_log_the_request_id(client, runtime, worker, settings, log_lines):
    ask(client, 21, BUGGY_FACTORIAL, reflection=False)
    worker.pause()
    runtime.broker.flush_all()  # the messages are lost (a crashed worker, a restarted broker)
    Request.update(updated_at=utcnow() - dt.timedelta(hours=1),
                   reflection_deadline_at=utcnow() - dt.timedelta(seconds=1)).execute()
    out = log_lines(settings)
    sweep.sweep(runtime)
    worker.resume()
    join(runtime)
    assert status(client, 21)["job_finished"]
    step_lines = [line for line in out.getvalue().splitlines() if " hint.timing " in line]
    assert step_lines and all("request_id=21 " in line for line in step_lines), out.getvalue()
    assert "request_id=-" not in out.getvalue()


def test_a_lost_broker_connection_is_one_warning_and_the_call_succeeds(client, runtime, settings, monkeypatch,
                                                                     log_lines):
    out = log_lines(settings)
    enqueue, failures = runtime.broker.enqueue, []

    def drops_once(message, delay=None):
        if not failures:
            failures.append(message)
            raise pika.exceptions.StreamLostError("Stream connection lost: ConnectionResetError(104)")
        return enqueue(message, delay=delay)

    monkeypatch.setattr(runtime.broker, "enqueue", drops_once)
    assert add_request(client, 31).status_code == 200
    assert failures and Request.get(Request.request_id == 31).enqueued_at is not None
    text = out.getvalue()
    warnings = [line for line in text.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "StreamLostError" in warnings[0] and "request 31" in warnings[0]
    assert "Traceback" not in text and " ERROR " not in text


def test_a_programming_error_while_publishing_is_a_500_with_a_traceback(client, runtime, settings, monkeypatch,
                                                                       log_lines):
    out = log_lines(settings)

    def bug(*args, **kwargs):
        raise KeyError("a bug, not an outage")

    monkeypatch.setattr(runtime.broker, "enqueue", bug)
    reply = add_request(client, 41)
    assert reply.status_code == 500 and "Retry-After" not in reply.headers
    assert "Traceback" in out.getvalue() and "KeyError: 'a bug, not an outage'" in out.getvalue()
    assert "a-distinctive-student-program" not in out.getvalue()
