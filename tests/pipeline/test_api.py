"""The HTTP contract orchestration relies on (docs/api.md), including bad input and repeated calls."""

from __future__ import annotations

import pytest
from dramatiq.errors import ConnectionClosed
from peewee import OperationalError

from hint_api import create_app
from models import Reflection, Request
from runtime import build
from settings import load_settings
from tests.conftest import TEST_ENV
from tests.helpers import api_client, queued

PROGRAM = "def factorial(n):\n    return 0\n"


def add_request(client, request_id=1, **data):
    body = {"problem_id": "factorial", "student_program": PROGRAM, "hint_type": "debug"} | data
    return client.post("/ai_hint/add_request/", json={"type": "add_request", "request_id": request_id, "data": body})


def add_reflection(client, request_id=1, answer="I think the base case is wrong."):
    return client.post("/ai_hint/add_reflection/", json={
        "request_id": request_id, "data": {"reflection_question": "What is wrong?", "reflection_answer": answer},
    })


def test_add_request_stores_and_enqueues(client, runtime):
    reply = add_request(client)
    assert reply.status_code == 200
    assert reply.get_json() == {"request_id": 1, "status": "accepted"}
    request = Request.get(Request.request_id == 1)
    assert request.problem_id == "factorial" and request.student_program == PROGRAM
    assert queued(runtime) == ["run_student_program", "query_for_enhanced_programs"]
    assert request.enqueued_at is not None


def test_messages_carry_their_step_priority_and_the_request_id(client, runtime, make_settings, services, executor):
    import dramatiq

    custom = build(make_settings(RUN_STUDENT_PROGRAM_PRIORITY="3", QUERY_FOR_ENHANCED_PROGRAMS_PRIORITY="0"),
                   services=services, executor=executor)
    api_client(custom).post("/ai_hint/add_request/", json={
        "request_id": 7, "data": {"problem_id": "factorial", "student_program": PROGRAM, "hint_type": "plan"}})
    messages = [dramatiq.Message.decode(raw) for raw in custom.broker.queues["task_queue"].queue]
    assert [(m.actor_name, m.options["broker_priority"], m.options["request_id"]) for m in messages] == [
        ("run_student_program", 3, 7), ("query_for_enhanced_programs", 0, 7)]


def test_repeated_identical_request_is_a_no_op(client):
    assert add_request(client).status_code == 200
    reply = add_request(client)
    assert reply.status_code == 200 and reply.get_json()["status"] == "already_accepted"
    assert Request.select().count() == 1


def test_conflicting_request_id_is_409_and_changes_nothing(client):
    add_request(client)
    reply = add_request(client, student_program="print('other')\n")
    assert reply.status_code == 409
    assert "different payload" in reply.get_json()["error"]
    assert Request.get().student_program == PROGRAM


@pytest.mark.parametrize(
    "body, field",
    [
        ({"request_id": "abc", "data": {}}, "request_id"),
        ({"request_id": True, "data": {}}, "request_id"),
        ({"request_id": -3, "data": {}}, "request_id"),
        ({"request_id": 1}, "data"),
        ({"request_id": 1, "data": {"problem_id": "factorial", "student_program": "x", "hint_type": "solve"}},
         "hint_type"),
        ({"request_id": 1, "data": {"problem_id": "", "student_program": "x", "hint_type": "plan"}}, "problem_id"),
        ({"request_id": 1, "data": {"problem_id": "factorial", "student_program": 5, "hint_type": "plan"}},
         "student_program"),
        ({"request_id": 1, "data": {"problem_id": "factorial", "student_program": "x", "hint_type": "plan",
                                    "student_notebook": []}}, "student_notebook"),
        ([1, 2, 3], "body"),
    ],
)
def test_bad_add_request_is_400_naming_the_field(client, body, field):
    reply = client.post("/ai_hint/add_request/", json=body)
    assert reply.status_code == 400
    assert field in reply.get_json()["error"]
    assert Request.select().count() == 0


