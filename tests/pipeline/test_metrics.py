"""`GET /metrics` read back after real requests through the whole pipeline in this process."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fake_openai import status
from tests.helpers import ask, join


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.get_data(as_text=True)) for s in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_hint_moves_the_counters_with_their_labels(client, runtime, worker):
    before = scrape(client)
    assert value(before, "hint_requests_total", outcome="accepted") == 0
    ask(client, 1)
    assert client.post("/ai_hint/add_request/", json={"request_id": 1, "data": {
        "problem_id": "factorial", "student_program": "x = 1\n", "hint_type": "debug"}}).status_code == 409
    assert client.post("/ai_hint/add_request/", json={"request_id": 2, "data": {
        "problem_id": "no-such-problem", "student_program": "x = 1\n", "hint_type": "debug"}}).status_code == 422
    assert client.post("/ai_hint/add_request/", json={"request_id": "three"}).status_code == 400
    join(runtime)
    after = scrape(client)
    assert value(after, "hint_requests_total", outcome="accepted") == 1
    assert value(after, "hint_requests_total", outcome="conflict") == 1
    assert value(after, "hint_requests_total", outcome="unknown_problem") == 1
    assert value(after, "hint_requests_total", outcome="invalid") == 1
    assert value(after, "hint_hints_total", hint_type="debug", engine="openai", outcome="ok") == 1
    hint_model = runtime.services.ai.hint_generation.model
    assert value(after, "hint_llm_calls_total", model=hint_model, phase="hint") == 1
    assert value(after, "hint_llm_tokens_total", model=hint_model, phase="hint", kind="completion") > 0
    assert value(after, "hint_llm_cost_total", model=hint_model, phase="hint") > 0  # ai_config pricing
    assert value(after, "hint_llm_errors_total", model=hint_model, phase="hint") == 0
    assert value(after, "hint_offline_fallbacks_total") == 0
    # No save-hint URL in this stack: nothing is reported, so no unreported gauge.
    assert value(after, "hint_callback_attempts_total") == 0
    assert not any(name == "hint_callbacks_unreported" for name, _ in after)
    assert value(after, "hint_request_latency_seconds_count", hint_type="debug", outcome="ok") == 1
    assert value(after, "hint_request_latency_seconds_bucket", hint_type="debug", outcome="ok", le="+Inf") == 1
    assert value(after, "hint_backlog_requests", stage="pending") == 0
    assert value(after, "hint_queue_depth", queue=runtime.settings.task_queue) == 0
    assert value(after, "hint_student_runs_total", result="failed") == 1
    assert sum(v for (name, _), v in after.items() if name == "hint_candidate_runs_total") >= 1
    assert not any("request_id" in dict(labels) for _, labels in after)  # no per-request series
    # Counting only new hints, a second scrape does not count the same hint twice.
    assert value(scrape(client), "hint_request_latency_seconds_count", hint_type="debug", outcome="ok") == 1


def test_the_backlog_and_queue_depth_count_waiting_requests(client, runtime):
    ask(client, 7)  # no worker: the request waits
    samples = scrape(client)
    assert value(samples, "hint_backlog_requests", stage="pending") == 1
    assert value(samples, "hint_queue_depth", queue=runtime.settings.task_queue) >= 2


@pytest.fixture
def services(llm_services):
    ai = llm_services.ai

    def short(phase):
        return dataclasses.replace(phase, timeout_seconds=0.5, deadline_seconds=1.5)

    llm_services.ai = dataclasses.replace(
        ai, program_generation=short(ai.program_generation), hint_generation=short(ai.hint_generation))
    return llm_services


def test_an_llm_outage_shows_as_errors_and_an_offline_fallback(client, runtime, worker, services, fake_llm):
    fake_llm.push(*[status(500) for _ in range(200)])
    ask(client, 1)
    join(runtime)
    samples = scrape(client)
    model = services.ai.hint_generation.model
    assert value(samples, "hint_offline_fallbacks_total") == 1
    assert value(samples, "hint_llm_errors_total", model=model, phase="hint") == 1
    assert value(samples, "hint_llm_calls_total", model=model, phase="hint") >= 1
    assert value(samples, "hint_llm_cost_total", model=model, phase="hint") == 0
    assert value(samples, "hint_hints_total", hint_type="debug", engine="offline", outcome="ok") == 1
