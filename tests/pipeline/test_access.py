"""Secure by default (issue 16): who may call what, what a hostile body gets, how much the
service admits, and what leaves it in the callback."""

from __future__ import annotations

import json

import pytest

from hint_api import create_app
from models import Hint, Request
from payloads import callback_payload
from runtime import build
from settings import SettingsError, load_settings
from tests.helpers import BUGGY_FACTORIAL, REFLECTION, api_client, ask, join

ADD = {"request_id": 1, "data": {"problem_id": "factorial", "student_program": "def factorial(n):\n    return 0\n",
                                 "hint_type": "debug"}}


@pytest.fixture
def app_with(make_settings, services, executor):
    def make(**env: str):
        return create_app(build(make_settings(**env), services=services, executor=executor))

    return make


def test_the_trace_needs_a_token_always(app_with):
    anonymous = app_with(HINT_API_TOKEN="").test_client()  # no token configured: loopback, open API
    assert anonymous.post("/ai_hint/add_request/", json=ADD).status_code == 200
    assert anonymous.get("/ai_hint/query_hint/?request_id=1").status_code == 200
    trace = anonymous.get("/ai_hint/trace/?request_id=1")
    assert trace.status_code == 403 and "HINT_API_TOKEN" in trace.get_json()["error"]
    assert "student_program" not in trace.get_data(as_text=True)


def test_several_tokens_are_accepted_while_one_is_rotated(app_with):
    client = app_with(HINT_API_TOKEN="old-token, new-token").test_client()
    for token, status in (("old-token", 200), ("new-token", 200), ("other", 401)):
        reply = client.post("/ai_hint/add_request/", json=ADD, headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == status


def test_orchestrations_addresses_call_without_a_token_and_nothing_else_does(app_with):
    app = app_with(HINT_API_ALLOW_FROM="10.1.2.0/24, 192.0.2.7")
    orchestration = app.test_client()
    orchestration.environ_base["REMOTE_ADDR"] = "10.1.2.33"
    assert orchestration.post("/ai_hint/add_request/", json=ADD).status_code == 200
    assert orchestration.get("/ai_hint/query_hint/?request_id=1").status_code == 200
    assert orchestration.get("/ai_hint/trace/?request_id=1").status_code == 401  # hidden tests: the token only
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert stranger.get("/ai_hint/query_hint/?request_id=1").status_code == 401
    with_token = api_client(app)
    with_token.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert with_token.get("/ai_hint/trace/?request_id=1").status_code == 200


@pytest.mark.parametrize("env, allowed", [
    ({"HOST": "0.0.0.0"}, False),
    ({"HOST": "::"}, False),
    ({"HOST": "api.example.org"}, False),
    ({"HOST": "0.0.0.0", "HINT_API_TOKEN": "t"}, True),
    ({"HOST": "0.0.0.0", "HINT_API_ALLOW_FROM": "10.0.0.0/8"}, True),
    ({"HOST": "0.0.0.0", "HINT_API_ALLOW_ANONYMOUS": "true"}, True),
    ({"HOST": "127.0.0.1"}, True),
    ({}, True),  # the default: loopback
])
def test_an_api_reachable_from_other_machines_needs_a_token_or_an_allow_list(env, allowed):
    if allowed:
        load_settings(env)
    else:
        with pytest.raises(SettingsError, match="HINT_API_TOKEN nor HINT_API_ALLOW_FROM"):
            load_settings(env)


@pytest.mark.parametrize("notebook_json", [
    '{"cells": ["a\\u0000b\\ud800"]}',  # NUL and a lone surrogate: stored escaped, not a 500
])
def test_a_notebook_with_nul_and_a_lone_surrogate_is_stored(client, notebook_json):
    body = json.dumps(ADD)[:-2] + f', "student_notebook": {notebook_json}' + "}}"
    reply = client.post("/ai_hint/add_request/", data=body, content_type="application/json")
    assert reply.status_code == 200, reply.get_json()
    assert Request.get().student_notebook == {"cells": ["a\x00b\ud800"]}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_are_refused(client, constant):
    body = json.dumps(ADD)[:-2] + f', "student_notebook": {{"x": {constant}}}' + "}}"
    reply = client.post("/ai_hint/add_request/", data=body, content_type="application/json")
    assert reply.status_code == 400 and "NaN" in reply.get_json()["error"]
    assert Request.select().count() == 0


def test_beyond_the_backlog_add_request_is_429_and_stores_nothing(make_settings, services, executor):
    client = api_client(build(make_settings(MAX_PENDING_REQUESTS="2"), services=services, executor=executor))
    for request_id in (1, 2):
        assert client.post("/ai_hint/add_request/", json={**ADD, "request_id": request_id}).status_code == 200
    refused = client.post("/ai_hint/add_request/", json={**ADD, "request_id": 3})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["stored"] is False and Request.select().count() == 2
    # A request already admitted is not refused: orchestration's repeat still succeeds.
    assert client.post("/ai_hint/add_request/", json={**ADD, "request_id": 2}).status_code == 200


@pytest.mark.parametrize("detail", ["full", "summary"])
def test_what_the_callback_holds(client, runtime, worker, detail):
    ask(client, 5)
    join(runtime)
    payload = callback_payload(Request.get(), detail, runtime.services.ai.pricing)
    text = json.dumps(payload)
    assert payload["hint"] == Hint.get().hint and payload["job_finished_successfully"] is True
    assert set(payload["other_hint_data"]) == {
        "request", "reflection", "program_enhancement_phase", "enhanced_programs", "hint_generation_phase", "hint",
    }
    # The student's program, their reflection, the teacher-facing explanation, and a hidden
    # test's expected value (3628800 = factorial(10)) with the candidates' runs.
    private = (json.dumps(BUGGY_FACTORIAL)[1:-1], REFLECTION[1], json.dumps(Hint.get().explanation)[1:-1], "3628800")
    if detail == "full":  # as the original sent it: orchestration stores it and shows it to no student
        assert all(value in text for value in private)
    else:
        assert not any(value in text for value in private)
        assert payload["other_hint_data"]["hint"]["engine"] == "offline"
        assert all(set(p) == {"id", "index", "source", "correct", "run_time", "edit_distance"}
                   for p in payload["other_hint_data"]["enhanced_programs"])