def test_non_json_body_is_400(client):
    reply = client.post("/ai_hint/add_request/", data="request_id=1", content_type="text/plain")
    assert reply.status_code == 400 and "JSON" in reply.get_json()["error"]


def test_unknown_problem_is_refused_at_intake(client):
    reply = add_request(client, problem_id="no_such_problem")
    assert reply.status_code == 422
    assert "no_such_problem" in reply.get_json()["error"]


def test_oversized_program_is_413(client):
    reply = add_request(client, student_program="x = 1\n" * 20_000)
    assert reply.status_code == 413


def test_reflection_for_unknown_request_is_404(client):
    reply = add_reflection(client, request_id=99)
    assert reply.status_code == 404
    assert Reflection.select().count() == 0


def test_reflection_repeat_and_conflict(client):
    add_request(client)
    assert add_reflection(client).status_code == 200
    assert add_reflection(client).get_json()["status"] == "already_accepted"
    reply = add_reflection(client, answer="Something else entirely.")
    assert reply.status_code == 409
    assert Reflection.get().reflection_answer == "I think the base case is wrong."


def test_query_hint_before_and_errors(client):
    add_request(client)
    reply = client.get("/ai_hint/query_hint/?request_id=1")
    assert reply.status_code == 200
    assert reply.get_json() == {
        "request_id": 1, "job_finished": False, "hint": None,
        "job_finished_successfully": None, "generation_error_message": None,
    }
    assert client.get("/ai_hint/query_hint/?request_id=2").status_code == 404
    assert client.get("/ai_hint/query_hint/").status_code == 400
    assert client.get("/ai_hint/query_hint/?request_id=x").status_code == 400


def test_trace_shows_every_artifact(client):
    add_request(client)
    add_reflection(client)
    trace = client.get("/ai_hint/trace/?request_id=1").get_json()
    assert trace["stage"] == "pending"
    assert trace["request"]["problem_id"] == "factorial"
    assert trace["reflection"]["reflection_answer"] == "I think the base case is wrong."
    for key in ("program_enhancement_phases", "enhanced_programs", "hint_generation_phases"):
        assert trace[key] == []


def test_unknown_route_and_method_are_json(client):
    assert client.get("/nope").get_json()["error"]
    reply = client.get("/ai_hint/add_request/")
    assert reply.status_code == 405 and reply.get_json()["error"]
    assert sorted(reply.headers["Allow"].split(", ")) == ["OPTIONS", "POST"]


