"""What a phase's LLM calls cost: tokens, calls, waiting time and money, in one place."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hint_core.ai_config import AIConfig, ModelPrice, PricingConfig
from hint_core.engines import PhaseRecord, Services, propose_programs
from hint_core.llm import LLMClient, Usage, cost, price_of, usage_report
from hint_core.problem_source import ProblemSource
from hint_core.problems import ProblemBank
from tests.fake_openai import status

PRICES = PricingConfig(currency="USD", models={
    "gpt-4o": ModelPrice(2.5, 10.0),
    "gpt-4o-mini": ModelPrice(0.15, 0.6),
    "free-local": ModelPrice(0.0, 0.0),
})


def test_tokens_become_money_with_the_price_per_million():
    assert cost(PRICES, "gpt-4o", 1_000_000, 0) == 2.5
    assert cost(PRICES, "gpt-4o", 1200, 300) == pytest.approx(0.006)  # 1200 * 2.5e-6 + 300 * 10e-6
    assert cost(PRICES, "free-local", 5000, 5000) == 0.0


def test_a_dated_snapshot_takes_its_base_models_price_unless_listed():
    assert price_of(PRICES, "gpt-4o-2024-08-06") == ModelPrice(2.5, 10.0)
    assert price_of(PRICES, "gpt-4o-mini-2024-07-18") == ModelPrice(0.15, 0.6)  # the longest base wins
    assert price_of(PRICES, "gpt-4") is None and price_of(PRICES, "gpt-4omni") is None


def test_an_unknown_model_has_an_unknown_cost_not_zero():
    assert cost(PRICES, "llama-3-70b", 100, 10) is None
    assert cost(PRICES, None, 100, 10) is None
    assert cost(PRICES, "llama-3-70b", 0, 0) == 0.0  # no token used: nothing to pay


def test_usage_adds_up_calls_and_failures():
    usage = Usage()
    usage.add(Usage(model="gpt-4o", prompt_tokens=100, completion_tokens=20, calls=2, waiting_seconds=1.5,
                    responses=[{"id": "a"}]))
    usage.add_failure(calls=3, seconds=2.0)
    usage.add(Usage(model="gpt-4o", prompt_tokens=50, completion_tokens=5, calls=1, waiting_seconds=0.5))
    assert usage.columns() == {
        "model": "gpt-4o",
        "prompt_tokens": 150,
        "completion_tokens": 25,
        "llm_calls": 6,
        "waiting_seconds": 4.0,
    }
    assert usage.responses == [{"id": "a"}]
    assert usage.cost(PRICES) == pytest.approx(150 * 2.5e-6 + 25 * 10e-6)
    assert Usage.from_columns(usage.columns()).columns() == usage.columns()


def test_the_report_sums_phases_and_an_unknown_price_makes_the_total_unknown():
    rows = [
        (
            "program_generation",
            {
                "attempt": 1,
                "engine": "openai",
                "model": "gpt-4o-mini",
                "prompt_tokens": 1000,
                "completion_tokens": 500,
                "llm_calls": 1,
                "waiting_seconds": 1.25,
            },
        ),
        (
            "hint_generation",
            {
                "attempt": 1,
                "engine": "openai",
                "model": "gpt-4o",
                "prompt_tokens": 800,
                "completion_tokens": 100,
                "llm_calls": 2,
                "waiting_seconds": 0.5,
            },
        ),
    ]
    report = usage_report(rows, PRICES)
    assert report["currency"] == "USD"
    assert [p["cost"] for p in report["phases"]] == [pytest.approx(0.00045), pytest.approx(0.003)]
    assert report["total"] == {"prompt_tokens": 1800, "completion_tokens": 600, "llm_calls": 3,
                               "waiting_seconds": 1.75, "cost": pytest.approx(0.00345)}
    offline = ("hint_generation", {"attempt": 2, "engine": "offline", "model": None, "prompt_tokens": 0,
                                   "completion_tokens": 0, "llm_calls": 0, "waiting_seconds": 0.0})
    assert usage_report([*rows, offline], PRICES)["total"]["cost"] == pytest.approx(0.00345)
    unknown = ("hint_generation", {**rows[1][1], "model": "mystery-model"})
    assert usage_report([rows[0], unknown], PRICES)["total"]["cost"] is None
    stored = ("hint_generation", {**rows[1][1], "model": "mystery-model", "cost": 0.01})  # priced when called
    assert usage_report([rows[0], stored], PRICES)["total"]["cost"] == pytest.approx(0.01045)


def test_a_phase_record_takes_its_columns_and_cost_from_the_usage():
    record = PhaseRecord(engine="openai", model="gpt-4o")
    record.charge(Usage(model="gpt-4o-2024-08-06", prompt_tokens=1000, completion_tokens=100, calls=2,
                        waiting_seconds=3.0, responses=[{"id": "r"}]), PRICES)
    assert (
        record.model,
        record.prompt_tokens,
        record.completion_tokens,
        record.llm_calls,
        record.waiting_seconds,
    ) == ("gpt-4o-2024-08-06", 1000, 100, 2, 3.0)
    assert record.response == [{"id": "r"}] and record.cost == pytest.approx(0.0035)
    failed = PhaseRecord(engine="openai", model="gpt-4o")
    failed.charge(Usage(calls=3, waiting_seconds=9.0), PRICES)
    assert (failed.model, failed.llm_calls, failed.cost) == ("gpt-4o", 3, 0.0)


def test_the_program_phase_records_money_for_a_real_call(fake_llm):
    problem = ProblemBank().get("factorial")
    ai = AIConfig(pricing=replace(PRICES, models={"priced-model": ModelPrice(1.0, 2.0)}))
    ai = replace(ai, program_generation=replace(ai.program_generation, model="priced-model", n=2,
                                                timeout_seconds=2.0, deadline_seconds=5.0))
    llm = LLMClient("k", fake_llm.base_url, backoff_initial=0.01, backoff_max=0.05)
    svc = Services(ProblemSource(ProblemBank(), None), ai, llm)
    fake_llm.push(status(503))  # a failed attempt counts as a call, not as tokens
    proposal = propose_programs(svc, problem, "debug", "def factorial(n):\n    return 0\n", request_id=1)
    record = proposal.record
    assert (record.model, record.llm_calls, record.prompt_tokens, record.completion_tokens) == \
        ("priced-model", 2, 100, 40)
    assert record.cost == pytest.approx(100 * 1e-6 + 40 * 2e-6)
    assert fake_llm.requests[-1]["response_format"] == {"type": "json_object"}
