"""A course's own problems, through its orchestration: problems it alone knows get hints,
their programs run on its problem handler, and a repeated call gets its answer again."""

from __future__ import annotations

import json

import pytest

from hint_actors import worker as hint_worker
from models import EnhancedProgram, Hint, Request
from runtime import build
from tests.conftest import services_for
from tests.fake_orchestration import Endpoint, FakeOrchestration
from tests.helpers import api_client, ask, join, status, wait_until

WRONG = "def reverse_words(text):\n    return text[::-1]\n"
RIGHT = "def reverse_words(text):\n    return ' '.join(reversed(text.split()))\n"
EVIDENCE = "Test failed: reverse_words('hello world') should be 'world hello', got 'dlrow olleh'"


@pytest.fixture
def orchestration():
    with FakeOrchestration() as fake:
        yield fake


@pytest.fixture
def orchestration_env(orchestration):
    return {
        "BACKEND_ORCHESTRATION_GET_PROBLEMS_URL": orchestration.problems_url,
        "BACKEND_ORCHESTRATION_EXECUTE_CODE_URL": orchestration.execute_url,
        "BACKEND_ORCHESTRATION_GET_EXECUTION_RESULT_URL": orchestration.result_url,
        "BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL": orchestration.save_hint_url,
    }


@pytest.fixture
def settings(make_settings, orchestration_env):
    return make_settings(**orchestration_env)


@pytest.fixture
def services(orchestration_env):
    return services_for(None, **orchestration_env)


@pytest.fixture
def runtime(settings, services):
    return build(settings, services=services)  # the runtime's own executor: local and remote


def test_a_problem_only_orchestration_knows_gets_a_debug_hint_from_its_handlers_verdict(
    client, runtime, worker, orchestration
):
    ask(client, 1, WRONG, problem_id="reverse_words")
    join(runtime)
    answer = status(client, 1)
    assert answer["job_finished_successfully"], answer
    trace = client.get("/ai_hint/trace/?request_id=1").get_json()
    run = trace["request"]["student_run"]
    assert run["executor"] == "remote" and not run["correct"] and run["first_failure"] == EVIDENCE
    assert ("reverse_words", WRONG) in orchestration.executed()
    assert trace["enhanced_programs"] == []  # no reference solution, an empty pool, no LLM
    assert "hello world" in answer["hint"]  # the offline hint quotes the handler's evidence


def test_a_correct_program_at_orchestration_is_already_correct(client, runtime, worker, orchestration):
    ask(client, 2, RIGHT, problem_id="reverse_words", hint_type="plan")
    join(runtime)
    assert status(client, 2)["hint"] == "Your code seems already correct."
    # A correct student program joins the problem's pool, for the next students.
    ask(client, 3, WRONG, problem_id="reverse_words")
    join(runtime)
    [candidate] = EnhancedProgram.select()
    assert candidate.source == "pool" and candidate.program == RIGHT and candidate.correct
    assert candidate.run_result["executor"] == "remote"  # run again: the handler's tests may change


def test_a_problem_nobody_knows_is_422_and_an_unreachable_orchestration_is_503(client, orchestration):
    reply = client.post("/ai_hint/add_request/", json={"request_id": 4, "data": {
        "problem_id": "no_such_problem", "student_program": WRONG, "hint_type": "debug"}})
    assert reply.status_code == 422 and "no_such_problem" in reply.get_json()["error"]
    orchestration.stop()
    reply = client.post("/ai_hint/add_request/", json={"request_id": 5, "data": {
        "problem_id": "reverse_words", "student_program": WRONG, "hint_type": "debug"}})
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    assert reply.get_json()["stored"] is False and Request.select().count() == 0


def test_a_local_problem_is_judged_by_its_own_tests_and_prompts_use_its_description(client, runtime, worker,
                                                                                    orchestration):
    ask(client, 6, "def factorial(n):\n    return 0\n")
    join(runtime)
    run = client.get("/ai_hint/trace/?request_id=6").get_json()["request"]["student_run"]
    assert run["executor"] == "local" and run["tests"]  # per-test detail: the local sandbox judged it
    assert all(problem != "factorial" for problem, _ in orchestration.executed())


def test_the_execute_url_failing_for_a_while_loses_no_request(client, runtime, worker, orchestration):
    orchestration.fail_next(Endpoint.EXECUTE, 3, status=502)  # orchestration's proxy: the handler is down
    ask(client, 7, WRONG, problem_id="reverse_words")
    join(runtime)
    assert status(client, 7)["job_finished_successfully"]
    assert len(orchestration.calls[Endpoint.EXECUTE]) >= 4


def test_a_repeated_request_after_the_end_posts_its_callback_again(client, runtime, worker, orchestration):
    ask(client, 8, WRONG, problem_id="reverse_words")
    join(runtime)
    wait_until(lambda: len(orchestration.callbacks) == 1, what="the first callback")
    # Orchestration asks again (it lost our answer, or its database was reset): same payload.
    reply = client.post("/ai_hint/add_request/", json={"request_id": 8, "data": {
        "problem_id": "reverse_words", "student_program": WRONG, "hint_type": "debug"}})
    assert reply.status_code == 200 and reply.get_json()["status"] == "already_accepted"
    join(runtime)
    assert [c["request_id"] for c in orchestration.callbacks] == [8, 8]
    assert orchestration.callbacks[0]["hint"] == orchestration.callbacks[1]["hint"]
    assert Hint.select().count() == 1 and Hint.get().reported_at is not None


@pytest.fixture
def llm_runtime(settings, orchestration_env, fake_llm):
    svc = services_for(fake_llm.base_url, **orchestration_env)
    fake_llm.program_answers = [json.dumps({"fixed_program": RIGHT}), json.dumps({"fixed_program": WRONG})]
    return build(settings, services=svc)


def test_with_an_llm_the_candidates_are_judged_remotely_and_the_prompt_quotes_the_handler(
    llm_runtime, fake_llm, orchestration
):
    client = api_client(llm_runtime)
    started = hint_worker.start(llm_runtime, threads=4)
    try:
        ask(client, 9, WRONG, problem_id="reverse_words")
        join(llm_runtime)
    finally:
        started.stop()
    assert status(client, 9)["job_finished_successfully"]
    judged = {program for problem, program in orchestration.executed() if problem == "reverse_words"}
    assert {WRONG, RIGHT} <= judged
    verdicts = {c.program: c.correct for c in EnhancedProgram.select()}
    assert verdicts[RIGHT] is True and verdicts.get(WRONG) is False
    assert EVIDENCE in fake_llm.prompts("hint")[0]  # the debug prompt carries the handler's output
    assert "reverse_words(text)" in fake_llm.prompts("program")[0]  # orchestration's description
