"""Benchmark the production stack on this machine: `python -m scripts.bench [--json]`.

Stands up the real thing locally — waitress, `dramatiq hint_actors` worker processes on
the local PostgreSQL and RabbitMQ, and a fake OpenAI-compatible server with a fixed
latency — and prints one table of ingest, pipeline overhead, LLM-bound concurrency,
priorities under load and sandbox overhead, each against a baseline measured in the
same run. docs/benchmarks.md explains every figure. Takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from scripts.bench_scenarios import SCENARIOS, Config, Ids, say
from scripts.bench_stats import Row, check, fmt, ratio, render

TARGETS = {
    "ingest_p99_ms": 25.0,
    "overhead_p50_ms": 300.0,
    "overhead_p99_ms": 1000.0,
    "burst_s": 5.0,
    "llm_ratio": 5.0,
    "sandbox_ratio": 1.0,
    "flood_p99_ratio": 3.0,
}


def _ingest_rows(r: dict[str, Any]) -> list[Row]:
    sec = "ingest: add_request, no workers (vs a trivial Flask route on the same waitress)"
    api_sat, triv_sat = r["api_saturation"], r["trivial_saturation"]
    api, triv = r["api_fixed"]["latency_ms"], r["trivial_fixed"]["latency_ms"]
    rate = f"{r['rate']:.0f}/s"
    rows = [
        Row(
            sec,
            "throughput at saturation",
            fmt(api_sat["per_second"], " req/s", 0),
            fmt(triv_sat["per_second"], " req/s", 0),
            fmt(ratio(api_sat["per_second"], triv_sat["per_second"]), "x", 2),
            "ratio reported",
        ),
        Row(
            sec,
            f"latency p50 at {rate}",
            fmt(api["p50"], " ms"),
            fmt(triv["p50"], " ms"),
            fmt(ratio(api["p50"], triv["p50"]), "x", 2),
        ),
        Row(
            sec,
            f"latency p99 at {rate}",
            fmt(api["p99"], " ms"),
            fmt(triv["p99"], " ms"),
            fmt(ratio(api["p99"], triv["p99"]), "x", 2),
            f"<= {TARGETS['ingest_p99_ms']:.0f} ms",
            check(api["p99"] <= TARGETS["ingest_p99_ms"]),
        ),
    ]
    if r.get("api_fixed_windows_p99_ms"):
        rows.append(
            Row(
                sec,
                "  the median of windows with p99",
                " / ".join(fmt(v, " ms") for v in r["api_fixed_windows_p99_ms"]),
            )
        )
    errors = api_sat["errors"] + r.get("api_fixed_errors", r["api_fixed"]["errors"])
    if errors:
        rows.append(Row(sec, "add_request errors (non-2xx)", str(errors), verdict="MISSED"))
    return rows


def _step_rows(sec: str, steps: dict[str, Any]) -> list[Row]:
    rows = []
    for actor, split in steps.items():
        wait, work, cpu = split["queue_wait_ms"], split["work_ms"], split.get("cpu_ms") or {}
        rows.append(
            Row(sec, f"  {actor} (n={work['n']}) queue wait p50/p99", f"{fmt(wait['p50'])}/{fmt(wait['p99'])} ms")
        )
        rows.append(Row(sec, f"  {actor} work p50/p99", f"{fmt(work['p50'])}/{fmt(work['p99'])} ms"))
        if cpu.get("n"):
            rows.append(Row(sec, f"  {actor} CPU p50/p99", f"{fmt(cpu['p50'])}/{fmt(cpu['p99'])} ms"))
    return rows


def _pipeline_rows(r: dict[str, Any]) -> list[Row]:
    sec = f"pipeline overhead: LLM at 0 ms, one request at a time, workers {r['workers']}"
    o = r["overhead_ms"]
    rows = [
        Row(
            sec,
            f"add_request -> hint stored p50 (n={o['n']})",
            fmt(o["p50"], " ms"),
            target=f"<= {TARGETS['overhead_p50_ms']:.0f} ms",
            verdict=check(o["p50"] <= TARGETS["overhead_p50_ms"]),
        ),
        Row(
            sec,
            "add_request -> hint stored p99",
            fmt(o["p99"], " ms"),
            target=f"<= {TARGETS['overhead_p99_ms']:.0f} ms",
            verdict=check(o["p99"] <= TARGETS["overhead_p99_ms"]),
        ),
    ]
    rows += _step_rows(sec, r["steps"])
    b = r["burst"]
    sec = f"burst: {b['requests']} requests at once, LLM at 0 ms, workers {r['workers']}"
    rows += [
        Row(
            sec,
            "all hints stored after",
            fmt(b["total_s"], " s", 2),
            target=f"<= {TARGETS['burst_s']:.0f} s",
            verdict=check(b["total_s"] <= TARGETS["burst_s"]),
        ),
        Row(
            sec,
            "per-request latency p50/p99",
            f"{fmt(b['latency_s']['p50'], '', 2)}/{fmt(b['latency_s']['p99'], ' s', 2)}",
        ),
    ]
    return rows


def _llm_rows(r: dict[str, Any]) -> list[Row]:
    sec = (
        f"LLM-bound: {r['requests']} requests at once, LLM at {r['llm_latency_s'] * 1000:.0f} ms, "
        f"one worker process x {r['workers'].split('x')[1]} threads"
    )
    return [
        Row(
            sec,
            "all hints stored after",
            fmt(r["total_s"], " s", 2),
            f"ideal {fmt(r['ideal_s'], ' s', 1)}",
            fmt(r["ratio_to_ideal"], "x", 2),
            f"<= {TARGETS['llm_ratio']:.0f}x ideal",
            check(r["ratio_to_ideal"] <= TARGETS["llm_ratio"]),
        ),
        Row(sec, "  the median of bursts taking", " / ".join(fmt(t, " s", 2) for t in r.get("bursts_total_s", []))),
        Row(
            sec,
            "hints per second",
            fmt(r["hints_per_s"], "/s", 1),
            fmt(r["requests"] / r["ideal_s"], "/s", 1),
            fmt(ratio(r["hints_per_s"], r["requests"] / r["ideal_s"]), "x", 2),
        ),
        Row(sec, "same burst with the LLM at 0 ms (CPU floor)", fmt(r["cpu_floor_s"], " s", 2)),
        Row(
            sec,
            "LLM wait added over the CPU floor",
            fmt(r["total_s"] - r["cpu_floor_s"], " s", 2),
            f"ideal {fmt(r['ideal_s'], ' s', 1)}",
            fmt(ratio(r["total_s"] - r["cpu_floor_s"], r["ideal_s"]), "x", 2),
        ),
        Row(sec, "LLM calls made (2 per request expected)", str(r["llm_calls"])),
        Row(sec, "worker thread CPU per request (sum of its steps)", fmt(r.get("cpu_per_request_ms"), " ms")),
        Row(
            sec,
            "per-request latency p50/p99",
            f"{fmt(r['latency_s']['p50'], '', 2)}/{fmt(r['latency_s']['p99'], ' s', 2)}",
        ),
    ]


def _priority_rows(r: dict[str, Any]) -> list[Row]:
    sec = (
        f"priorities under load: {r['with']['requests']} requests at {r['rate']:.0f}/s, LLM at 0 ms, "
        f"workers {r['workers']} (baseline: all priorities equal)"
    )
    w, wo = r["with"], r["without"]
    rows = []
    for label, key in (
        ("started -> hint p99", "in_flight_s"),
        ("started -> hint p50", "in_flight_s"),
        ("add_request -> hint p99", "end_to_end_s"),
    ):
        p = "p99" if "p99" in label else "p50"
        better = w[key][p] < wo[key][p]
        rows.append(
            Row(
                sec,
                label,
                fmt(w[key][p], " s", 2),
                fmt(wo[key][p], " s", 2),
                fmt(ratio(w[key][p], wo[key][p]), "x", 2),
                "< baseline" if key == "in_flight_s" and p == "p99" else "",
                check(better) if key == "in_flight_s" and p == "p99" else "",
            )
        )
    rows.append(Row(sec, "last hint stored after", fmt(w["drained_s"], " s", 1), fmt(wo["drained_s"], " s", 1)))
    return rows


def _sandbox_rows(r: dict[str, Any]) -> list[Row]:
    sec = f"sandbox: trivial program, median of {r['runs']} (vs `python -I -S -c pass`)"
    return [
        Row(
            sec,
            "wall time per run",
            fmt(r["sandbox_ms"], " ms", 2),
            fmt(r["bare_interpreter_ms"], " ms", 2),
            fmt(r["ratio"], "x", 2),
            f"<= {TARGETS['sandbox_ratio']:.0f}x",
            check(r["ratio"] <= TARGETS["sandbox_ratio"]),
        )
    ]


def _flood_rows(r: dict[str, Any]) -> list[Row]:
    sec = (
        f"flood: {r['factor']:.0f}x capacity ({r['rate_per_s']:.0f}/s against "
        f"{fmt(r['capacity_per_s'], '/s', 1)} measured), "
        f"LLM at {r['llm_latency_s'] * 1000:.0f} ms, workers {r['workers']}, MAX_PENDING_REQUESTS={r['max_pending']}"
    )
    adm, unl = r["admitted_s"], r["unloaded_s"]
    p99 = ratio(adm["p99"], unl["p99"])
    return [
        Row(sec, "requests offered / admitted", f"{r['offered']} / {r['admitted']}"),
        Row(
            sec,
            "refused with 429 (with Retry-After)",
            f"{r['refused']} ({r['refused_with_retry_after']})",
            target="all with Retry-After",
            verdict=check(r["refused"] > 0 and r["refused_with_retry_after"] == r["refused"]),
        ),
        Row(
            sec,
            "admitted latency p50 (vs unloaded)",
            fmt(adm["p50"], " s", 2),
            fmt(unl["p50"], " s", 2),
            fmt(ratio(adm["p50"], unl["p50"]), "x", 2),
        ),
        Row(
            sec,
            "admitted latency p99 (vs unloaded)",
            fmt(adm["p99"], " s", 2),
            fmt(unl["p99"], " s", 2),
            fmt(p99, "x", 2),
            f"<= {TARGETS['flood_p99_ratio']:.0f}x",
            check(p99 <= TARGETS["flood_p99_ratio"]),
        ),
        Row(
            sec,
            f"admitted requests past their deadline ({r['deadline_s']:.0f} s)",
            str(r["missed_deadline"]),
            target="0",
            verdict=check(r["missed_deadline"] == 0),
        ),
    ]


ROWS = {
    "ingest": _ingest_rows,
    "pipeline": _pipeline_rows,
    "llm": _llm_rows,
    "priorities": _priority_rows,
    "sandbox": _sandbox_rows,
    "flood": _flood_rows,
}


def _short(error: str) -> str:
    """An error's first line, short enough for the table (the JSON has it whole)."""
    line = error.strip().splitlines()[0] if error.strip() else "unknown error"
    return line if len(line) <= 60 else line[:57] + "..."


