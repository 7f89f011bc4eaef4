"""`python -m scripts.llm_costs`: tokens and LLM calls per hint over the stored requests."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from models import Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, utcnow
from scripts.llm_costs import collect, render
from settings import ROOT


@pytest.fixture(autouse=True)
def bound(runtime):
    """The models bound to the test's own database."""


def request(request_id: int, created_at: dt.datetime | None = None) -> Request:
    now = created_at or utcnow()
    return Request.create(
        request_id=request_id,
        problem_id="factorial",
        hint_type="debug",
        student_program="x = 1\n",
        payload_hash="h",
        created_at=now,
        deadline_at=now + dt.timedelta(minutes=10),
        reflection_deadline_at=now,
    )


def store_three_requests() -> None:
    first = request(1)
    ProgramEnhancementPhase.create(request=first, engine="openai", model="gpt-4o-mini", llm_calls=1,
                                   prompt_tokens=100, completion_tokens=60, waiting_seconds=1.5)
    HintGenerationPhase.create(request=first, engine="openai", model="gpt-4o", llm_calls=2,
                               prompt_tokens=200, completion_tokens=40, waiting_seconds=0.5)
    Hint.create(request=first, hint="?", job_finished_successfully=True)
    second = request(2)  # its programs were reused: no program-generation call
    ProgramEnhancementPhase.create(request=second, engine="cache")
    HintGenerationPhase.create(request=second, engine="openai", model="gpt-4o", llm_calls=1,
                               prompt_tokens=100, completion_tokens=20, waiting_seconds=0.2)
    Hint.create(request=second, hint="?", job_finished_successfully=True)
    failed = request(3)  # the provider was down: three attempts, no tokens, no hint
    ProgramEnhancementPhase.create(request=failed, engine="openai", model="gpt-4o-mini", llm_calls=3,
                                   waiting_seconds=3.0, error="HTTP 500")
    Hint.create(request=failed, job_finished_successfully=False, generation_error_message="down")


def test_costs_per_engine_model_and_per_hint():
    store_three_requests()
    report = collect()
    assert (report.requests, report.hints) == (3, 2)
    lines = {(line.phase, line.engine, line.model): line for line in report.lines}
    mini = lines[("program_generation", "openai", "gpt-4o-mini")]
    assert (mini.phases, mini.llm_calls, mini.prompt_tokens, mini.completion_tokens) == (2, 4, 100, 60)
    assert lines[("program_generation", "cache", None)].llm_calls == 0
    hints = lines[("hint_generation", "openai", "gpt-4o")]
    assert (hints.phases, hints.llm_calls, hints.prompt_tokens, hints.completion_tokens) == (2, 3, 300, 60)
    assert report.total["llm_calls"] == 7 and report.total["prompt_tokens"] == 400
    # Failed calls cost too, so they count in the mean per successful hint.
    assert report.per_hint["llm_calls"] == 3.5 and report.per_hint["prompt_tokens"] == 200
    text = render(report)
    assert "3 request(s), 2 with a hint" in text
    assert "per hint (mean): 3.50 LLM calls, 200.0 prompt + 60.0 completion tokens" in text


def test_since_leaves_older_requests_out():
    store_three_requests()
    old = request(4, created_at=utcnow() - dt.timedelta(days=2))
    HintGenerationPhase.create(request=old, engine="openai", model="gpt-4o", llm_calls=9, prompt_tokens=999)
    assert collect().total["llm_calls"] == 16
    assert collect(utcnow() - dt.timedelta(hours=1)).total["llm_calls"] == 7


def test_the_command_prints_the_report_as_json(database_url):
    store_three_requests()
    reply = subprocess.run(
        [sys.executable, "-m", "scripts.llm_costs", "--json", "--since-hours", "1"],
        cwd=ROOT, env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=60, check=True,
    )
    data = json.loads(reply.stdout)
    assert data["hints"] == 2 and data["per_hint"]["llm_calls"] == 3.5


def test_money_is_summed_per_line_and_an_unpriced_model_makes_it_unknown():
    first, second = request(1), request(2)
    for r, cost in ((first, 0.0012), (second, 0.0008)):
        HintGenerationPhase.create(request=r, engine="openai", model="gpt-4o", llm_calls=1, prompt_tokens=100,
                                   cost=cost)
        Hint.create(request=r, hint="?", job_finished_successfully=True)
    report = collect()
    assert report.total["cost"] == 0.002 and report.per_hint["cost"] == 0.001
    ProgramEnhancementPhase.create(request=first, engine="openai", model="unpriced-model", llm_calls=1,
                                   prompt_tokens=50, cost=None)
    report = collect()
    assert report.total["cost"] is None and report.per_hint["cost"] is None
    assert "cost unknown" in render(report)
