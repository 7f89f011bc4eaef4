"""The benchmark's own pieces (statistics, load limits, table), without running it."""

from __future__ import annotations

import json
import math

import pytest

from scripts import bench
from scripts.bench_load import fixed_rate, loopback, saturate
from scripts.bench_sandbox_adapter import parse
from scripts.bench_stats import percentile, summary


def test_percentiles_interpolate_between_ranks():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(101)), 99) == 99.0
    assert math.isnan(percentile([], 50))
    assert summary([5.0]) == {"n": 1, "p50": 5.0, "p99": 5.0, "max": 5.0}


@pytest.mark.parametrize("url", ["http://example.com/x", "https://127.0.0.1/", "http://10.0.0.1:80/"])
def test_the_load_generator_refuses_anything_but_loopback(url):
    with pytest.raises(ValueError):
        loopback(url)
    with pytest.raises(ValueError):
        saturate(url, lambda i: {}, 1, 1, 1)
    with pytest.raises(ValueError):
        fixed_rate(url, lambda i: {}, 1, 1, 1)
    assert loopback("http://127.0.0.1:8001/ai_hint/add_request/") == ("127.0.0.1", 8001, "/ai_hint/add_request/")


def test_load_against_a_closed_port_is_bounded_and_counts_errors():
    result = saturate("http://127.0.0.1:9/", lambda i: {"i": i}, 2, 10, 5)
    assert result.sent == 10 and result.errors == 10 and result.seconds < 5


def test_sandbox_figures_are_read_from_its_printout():
    out = (
        "layers: pidns, rlimits\nsandbox run (trivial program), median of 40: 5.00 ms\n"
        "bare `python -I -S -c pass`, median of 40: 10.00 ms\nratio sandbox / bare interpreter: 0.50\n"
    )
    assert parse(out) == {"sandbox_ms": 5.0, "bare_interpreter_ms": 10.0, "ratio": 0.5, "layers": ["pidns", "rlimits"]}


def _load(per_second: float, p99: float) -> dict:
    return {
        "requests": 100,
        "errors": 0,
        "seconds": 1.0,
        "per_second": per_second,
        "latency_ms": {"n": 100, "p50": p99 / 2, "p99": p99, "max": p99},
    }


def _steps() -> dict:
    s = {"n": 10, "p50": 1.0, "p99": 2.0, "max": 2.0}
    return {"run_student_program": {"queue_wait_ms": s, "work_ms": s}}


RESULTS = {
    "ingest": {
        "api_saturation": _load(400, 9),
        "trivial_saturation": _load(2000, 3),
        "api_fixed": _load(200, 30),
        "trivial_fixed": _load(200, 2),
        "rate": 200.0,
    },
    "pipeline": {
        "workers": "2x64",
        "overhead_ms": {"n": 120, "p50": 100.0, "p99": 200.0, "max": 250.0},
        "steps": _steps(),
        "burst": {
            "requests": 50,
            "total_s": 3.0,
            "send_s": 0.5,
            "hints_per_s": 16.7,
            "latency_s": {"n": 50, "p50": 2.0, "p99": 2.9, "max": 3.0},
        },
    },
    "llm": {
        "requests": 200,
        "total_s": 8.0,
        "send_s": 1.0,
        "hints_per_s": 25.0,
        "workers": "1x64",
        "llm_latency_s": 1.0,
        "llm_calls": 400,
        "ideal_s": 2.0,
        "ratio_to_ideal": 4.0,
        "cpu_floor_s": 6.5,
        "steps": _steps(),
        "latency_s": {"n": 200, "p50": 5.0, "p99": 7.9, "max": 8.0},
    },
    "priorities": {
        "rate": 20.0,
        "seconds": 10.0,
        "workers": "2x64",
        "with": {
            "requests": 200,
            "in_flight_s": {"p50": 0.2, "p99": 0.5},
            "end_to_end_s": {"p50": 1, "p99": 2},
            "drained_s": 12.0,
        },
        "without": {
            "requests": 200,
            "in_flight_s": {"p50": 1.0, "p99": 3.0},
            "end_to_end_s": {"p50": 1, "p99": 3},
            "drained_s": 12.5,
        },
    },
    "sandbox": {"sandbox_ms": 5.0, "bare_interpreter_ms": 9.0, "ratio": 0.56, "layers": [], "runs": 40},
    "flood": {
        "workers": "1x16",
        "llm_latency_s": 0.5,
        "capacity_per_s": 11.0,
        "rate_per_s": 110.0,
        "factor": 10.0,
        "max_pending": 33,
        "wait_s": 3.0,
        "deadline_s": 60.0,
        "offered": 1100,
        "admitted": 140,
        "refused": 960,
        "refused_with_retry_after": 959,
        "unloaded_s": {"n": 10, "p50": 1.1, "p99": 1.2},
        "admitted_s": {"n": 140, "p50": 2.0, "p99": 3.0},
        "missed_deadline": 0,
    },
}


def test_the_table_checks_each_target_against_its_figure():
    rows = bench.table(RESULTS)
    verdicts = {r.figure: r.verdict for r in rows if r.verdict}
    assert verdicts == {
        "latency p99 at 200/s": "MISSED",  # 30 ms > 25 ms
        "add_request -> hint stored p50 (n=120)": "met",
        "add_request -> hint stored p99": "met",
        "all hints stored after": "met",
        "started -> hint p99": "met",
        "wall time per run": "met",
        "refused with 429 (with Retry-After)": "MISSED",  # one refusal without Retry-After
        "admitted latency p99 (vs unloaded)": "met",  # 2.5x <= 3x
        "admitted requests past their deadline (60 s)": "met",
    }
    text = bench.render(rows)
    assert "0.20x" in text  # saturation ratio to the trivial route
    assert "[sandbox:" in text and "ideal 2.0 s" in text


def test_a_failed_scenario_shows_up_as_missed_and_json_has_no_nan():
    rows = bench.table({"llm": {"error": "TimeoutError: only 3 of 200 hints"}})
    assert rows[0].verdict == "MISSED"
    assert json.loads(json.dumps(bench._clean({"x": float("nan")}))) == {"x": None}


def test_a_scenario_is_retried_once_and_the_retry_is_shown(monkeypatch):
    calls = []

    def flaky(cfg, ids):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return RESULTS["sandbox"]

    monkeypatch.setitem(bench.SCENARIOS, "sandbox", flaky)
    figures = bench._run("sandbox", None, None)
    assert figures["retried_after"] == ["ConnectionError: server closed the connection unexpectedly"]
    rows = bench.table({"sandbox": figures})
    assert rows[-1].figure == "run again after a failed attempt"


def test_the_llm_bound_figure_is_the_median_burst():
    from scripts.bench_scenarios import median_burst

    bursts = [({"total_s": 12.0}, "a", 400), ({"total_s": 9.0}, "b", 400), ({"total_s": 10.0}, "c", 398)]
    assert median_burst(bursts) == ({"total_s": 10.0}, "c", 398)
    assert median_burst(bursts[:1]) == bursts[0]


def test_the_ingest_latency_is_the_median_window():
    from scripts.bench_scenarios import median_window

    windows = [{"latency_ms": {"p99": p}, "tag": t} for p, t in ((9.0, "a"), (140.0, "b"), (11.0, "c"))]
    assert median_window(windows)["tag"] == "c"