def table(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, figures in results.items():
        if "error" in figures:
            rows.append(Row(name, "scenario failed", _short(figures["error"]), verdict="MISSED"))
        else:
            rows += ROWS[name](figures)
        for error in figures.get("retried_after", []):
            rows.append(Row(rows[-1].section, "run again after a failed attempt", _short(error)))
    return rows


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON on stdout (the table goes to stderr)"
    )
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument(
        "--processes", type=int, default=Config.processes, help="worker processes (pipeline, burst, priorities)"
    )
    parser.add_argument("--threads", type=int, default=Config.threads, help="threads per worker process")
    parser.add_argument(
        "--llm-threads", type=int, default=Config.llm_threads, help="threads of the LLM-bound scenario's one process"
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="keep the stacks' logs here (default: a temporary directory)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts, to check the benchmark itself works (figures not comparable)",
    )
    return parser.parse_args(argv)


def _clean(value: Any) -> Any:
    """JSON without NaN (not valid JSON): NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _run(name: str, cfg: Config, ids: Ids, attempts: int = 2) -> dict[str, Any]:
    """One scenario's figures, or its error. A scenario that fails is run once more on a
    fresh stack (the servers are shared, e.g. with tests that restart them), and the
    retry is recorded in its figures."""
    errors = []
    for _ in range(attempts):
        try:
            figures = SCENARIOS[name](cfg, ids)
            return {**figures, "retried_after": errors} if errors else figures
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' figures
            say(f"{name} failed: {type(exc).__name__}: {exc}")
            errors.append(f"{type(exc).__name__}: {exc}")
    return {"error": errors[-1], "retried_after": errors[:-1]}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="hint-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config(log_dir=log_dir, processes=args.processes, threads=args.threads, llm_threads=args.llm_threads)
    if args.quick:
        cfg = replace(
            cfg,
            ingest_seconds=2.0,
            pipeline_requests=10,
            burst_requests=10,
            llm_requests=20,
            llm_bursts=1,
            ingest_windows=1,
            priority_rate=5.0,
            priority_seconds=4.0,
            sandbox_runs=10,
            flood_seconds=4.0,
            flood_unloaded=3,
        )
    ids = Ids()
    results: dict[str, Any] = {}
    started = time.monotonic()
    for name in names:
        results[name] = _run(name, cfg, ids)
    rows = table(results)
    text = render(rows) + f"\n\n{time.monotonic() - started:.0f} s in all; logs in {log_dir}\n"
    if args.quick:
        text += "quick run: small counts; the figures and verdicts are not comparable with a full run\n"
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(_clean({"results": results, "rows": [r.__dict__ for r in rows]}), indent=2))
    else:
        print(text)
    return 1 if any(r.verdict == "MISSED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
