"""`python -m scripts.prune`: a dry run deletes nothing, a real run deletes old finished
requests with all their rows and keeps their figures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from models import DailyFigure, EnhancedProgram, Hint, Reflection, Request
from scripts.bench_prune import fill
from settings import ROOT


@pytest.fixture(autouse=True)
def bound(runtime):
    """The models bound to the test's own database."""


def run(database_url: str, *args: str) -> str:
    reply = subprocess.run(
        [sys.executable, "-m", "scripts.prune", *args],
        cwd=ROOT, env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=60,
    )
    assert reply.returncode == 0, reply.stderr
    return reply.stdout


def test_dry_run_then_prune(database_url):
    fill(30, days_old=40)
    fill(5, days_old=2, first_id=100)
    out = run(database_url, "--older-than", "30", "--dry-run")
    assert "would delete 30 finished request(s)" in out and "enhanced_program" in out
    assert Request.select().count() == 35 and DailyFigure.select().count() == 0

    out = run(database_url, "--older-than", "30", "--batch", "7")
    assert "deleted 30 finished request(s)" in out and "5 batch(es)" in out
    assert Request.select().count() == 5
    assert EnhancedProgram.select().count() == 15 and Hint.select().count() == 5 and Reflection.select().count() == 5
    [figure] = DailyFigure.select()
    assert figure.requests == 30 and figure.prompt_tokens == 30 * 800 and figure.cost == pytest.approx(30 * 0.0022)
    assert figure.latency_seconds == pytest.approx(30 * 4)


def test_a_negative_age_is_refused(database_url):
    reply = subprocess.run([sys.executable, "-m", "scripts.prune", "--older-than", "-1"], cwd=ROOT,
                           env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url},
                           capture_output=True, text=True, timeout=60)
    assert reply.returncode == 2 and "older-than" in reply.stderr


def test_llm_costs_reports_the_money_of_pruned_requests(database_url):
    fill(10, days_old=40)
    run(database_url, "--older-than", "30")
    reply = subprocess.run([sys.executable, "-m", "scripts.llm_costs"], cwd=ROOT,
                           env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url},
                           capture_output=True, text=True, timeout=60, check=True)
    assert "deleted by retention (daily_figure, not above): 10 request(s), 10 with a hint" in reply.stdout
    assert "cost 0.0220" in reply.stdout  # 10 x (0.0002 + 0.002)
