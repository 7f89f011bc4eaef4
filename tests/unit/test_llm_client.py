"""The LLM client against the fake OpenAI-compatible server: each provider fault, with the
number of HTTP attempts and the final outcome."""

from __future__ import annotations

import logging
import socket
import time

import openai
import pytest

from hint_core.ai_config import PhaseConfig
from hint_core.llm import LLMClient, LLMError, make_openai_client
from tests.fake_openai import Behaviour, FakeOpenAI, contents, drop, malformed, stall, status

SECRET = "sk-test-secret-0123456789"
MESSAGES = [{"role": "system", "content": "Answer with JSON."}, {"role": "user", "content": "hello"}]


def phase(**overrides) -> PhaseConfig:
    values = dict(model="fake-model", timeout_seconds=2.0, deadline_seconds=5.0, max_attempts=6)
    values.update(overrides)
    return PhaseConfig(**values)


@pytest.fixture
def client(fake_llm: FakeOpenAI) -> LLMClient:
    return LLMClient(SECRET, fake_llm.base_url, backoff_initial=0.01, backoff_max=0.1)


def test_429_honours_retry_after_then_succeeds(client, fake_llm):
    fake_llm.push(status(429, retry_after=0.4))
    started = time.monotonic()
    reply = client.complete(MESSAGES, phase(), request_id=11)
    assert time.monotonic() - started >= 0.4  # waited as long as the server asked, not the 0.01s backoff
    assert len(fake_llm.requests) == 2 and reply.usage.calls == 2
    assert reply.contents and reply.usage.prompt_tokens == 100


def test_retry_after_beyond_the_deadline_gives_up_at_once(client, fake_llm):
    fake_llm.push(status(429, retry_after=30))
    started = time.monotonic()
    with pytest.raises(LLMError, match="HTTP 429 .*rate limited.*1 attempt") as caught:
        client.complete(MESSAGES, phase(deadline_seconds=2.0), request_id=12)
    assert time.monotonic() - started < 1.0
    assert len(fake_llm.requests) == 1 and caught.value.calls == 1


def test_server_errors_are_retried_with_backoff(client, fake_llm):
    fake_llm.push(status(500), status(502), status(503))
    reply = client.complete(MESSAGES, phase(), request_id=13)
    assert len(fake_llm.requests) == 4 and reply.usage.calls == 4
    assert reply.contents


def test_a_stall_past_the_timeout_is_cut_off_and_retried(client, fake_llm):
    fake_llm.push(stall(2.0))
    started = time.monotonic()
    reply = client.complete(MESSAGES, phase(timeout_seconds=0.3), request_id=14)
    assert time.monotonic() - started < 1.5  # did not wait for the stalled answer
    assert len(fake_llm.requests) == 2 and reply.usage.calls == 2 and reply.contents


def test_stalls_until_the_deadline_end_with_a_timeout_error(client, fake_llm):
    fake_llm.push(*[stall(2.0)] * 10)
    started = time.monotonic()
    with pytest.raises(LLMError, match="timed out .*deadline"):
        client.complete(MESSAGES, phase(timeout_seconds=0.3, deadline_seconds=1.0), request_id=15)
    assert time.monotonic() - started < 1.6  # the deadline bounds the whole call
    assert 2 <= len(fake_llm.requests) <= 4


def test_connection_refused_is_retried_until_the_deadline():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    client = LLMClient(SECRET, f"http://127.0.0.1:{port}/v1", backoff_initial=0.05, backoff_max=0.1)
    started = time.monotonic()
    with pytest.raises(LLMError, match="could not connect to the LLM endpoint") as caught:
        client.complete(MESSAGES, phase(deadline_seconds=0.6), request_id=16)
    assert time.monotonic() - started < 1.5
    assert caught.value.calls >= 2  # retried, but bounded by the deadline


def test_a_dropped_connection_is_retried(client, fake_llm):
    fake_llm.push(drop())
    reply = client.complete(MESSAGES, phase(), request_id=17)
    assert len(fake_llm.requests) == 2 and reply.usage.calls == 2 and reply.contents


def test_a_malformed_body_is_retried(client, fake_llm):
    fake_llm.push(malformed())
    reply = client.complete(MESSAGES, phase(), request_id=18)
    assert len(fake_llm.requests) == 2 and reply.usage.calls == 2 and reply.contents


def test_a_body_without_choices_is_retried(client, fake_llm):
    fake_llm.push(Behaviour(body={"id": "x", "object": "chat.completion", "choices": []}))
    reply = client.complete(MESSAGES, phase(), request_id=19)
    assert len(fake_llm.requests) == 2 and reply.contents


def test_malformed_bodies_every_time_stop_at_max_attempts(client, fake_llm):
    fake_llm.push(*[malformed()] * 10)
    with pytest.raises(LLMError, match="malformed answer from the LLM endpoint .*3 attempt") as caught:
        client.complete(MESSAGES, phase(max_attempts=3), request_id=20)
    assert len(fake_llm.requests) == 3 and caught.value.calls == 3