def test_health_probes(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["ready"] is True


def test_bearer_token_when_configured(make_settings, services, executor):
    secured_runtime = build(make_settings(HINT_API_TOKEN="s3cret"), services=services, executor=executor)
    secured = create_app(secured_runtime).test_client()
    assert add_request(secured).status_code == 401
    reply = secured.post("/ai_hint/add_request/", headers={"Authorization": "Bearer s3cret"}, json={
        "request_id": 5, "data": {"problem_id": "factorial", "student_program": PROGRAM, "hint_type": "plan"}})
    assert reply.status_code == 200
    assert secured.get("/healthz").status_code == 200


# --- hardening (issue 6) ------------------------------------------------------------------


def test_request_id_must_be_a_json_integer(client):
    reply = client.post("/ai_hint/add_request/", json={"request_id": "12", "data": {
        "problem_id": "factorial", "student_program": PROGRAM, "hint_type": "plan"}})
    assert reply.status_code == 400 and "request_id" in reply.get_json()["error"]
    assert client.get("/ai_hint/query_hint/?request_id=%C2%B2").status_code == 400  # a digit, but not 0-9


def test_body_over_the_limit_is_413_and_json(client):
    reply = client.post("/ai_hint/add_request/", data=b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
                        content_type="application/json")
    assert reply.status_code == 413 and reply.get_json()["error"]
    assert Request.select().count() == 0


def test_reflection_over_the_limit_is_413(client):
    add_request(client)
    reply = add_reflection(client, answer="x" * 10_001)
    assert reply.status_code == 413 and "reflection_answer" in reply.get_json()["error"]
    assert Reflection.select().count() == 0


@pytest.mark.parametrize("program, problem", [
    ("print('a\x00b')", "student_program"),  # PostgreSQL cannot store NUL in text
    ("x = '\ud800'", "student_program"),  # a lone surrogate cannot be encoded
])
def test_text_that_cannot_be_stored_is_400_naming_the_field(client, program, problem):
    reply = add_request(client, student_program=program)
    assert reply.status_code == 400 and problem in reply.get_json()["error"]


def test_absurdly_nested_json_is_400(client):
    reply = client.post("/ai_hint/add_request/", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert reply.status_code == 400


def test_database_outage_is_503_saying_nothing_was_stored(client, runtime, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(runtime.database, "execute_sql", down)
    reply = add_request(client)
    assert reply.status_code == 503
    assert reply.get_json()["stored"] is False and reply.headers["Retry-After"]


def broker_down(*args, **kwargs):
    raise ConnectionClosed(OSError("connection refused"))


def test_broker_outage_is_503_stored_and_a_retry_enqueues_once(client, runtime, monkeypatch):
    monkeypatch.setattr(runtime.broker, "enqueue", broker_down)
    reply = add_request(client)
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    assert reply.get_json()["stored"] is True and reply.get_json()["request_id"] == 1
    assert Request.get().enqueued_at is None

    monkeypatch.undo()
    assert add_request(client).status_code == 200
    assert queued(runtime) == ["run_student_program", "query_for_enhanced_programs"]
    assert add_request(client).status_code == 200  # enqueued now: a third call sends nothing
    assert len(queued(runtime)) == 2


def test_reflection_stored_during_a_broker_outage_is_sent_on_retry(client, runtime, monkeypatch):
    add_request(client)
    runtime.broker.flush_all()
    monkeypatch.setattr(runtime.broker, "enqueue", broker_down)
    reply = add_reflection(client)
    assert reply.status_code == 503 and reply.get_json()["stored"] is True and reply.headers["Retry-After"]
    monkeypatch.undo()
    assert add_reflection(client).status_code == 200
    assert queued(runtime) == ["add_reflection"]


def test_a_programming_error_while_publishing_is_a_500_not_an_outage(client, runtime, monkeypatch):
    def bug(*args, **kwargs):
        raise KeyError("a bug, not an outage")

    monkeypatch.setattr(runtime.broker, "enqueue", bug)
    reply = add_request(client)
    assert reply.status_code == 500 and "Retry-After" not in reply.headers


def test_probes_answer_without_the_database(client, runtime, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(runtime.database, "connect", down)
    monkeypatch.setattr(runtime.database, "execute_sql", down)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["database"].startswith("unreachable") and ready.get_json()["broker"] == "ok"
    assert add_request(client).status_code == 503  # and not a 500


def test_token_guards_everything_but_the_probes(make_settings, services, executor):
    secured_runtime = build(make_settings(HINT_API_TOKEN="s3cret"), services=services, executor=executor)
    secured = create_app(secured_runtime).test_client()
    wrong = ({}, {"Authorization": "Bearer s3cre"}, {"Authorization": "Bearer s3cretX"}, {"Authorization": "s3cret"})
    for headers in wrong:
        reply = secured.get("/ai_hint/query_hint/?request_id=1", headers=headers)
        assert reply.status_code == 401 and reply.get_json()["error"]
    assert secured.get("/openapi.json").status_code == 401
    assert secured.get("/readyz").status_code == 200
    assert secured.get("/openapi.json", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_readyz_is_503_while_migrations_are_pending(tmp_path, services, executor):
    # A database that was never migrated: every API call would fail, so not ready.
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", **TEST_ENV})
    probe = create_app(build(settings, services=services, executor=executor)).test_client()
    ready = probe.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.get_json()["migrations"].startswith("pending migrations: 0001_initial")
