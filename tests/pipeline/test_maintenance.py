"""Operator actions (issue 13): re-run a finished request keeping its old attempt in the
audit trail, and retention that deletes old finished requests but keeps their figures."""

from __future__ import annotations

import datetime as dt

import pytest

from hint_actors import sweep
from hint_api import create_app
from hint_api.console import queries
from hint_api.console.filters import Filters
from maintenance import MaintenanceError, prune, rerun
from models import (
    DailyFigure,
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    RequestAttempt,
    SolutionPoolEntry,
    StepClaim,
    utcnow,
)
from runtime import build
from tests.helpers import REFLECTION, ask, join, status
from tests.pipeline.test_api_contract import schema_validator


@pytest.fixture
def settings(make_settings, receiver):
    return make_settings(BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url)


def fail_past_deadline(client, runtime, worker, request_id: int) -> None:
    """A request that ends failed: no reflection, and its deadline passes."""
    ask(client, request_id, reflection=False)
    join(runtime)
    Request.update(deadline_at=utcnow() - dt.timedelta(seconds=1)).where(Request.request_id == request_id).execute()
    sweep.sweep(runtime)
    join(runtime)
    assert status(client, request_id)["job_finished_successfully"] is False


def add_reflection(client, request_id: int) -> None:
    question, answer = REFLECTION
    assert client.post("/ai_hint/add_reflection/", json={
        "request_id": request_id, "data": {"reflection_question": question, "reflection_answer": answer},
    }).status_code == 200


def test_rerun_of_a_failed_request_gets_a_hint_and_keeps_the_old_attempt(client, runtime, worker, receiver):
    fail_past_deadline(client, runtime, worker, 1)
    add_reflection(client, 1)
    assert receiver.request_ids() == [1]

    reply = client.post("/ai_hint/rerun/", json={"request_id": 1, "reason": "deadline too short"})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["attempt"] == 2
    assert reply.get_json()["previous_attempt"]["job_finished_successfully"] is False
    join(runtime)

    answer = status(client, 1)
    assert answer["job_finished_successfully"] is True and answer["hint"]
    trace = client.get("/ai_hint/trace/?request_id=1").get_json()
    errors = [e.message for e in schema_validator(client, "Trace").iter_errors(trace)]
    assert errors == []
    [old] = trace["previous_attempts"]
    assert old["attempt"] == 1 and old["job_finished_successfully"] is False
    assert "deadline exceeded" in old["generation_error_message"]
    assert old["reason"] == "deadline too short"
    assert old["summary"]["enhanced_programs"]  # the old candidates and their verdicts
    assert trace["hint"]["job_finished_successfully"] is True
    assert Hint.select().count() == 1  # still exactly one final answer
    assert ProgramEnhancementPhase.select().count() == 1  # the old phase lives in the attempt only
    assert receiver.request_ids() == [1, 1]  # the callback is posted again with the new hint


def test_rerun_of_a_running_request_is_refused_and_unknown_is_404(client, runtime, worker):
    worker.pause()
    ask(client, 2)
    reply = client.post("/ai_hint/rerun/", json={"request_id": 2})
    assert reply.status_code == 409 and "still running" in reply.get_json()["error"]
    assert RequestAttempt.select().count() == 0
    reply = client.post("/ai_hint/rerun/", json={"request_id": 99})
    assert reply.status_code == 404 and "99" in reply.get_json()["error"]
    with pytest.raises(MaintenanceError) as refused:
        rerun(runtime, 2)
    assert refused.value.status == 409
    worker.resume()


@pytest.mark.parametrize("env", [{"HINT_API_TOKEN": ""}, {"HINT_API_TOKEN": "", "HINT_API_ALLOW_ANONYMOUS": "true"},
                                 {"HINT_API_ALLOW_FROM": "127.0.0.0/8"}])
def test_the_rerun_endpoint_needs_the_token_even_from_loopback(make_settings, services, executor, env):
    app = create_app(build(make_settings(**env), services=services, executor=executor))
    caller = app.test_client()
    caller.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    reply = caller.post("/ai_hint/rerun/", json={"request_id": 1})
    assert reply.status_code in (401, 403) and reply.get_json()["error"]


def age(request_id: int, days: float) -> None:
    """Move a request (and its hint) `days` into the past."""
    shift = dt.timedelta(days=days)
    request = Request.get(Request.request_id == request_id)
    Request.update(created_at=request.created_at - shift).where(Request.id == request.id).execute()
    hint = Hint.get(Hint.request == request.id) if request.stage == "finished" else None
    if hint:
        Hint.update(created_at=hint.created_at - shift).where(Hint.id == hint.id).execute()


def rows_of(request_pk: int) -> dict[str, int]:
    tables = (EnhancedProgram, Hint, HintGenerationPhase, ProgramEnhancementPhase, Reflection, StepClaim,
              RequestAttempt)
    return {t._meta.table_name: t.select().where(t.request == request_pk).count() for t in tables}


def test_prune_deletes_old_finished_requests_and_keeps_their_figures(client, runtime, worker):
    for request_id in (1, 2, 3):
        ask(client, request_id)
    fail_past_deadline(client, runtime, worker, 4)
    add_reflection(client, 4)
    rerun(runtime, 4)  # an old attempt: its row goes too
    join(runtime)
    worker.pause()
    ask(client, 5)  # stays pending
    for request_id in (1, 2, 4, 5):
        age(request_id, 40)
    old = [Request.get(Request.request_id == r).id for r in (1, 2, 4)]
    assert all(sum(rows_of(pk).values()) for pk in old)
    pool = SolutionPoolEntry.select().count()
    old_phases = ProgramEnhancementPhase.select().where(ProgramEnhancementPhase.request.in_(old))
    tokens = sum(p.prompt_tokens for p in old_phases)

    before = queries.dashboards(Filters())

    dry = prune(30, dry_run=True)
    assert dry.requests == 3 and dry.rows["request"] == 3 and dry.rows["hint"] == 3
    assert Request.select().count() == 5 and DailyFigure.select().count() == 0

    done = prune(30, batch=2)
    assert done.requests == 3 and done.batches == 2
    assert sorted(r.request_id for r in Request.select()) == [3, 5]  # the recent one and the pending one
    assert all(sum(rows_of(pk).values()) == 0 for pk in old)
    assert SolutionPoolEntry.select().count() == pool  # known-correct programs are not pruned
    figures = list(DailyFigure.select())
    assert sum(f.requests for f in figures) == 3
    assert sum(f.requests for f in figures if f.outcome == "hint") == 3  # request 4 ended with a hint on re-run
    assert {f.problem_id for f in figures} == {"factorial"}
    assert sum(f.prompt_tokens for f in figures) >= tokens
    assert all(f.latency_seconds >= 0 for f in figures)
    after = queries.dashboards(Filters())  # the console's per-day history survives the prune
    assert after.tokens_per_day == before.tokens_per_day and after.hints_per_day == before.hints_per_day
    assert prune(30).requests == 0  # nothing left to do; figures not counted twice
    assert sum(f.requests for f in DailyFigure.select()) == 3
    worker.resume()
