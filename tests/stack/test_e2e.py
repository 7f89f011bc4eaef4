"""End to end on the production stack: waitress + `dramatiq hint_actors` + PostgreSQL +
RabbitMQ + a fake OpenAI-compatible server + a callback receiver, all over real sockets."""

from __future__ import annotations

import json

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import CallbackReceiver, wait_until
from tests.production import production_stack

BUGGY = "def factorial(n):\n    result = 0\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
WRONG_FIX = "def factorial(n):\n    result = 0\n    for i in range(0, n + 1):\n        result *= i\n    return result\n"
GOOD_FIX = "def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
REFLECTION = "I start my result at zero and multiply, maybe that is the problem."


@pytest.fixture
def fake():
    fake = FakeOpenAI()
    fake.start()
    fake.program_answers = [
        json.dumps({"fixed_program": WRONG_FIX}),
        "Here you go:\n```json\n" + json.dumps({"fixed_program": GOOD_FIX}) + "\n```",
        "I cannot do that.",
    ]
    yield fake
    fake.stop()


def test_debug_request_on_the_production_stack(production_servers, fake, tmp_path):
    receiver = CallbackReceiver(fail_first=1)  # orchestration hiccups once: the hint is retried
    try:
        with production_stack(
            tmp_path, OPENAI_API_KEY="sk-test-secret-key", OPENAI_BASE_URL=fake.base_url,
            BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url,
        ) as stack:
            assert stack.add_request(101, "factorial", BUGGY, "debug").status_code == 200
            assert stack.add_reflection(101, "What do you think is wrong?", REFLECTION).status_code == 200
            answer = stack.wait_for_hint(101)
            assert answer["job_finished_successfully"], answer
            assert answer["hint"] == "What is the value of your result before the loop runs?"

            # The LLM saw the failing output and the reflection, as untrusted data.
            hint_prompt = fake.prompts("hint")[0]
            assert "factorial(0) returned 0, expected 1" in hint_prompt
            assert REFLECTION in hint_prompt
            assert "<untrusted_student_program>" in hint_prompt

            # Only a correct candidate was selected: the LLM's good fix, the closest one.
            trace = stack.trace(101)
            programs = {p["id"]: p for p in trace["enhanced_programs"]}
            selected = programs[trace["hint_generation_phase"]["selected_program"]]
            assert selected["correct"] is True and selected["program"] == GOOD_FIX
            wrong = [p for p in programs.values() if p["program"] == WRONG_FIX]
            assert wrong and wrong[0]["correct"] is False
            assert any(p["invalid_reason"] for p in programs.values())  # the unparsable answer
            phase = trace["program_enhancement_phase"]
            assert phase["engine"] == "openai" and phase["prompt_tokens"] > 0

            # The callback arrived once (after one failed attempt) with the documented payload:
            # checked once it is recorded as reported and nothing of the stack's queue is left.
            wait_until(lambda: stack.query("SELECT reported_at IS NOT NULL, report_attempts FROM hint") == [(True, 2)],
                       what="the hint reported on the second attempt")
            wait_until(stack.queue_idle, what="the stack to be idle")
            assert len(receiver.received) == 1 and receiver.calls == 2, stack.output()
            payload = receiver.received[0]
            assert payload["request_id"] == 101
            assert payload["hint"] == answer["hint"] and payload["job_finished_successfully"] is True
            assert payload["generation_error_message"] is None
            assert set(payload["other_hint_data"]) == {
                "request", "reflection", "program_enhancement_phase", "enhanced_programs",
                "hint_generation_phase", "hint",
            }
            assert "sk-test-secret-key" not in json.dumps(payload)
            assert "sk-test-secret-key" not in stack.output()
    finally:
        receiver.stop()


def test_correct_program_on_the_production_stack(production_servers, fake, tmp_path):
    with production_stack(tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=fake.base_url) as stack:
        assert stack.add_request(7, "factorial", GOOD_FIX, "plan").status_code == 200
        answer = stack.wait_for_hint(7)
        assert answer["hint"] == "Your code seems already correct."
