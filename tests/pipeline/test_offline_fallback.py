"""`fallback: offline`: an LLM outage turns into an offline hint, marked as such, not an error.

The whole pipeline runs in this process against the fake OpenAI-compatible server, which
answers every call with HTTP 500 or stalls past the client's timeout. Deadlines are cut
to about a second so that the retries give up quickly.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.fake_openai import status
from tests.helpers import join

BUGGY_FACTORIAL = ("def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n"
                   "    return result\n")


@pytest.fixture
def services(llm_services):
    """LLM services with short deadlines."""
    ai = llm_services.ai

    def short(phase):
        return dataclasses.replace(phase, timeout_seconds=0.5, deadline_seconds=1.5)

    llm_services.ai = dataclasses.replace(
        ai, program_generation=short(ai.program_generation), hint_generation=short(ai.hint_generation)
    )
    return llm_services


def ask(client, request_id=1):
    assert client.post("/ai_hint/add_request/", json={
        "request_id": request_id,
        "data": {"problem_id": "factorial", "student_program": BUGGY_FACTORIAL, "hint_type": "debug"},
    }).status_code == 200
    assert client.post("/ai_hint/add_reflection/", json={
        "request_id": request_id,
        "data": {"reflection_question": "What is wrong?", "reflection_answer": "The result is always zero."},
    }).status_code == 200


def outcome(client, request_id=1):
    answer = client.get(f"/ai_hint/query_hint/?request_id={request_id}").get_json()
    trace = client.get(f"/ai_hint/trace/?request_id={request_id}").get_json()
    return answer, trace


def assert_offline_fallback(answer, trace):
    assert answer["job_finished"] and answer["job_finished_successfully"], answer
    assert "factorial(0) returned 0, expected 1" in answer["hint"]
    assert "line 2" in answer["hint"]  # the offline engine's region: the starting value
    assert trace["hint"]["engine"] == "offline"
    phase = trace["hint_generation_phase"]
    assert phase["engine"] == "offline"
    assert "LLM hint failed, offline hint used" in phase["error"]
    assert phase["llm_calls"] >= 1  # what the failed attempts cost stays in the trace
    programs = trace["program_enhancement_phase"]
    assert "LLM unavailable" in programs["error"]
    # The known-correct programs still gave the offline engine its evidence.
    assert any(p["correct"] for p in trace["enhanced_programs"])


def test_llm_answering_500_gives_an_offline_hint(client, runtime, worker, services, fake_llm):
    fake_llm.push(*[status(500) for _ in range(200)])
    ask(client)
    join(runtime)
    assert_offline_fallback(*outcome(client))
    assert len(fake_llm.requests) >= 4  # both phases retried before giving up


def test_llm_stalling_past_its_timeout_gives_an_offline_hint(client, runtime, worker, services, fake_llm):
    fake_llm.latency = 3.0  # every answer comes after the client stopped waiting
    ask(client)
    join(runtime)
    assert_offline_fallback(*outcome(client))


def test_without_the_fallback_an_outage_ends_the_request_with_its_cause(
    client, runtime, worker, services, fake_llm, monkeypatch
):
    for step in ("query_for_enhanced_programs", "generate_hint"):
        monkeypatch.setitem(runtime.broker.get_actor(step).options, "max_retries", 0)
    services.ai = dataclasses.replace(services.ai, fallback="none")
    fake_llm.push(*[status(500) for _ in range(200)])
    ask(client)
    join(runtime)
    answer, trace = outcome(client)
    assert answer["job_finished"] and answer["job_finished_successfully"] is False
    assert "HTTP 500" in answer["generation_error_message"]
    assert trace["hint"]["engine"] is None