def test_persistent_rate_limiting_stops_at_max_attempts(client, fake_llm):
    fake_llm.push(*[status(429, retry_after=0)] * 10)
    with pytest.raises(LLMError, match="HTTP 429"):
        client.complete(MESSAGES, phase(max_attempts=4), request_id=21)
    assert len(fake_llm.requests) == 4


@pytest.mark.parametrize(
    "code, words",
    [
        (400, "bad request"),
        (401, "check OPENAI_API_KEY"),
        (403, "permission denied"),
        (404, "check OPENAI_BASE_URL"),
    ],
)
def test_client_errors_fail_fast_with_a_clear_message(client, fake_llm, code, words):
    fake_llm.push(status(code))
    with pytest.raises(LLMError) as caught:
        client.complete(MESSAGES, phase(), request_id=22)
    assert len(fake_llm.requests) == 1 and caught.value.calls == 1
    assert f"HTTP {code}" in str(caught.value) and words in str(caught.value)
    assert SECRET not in str(caught.value)


def test_fewer_choices_than_n_are_made_up_by_concurrent_calls(client, fake_llm):
    fake_llm.ignore_n = True
    fake_llm.latency = 0.3
    fake_llm.program_answers = ['{"fixed_program": "a = 1\\n"}']
    messages = [
        {"role": "system", "content": 'Answer {"fixed_program": ...}'},
        {"role": "user", "content": "x"},
    ]
    started = time.monotonic()
    reply = client.complete(messages, phase(), n=3, request_id=23)
    elapsed = time.monotonic() - started
    assert len(reply.contents) == 3 and reply.usage.calls == 3
    assert [r["n"] for r in fake_llm.requests] == [3, 1, 1]
    assert reply.usage.prompt_tokens == 300 and reply.usage.completion_tokens == 60
    assert elapsed < 0.85  # the two extra calls ran side by side, not one after the other


def test_failed_extra_calls_keep_the_choices_already_received(client, fake_llm):
    fake_llm.ignore_n = True
    fake_llm.push(Behaviour(), status(401), status(401))
    reply = client.complete(MESSAGES, phase(), n=3, request_id=24)
    assert len(reply.contents) == 1
    assert reply.usage.calls == 3  # the failed extra calls still count


def test_empty_content_is_returned_for_the_parser_to_judge(client, fake_llm):
    fake_llm.push(contents(""))
    reply = client.complete(MESSAGES, phase(), request_id=25)
    assert reply.contents == [""] and len(fake_llm.requests) == 1


def test_each_attempt_is_logged_with_the_request_id_and_never_the_key(client, fake_llm, caplog):
    fake_llm.push(status(500), malformed())
    with caplog.at_level(logging.INFO, logger="hint_core.llm"):
        client.complete(MESSAGES, phase(), request_id=4242)
    lines = [r.getMessage() for r in caplog.records if r.name == "hint_core.llm"]
    assert len(lines) == 3, lines  # two failed attempts and the answer
    assert all("request 4242" in line for line in lines)
    assert "attempt 1 failed (HTTP 500" in lines[0] and "attempt 2 failed (malformed" in lines[1]
    assert "attempt 3 answered" in lines[2]
    assert SECRET not in caplog.text and "hello" not in caplog.text  # no key, no prompt


def test_azure_openai_is_reached_through_its_deployment_url(fake_llm):
    endpoint = fake_llm.base_url.removesuffix("/v1")
    assert isinstance(make_openai_client("k", None, endpoint, "2024-06-01"), openai.AzureOpenAI)
    client = LLMClient("azure-key", None, azure_endpoint=endpoint, api_version="2024-06-01")
    reply = client.complete(MESSAGES, phase(model="my-deployment"), request_id=26)
    assert reply.contents
    assert fake_llm.paths == ["/openai/deployments/my-deployment/chat/completions?api-version=2024-06-01"]


def test_json_output_is_asked_for_with_response_format(client, fake_llm):
    client.complete(MESSAGES, phase(), request_id=27)
    body = fake_llm.requests[0]
    assert body["response_format"] == {"type": "json_object"}
    assert (body["model"], body["n"], body["messages"]) == ("fake-model", 1, MESSAGES)
    assert fake_llm.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_a_provider_that_rejects_response_format_fails_fast_naming_the_knob(client, fake_llm):
    fake_llm.reject_response_format = True
    with pytest.raises(LLMError, match="json_output: false") as caught:
        client.complete(MESSAGES, phase(), request_id=28)
    assert caught.value.calls == 1


def test_json_output_off_leaves_response_format_out(client, fake_llm):
    fake_llm.reject_response_format = True
    reply = client.complete(MESSAGES, phase(json_output=False), request_id=29)
    assert reply.contents and "response_format" not in fake_llm.requests[0]


def test_a_reply_carries_what_it_cost(client, fake_llm):
    fake_llm.push(status(500))
    reply = client.complete(MESSAGES, phase(), n=2, request_id=30)
    usage = reply.usage
    assert (usage.model, usage.calls, usage.prompt_tokens, usage.completion_tokens) == (
        "fake-model",
        2,
        100,
        40,
    )
    assert usage.waiting_seconds > 0 and len(usage.responses) == 1 and usage.responses[0]["choices"]
