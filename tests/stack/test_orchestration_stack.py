"""Drop-in for a running course, on the production stack: waitress + `dramatiq hint_actors` +
PostgreSQL + RabbitMQ, with the course's orchestration (a fake on loopback that owns a
problem this service's bank does not hold and judges programs script-style) and a fake
LLM, configured only through the environment, as an operator would."""

from __future__ import annotations

import json

import pytest

from tests.fake_openai import FakeOpenAI
from tests.fake_orchestration import Endpoint, FakeOrchestration
from tests.helpers import wait_until
from tests.production import production_stack

WRONG = "def reverse_words(text):\n    return text[::-1]\n"
RIGHT = "def reverse_words(text):\n    return ' '.join(reversed(text.split()))\n"
STUCK = "def reverse_words(text):\n    pass\n"
EVIDENCE = "Test failed: reverse_words('hello world') should be 'world hello', got 'dlrow olleh'"


@pytest.fixture
def llm():
    fake = FakeOpenAI()
    fake.program_answers = [json.dumps({"fixed_program": RIGHT}), json.dumps({"fixed_program": WRONG})]
    fake.start()
    yield fake
    fake.stop()


def test_a_courses_own_problem_gets_debug_and_plan_hints(production_servers, llm, tmp_path):
    with FakeOrchestration() as orchestration, production_stack(
        tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=llm.base_url,
        BACKEND_ORCHESTRATION_GET_PROBLEMS_URL=orchestration.problems_url,
        BACKEND_ORCHESTRATION_EXECUTE_CODE_URL=orchestration.execute_url,
        BACKEND_ORCHESTRATION_GET_EXECUTION_RESULT_URL=orchestration.result_url,
        BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=orchestration.save_hint_url,
    ) as stack:
        assert stack.add_request(1, "reverse_words", WRONG, "debug").status_code == 200
        assert stack.add_reflection(1, "What is wrong?", "My words come out backwards, letters too.").status_code == 200
        # The problem handler goes down for a while in the middle of the run.
        orchestration.fail_next(Endpoint.EXECUTE, 4, status=502)
        assert stack.add_request(2, "reverse_words", STUCK, "plan").status_code == 200
        answer = stack.add_reflection(2, "Where are you stuck?", "I do not know how to split the text.")
        assert answer.status_code == 200

        for request_id in (1, 2):
            answer = stack.wait_for_hint(request_id, timeout=90)
            assert answer["job_finished_successfully"], answer

        debug = stack.trace(1)
        assert debug["request"]["student_run"]["executor"] == "remote"
        assert debug["request"]["student_run"]["first_failure"] == EVIDENCE
        # The candidates were judged by the course's handler, and the right one was chosen.
        judged = {program for problem, program in orchestration.executed() if problem == "reverse_words"}
        assert {WRONG, RIGHT, STUCK} <= judged
        selected = {p["id"]: p for p in debug["enhanced_programs"]}[debug["hint_generation_phase"]["selected_program"]]
        assert selected["program"] == RIGHT and selected["run_result"]["executor"] == "remote"
        hint_prompts = llm.prompts("hint")
        assert any(EVIDENCE in prompt for prompt in hint_prompts)  # the debug prompt quotes the handler
        wait_until(lambda: sorted(c["request_id"] for c in orchestration.callbacks) == [1, 2],
                   what="both callbacks at orchestration")
        assert len(orchestration.calls[Endpoint.EXECUTE]) >= 4 + len(judged)  # the failures were retried
