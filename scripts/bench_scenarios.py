"""The benchmark's scenarios, each on its own freshly started production stack.

Every scenario returns plain numbers (milliseconds, seconds, counts) in a dict; the
table and the targets live in `scripts/bench.py`. Load stays on loopback and every wait
is bounded, so a broken stack fails the benchmark instead of hanging it.
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from scripts.bench_load import Client, LoadResult, fixed_rate, saturate
from scripts.bench_stack import BenchStack, add_reflection_body, add_request_body, bench_stack
from scripts.bench_stats import summary
from scripts.bench_steps import StepTime, cpu_per_request, per_step, read_steps
from tests.production import ROOT, free_port, purge_queue

ADD_REQUEST = "/ai_hint/add_request/"
ADD_REFLECTION = "/ai_hint/add_reflection/"


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


@dataclass
class Config:
    log_dir: Path
    processes: int = 2  # worker processes for pipeline, burst and priorities (as in the Procfile)
    threads: int = 32  # threads per worker process (as in the Procfile)
    # The LLM-bound scenario's one process: 200 requests make 400 LLM calls, so fewer
    # threads would serialize the waits in waves of `threads` calls.
    llm_threads: int = 128
    ingest_seconds: float = 8.0
    ingest_rate: float = 200.0
    ingest_clients: int = 16
    # Three fixed-rate windows, the median one reported: a publisher confirm waits for
    # RabbitMQ to write the message to disk, and one disk stall on a shared machine
    # (100-300 ms, rare) would otherwise decide an 8-second window's p99.
    ingest_windows: int = 3
    pipeline_requests: int = 120
    burst_requests: int = 50
    llm_requests: int = 200
    llm_latency: float = 1.0
    # The LLM-bound burst is repeated on the same stack and its median reported: on a
    # shared 2-core machine one burst's total swings by a second or two either way.
    llm_bursts: int = 3
    priority_rate: float = 40.0  # above what 2x32 workers finish (about 25/s here), so a backlog builds
    priority_seconds: float = 10.0
    sandbox_runs: int = 40
    # The flood: one worker process, an LLM slow enough that the workers are the bottleneck
    # (not the API), arrivals at ten times the capacity measured in the same run.
    flood_threads: int = 16
    flood_llm_latency: float = 0.5
    flood_factor: float = 10.0
    flood_seconds: float = 10.0
    flood_wait_s: float = 3.0  # MAX_PENDING_REQUESTS = capacity x this: the queueing accepted
    flood_deadline_s: float = 60.0  # REQUEST_DEADLINE_SECONDS on the flood's stacks
    flood_unloaded: int = 10


class Ids:
    """Fresh request ids: every scenario's requests are new to the service."""

    def __init__(self) -> None:
        self._next = 1_000
        self._lock = threading.Lock()

    def take(self, count: int) -> list[int]:
        with self._lock:
            first, self._next = self._next, self._next + count
        return list(range(first, first + count))


def send_requests(base: str, request_ids: list[int], senders: int) -> dict[int, float]:
    """add_request then add_reflection for each id, `senders` at a time; {id: epoch sent}."""
    sent: dict[int, float] = {}
    chunks = [request_ids[i::senders] for i in range(min(senders, len(request_ids)))]
    failures: list[str] = []

    def run(chunk: list[int]) -> None:
        client = Client.to(base)
        try:
            for rid in chunk:
                sent[rid] = time.time()
                for path, body in ((ADD_REQUEST, add_request_body(rid)), (ADD_REFLECTION, add_reflection_body(rid))):
                    status = client.post(path, body)
                    if status != 200:
                        failures.append(f"{path} {rid}: HTTP {status}")
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[:3]}")
    return sent


def warm_up(stack: BenchStack, ids: Ids, timeout: float = 60) -> None:
    """One full request, so worker boot, first connections and the sandbox are paid for."""
    rid = ids.take(1)
    send_requests(stack.stack.base, rid, 1)
    stack.wait_all(rid, timeout)


# --- ingest ------------------------------------------------------------------------------


def _wait_healthy(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not come up")


def _trivial_server(log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(log_dir / "trivial.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.bench_trivial", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(base)
    return proc, base


def _load_figures(result: LoadResult) -> dict[str, Any]:
    return {
        "requests": result.sent,
        "errors": result.errors,
        "seconds": result.seconds,
        "per_second": result.per_second,
        "latency_ms": summary(result.latencies_ms),
    }


def median_window(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The fixed-rate window whose p99 is the median (the upper one of two)."""
    return sorted(windows, key=lambda w: w["latency_ms"]["p99"])[len(windows) // 2]


def ingest(cfg: Config, ids: Ids) -> dict[str, Any]:
    """add_request alone (no workers: messages wait in the queue) against a trivial route."""
    trivial, trivial_base = _trivial_server(cfg.log_dir)
    try:
        with bench_stack(
            # No worker finishes anything here: the backlog limit would refuse the load after
            # MAX_PENDING_REQUESTS calls, and this scenario measures accepting, not refusing.
            cfg.log_dir / "ingest", processes=0, llm_latency=None, MAX_PENDING_REQUESTS="10000000"
        ) as stack:
            api_url, trivial_url = stack.stack.base + ADD_REQUEST, trivial_base + "/trivial/"
            pool = ids.take(200_000)

            def api_body(i: int) -> dict:
                return add_request_body(pool[i])

            def trivial_body(i: int) -> dict:
                return add_request_body(i)

            saturate(trivial_url, trivial_body, 4, 200, 10)  # warm both servers up
            saturate(api_url, api_body, 4, 200, 10)
            pool = pool[200:]
            out: dict[str, Any] = {}
            max_calls = int(cfg.ingest_seconds * 2_000)
            say(f"ingest: saturation, {cfg.ingest_clients} clients, {cfg.ingest_seconds:.0f}s each")
            out["trivial_saturation"] = _load_figures(
                saturate(trivial_url, trivial_body, cfg.ingest_clients, max_calls, cfg.ingest_seconds)
            )
            out["api_saturation"] = _load_figures(
                saturate(api_url, api_body, cfg.ingest_clients, max_calls, cfg.ingest_seconds)
            )
            pool = pool[out["api_saturation"]["requests"] :]
            count = int(cfg.ingest_rate * cfg.ingest_seconds)
            say(f"ingest: fixed rate {cfg.ingest_rate:.0f}/s, {count} calls each")
            out["trivial_fixed"] = _load_figures(
                fixed_rate(trivial_url, trivial_body, cfg.ingest_rate, count, cfg.ingest_seconds * 3)
            )
            windows = []
            for _ in range(cfg.ingest_windows):
                # No worker consumes: start each window with the queue as empty as a
                # consumed one would be (a queue tens of thousands deep slows RabbitMQ's
                # confirms, which is a backlog's cost, not the API's).
                purge_queue(stack.stack.env["TASK_QUEUE"])
                windows.append(
                    _load_figures(fixed_rate(api_url, api_body, cfg.ingest_rate, count, cfg.ingest_seconds * 3))
                )
                pool = pool[count:]
            out["api_fixed"] = median_window(windows)
            out["api_fixed_windows_p99_ms"] = [w["latency_ms"]["p99"] for w in windows]
            out["api_fixed_errors"] = sum(w["errors"] for w in windows)
            out["rate"] = cfg.ingest_rate
            return out
    finally:
        trivial.terminate()
        trivial.wait(10)


# --- pipeline overhead and the burst of 50 -----------------------------------------------


def _one_at_a_time(stack: BenchStack, request_ids: list[int]) -> list[float]:
    """Seconds from add_request to the stored hint, one request at a time."""
    out = []
    for rid in request_ids:
        sent = send_requests(stack.stack.base, [rid], 1)
        finished = stack.wait_all([rid], 30, poll=0.005)
        out.append(finished[rid] - sent[rid])
    return out


def _burst(stack: BenchStack, request_ids: list[int], senders: int = 50) -> dict[str, Any]:
    """All requests at once; seconds from the first send to the last stored hint."""
    started = time.time()
    sent = send_requests(stack.stack.base, request_ids, senders)
    finished = stack.wait_all(request_ids, 300)
    total = max(finished.values()) - started
    latencies = [finished[r] - sent[r] for r in request_ids]
    return {
        "requests": len(request_ids),
        "total_s": total,
        "send_s": max(sent.values()) - started,
        "hints_per_s": len(request_ids) / total,
        "latency_s": summary(latencies),
    }


def _split(steps: list[StepTime]) -> dict[str, Any]:
    return per_step(steps)


def pipeline(cfg: Config, ids: Ids) -> dict[str, Any]:
    """LLM at 0 ms: overhead one request at a time, then a burst of `burst_requests`."""
    with bench_stack(cfg.log_dir / "pipeline", processes=cfg.processes, threads=cfg.threads, llm_latency=0.0) as stack:
        warm_up(stack, ids)
        for _ in range(2):
            warm_up(stack, ids)
        say(f"pipeline: {cfg.pipeline_requests} requests one at a time, LLM at 0 ms")
        request_ids = ids.take(cfg.pipeline_requests)
        overhead = _one_at_a_time(stack, request_ids)
        steps = read_steps(stack.worker_logs(), set(request_ids))
        say(f"burst: {cfg.burst_requests} requests at once, LLM at 0 ms")
        burst = _burst(stack, ids.take(cfg.burst_requests))
        return {
            "workers": f"{cfg.processes}x{cfg.threads}",
            "overhead_ms": summary([s * 1000 for s in overhead]),
            "steps": _split(steps),
            "burst": burst,
        }


# --- LLM-bound concurrency -----------------------------------------------------------------


def median_burst(bursts: list[tuple[dict[str, Any], Any, Any]]) -> tuple[dict[str, Any], Any, Any]:
    """The burst (with what came with it) whose total time is the median (the upper one of two)."""
    return sorted(bursts, key=lambda b: b[0]["total_s"])[len(bursts) // 2]


def llm_bound(cfg: Config, ids: Ids) -> dict[str, Any]:
    """`llm_requests` at once with the LLM at `llm_latency`, one worker process; and first
    the same burst with the LLM at 0 ms on the same stack: the CPU floor, what the burst
    costs when no LLM wait exists to overlap."""
    with bench_stack(cfg.log_dir / "llm", processes=1, threads=cfg.llm_threads, llm_latency=0.0) as stack:
        warm_up(stack, ids)
        say(
            f"LLM-bound: {cfg.llm_requests} requests at once, LLM at 0 ms (CPU floor), "
            f"1 worker process x {cfg.llm_threads} threads"
        )
        floor = _burst(stack, ids.take(cfg.llm_requests))
        stack.fake.latency = cfg.llm_latency
        bursts = []
        for n in range(1, cfg.llm_bursts + 1):
            say(
                f"LLM-bound: {cfg.llm_requests} requests at once, LLM at {cfg.llm_latency * 1000:.0f} ms "
                f"(burst {n} of {cfg.llm_bursts})"
            )
            calls_before = len(stack.fake.requests)
            request_ids = ids.take(cfg.llm_requests)
            burst = _burst(stack, request_ids)
            bursts.append((burst, request_ids, len(stack.fake.requests) - calls_before))
        burst, request_ids, llm_calls = median_burst(bursts)
        ideal = 2 * cfg.llm_latency
        steps = read_steps(stack.worker_logs(), set(request_ids))
        return {
            **burst,
            "bursts_total_s": [b[0]["total_s"] for b in bursts],
            "workers": f"1x{cfg.llm_threads}",
            "llm_latency_s": cfg.llm_latency,
            "llm_calls": llm_calls,
            "ideal_s": ideal,
            "ratio_to_ideal": burst["total_s"] / ideal,
            "cpu_floor_s": floor["total_s"],
            "cpu_per_request_ms": cpu_per_request(steps, set(request_ids)),
            "steps": _split(steps),
        }


# --- priorities under load -------------------------------------------------------------------

FIRST_STEPS = ("run_student_program", "query_for_enhanced_programs")
EQUAL_PRIORITIES = {
    f"{step.upper()}_PRIORITY": "1"
    for step in (
        "run_student_program",
        "query_for_enhanced_programs",
        "run_enhanced_program",
        "add_reflection",
        "generate_hint",
        "return_hint",
    )
}


def _open_loop(
    base: str, request_ids: list[int], rate: float, refused: dict[int, bool] | None = None
) -> dict[int, float]:
    """One request (with its reflection) every 1/rate seconds, on time even if the API lags;
    {id: epoch sent} of those admitted. With `refused`, a 429 is recorded there
    ({id: Retry-After present}) instead of failing, and its reflection is not sent."""
    sent: dict[int, float] = {}
    started = time.monotonic()
    lock = threading.Lock()
    pending = iter(enumerate(request_ids))
    failures: list[str] = []

    def run() -> None:
        client = Client.to(base)
        try:
            while True:
                with lock:
                    index, rid = next(pending, (None, None))
                if rid is None:
                    return
                pause = started + index / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                at = time.time()
                status = client.post(ADD_REQUEST, add_request_body(rid))
                if status == 429 and refused is not None:
                    refused[rid] = "retry-after" in client.last_headers
                    continue
                if status != 200:
                    failures.append(f"add_request {rid}: HTTP {status}")
                    continue
                sent[rid] = at
                client.post(ADD_REFLECTION, add_reflection_body(rid))
        finally:
            client.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(len(request_ids) / rate + 60)
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed, e.g. {failures[:3]}")
    return sent


def _in_flight(sent: dict[int, float], finished: dict[int, float], steps: list[StepTime]) -> list[float]:
    """Seconds from a request's first step starting to its hint (how long a started one takes)."""
    first_wait: dict[int, float] = {}
    for s in steps:
        if s.actor in FIRST_STEPS and s.request_id is not None:
            first_wait[s.request_id] = min(first_wait.get(s.request_id, float("inf")), s.queue_wait_ms / 1000)
    return [finished[r] - (sent[r] + first_wait[r]) for r in finished if r in first_wait]


def _priority_run(cfg: Config, ids: Ids, label: str, env: dict[str, str]) -> dict[str, Any]:
    with bench_stack(
        cfg.log_dir / f"priorities-{label}", processes=cfg.processes, threads=cfg.threads, llm_latency=0.0, **env
    ) as stack:
        warm_up(stack, ids)
        count = int(cfg.priority_rate * cfg.priority_seconds)
        say(f"priorities ({label}): {count} requests at {cfg.priority_rate:.0f}/s")
        request_ids = ids.take(count)
        started = time.time()
        sent = _open_loop(stack.stack.base, request_ids, cfg.priority_rate)
        finished = stack.wait_all(request_ids, 180)
        steps = read_steps(stack.worker_logs(), set(request_ids))
        in_flight = _in_flight(sent, finished, steps)
        return {
            "requests": count,
            "in_flight_s": summary(in_flight),
            "end_to_end_s": summary([finished[r] - sent[r] for r in request_ids]),
            "drained_s": max(finished.values()) - started,
        }


def priorities(cfg: Config, ids: Ids) -> dict[str, Any]:
    """The same arrival stream with the configured priorities and with all of them equal."""
    return {
        "rate": cfg.priority_rate,
        "seconds": cfg.priority_seconds,
        "workers": f"{cfg.processes}x{cfg.threads}",
        "with": _priority_run(cfg, ids, "configured", {}),
        "without": _priority_run(cfg, ids, "equal", EQUAL_PRIORITIES),
    }


# --- sandbox ------------------------------------------------------------------------------------


def sandbox(cfg: Config, ids: Ids) -> dict[str, Any]:
    """The sandbox engineer's measurement (scripts.bench_sandbox), run in its own process."""
    from scripts.bench_sandbox_adapter import measure_sandbox

    say(f"sandbox: {cfg.sandbox_runs} runs, alternating with a bare interpreter start")
    return measure_sandbox(cfg.sandbox_runs)


# --- flood: ten times the capacity, with backpressure --------------------------------------------


def flood(cfg: Config, ids: Ids) -> dict[str, Any]:
    """Arrivals at `flood_factor` times the stack's capacity against a backlog limit sized
    for that capacity: what is admitted keeps near its unloaded latency, the rest is told
    to come back (429 with Retry-After), and no admitted request misses its deadline.

    Capacity is measured first on the same stack (a burst of `flood_threads * 3` at once,
    hints per second); the limit is capacity x `flood_wait_s`, the queueing accepted."""
    deadline = cfg.flood_deadline_s
    # The limit is set once the capacity is known: the stack starts with no limit in the
    # way (the setting's maximum) and the flood runs on a second stack with the limit.
    common = {"REQUEST_DEADLINE_SECONDS": str(deadline)}
    with bench_stack(
        cfg.log_dir / "flood-capacity",
        processes=1,
        threads=cfg.flood_threads,
        llm_latency=cfg.flood_llm_latency,
        **common,
    ) as stack:
        warm_up(stack, ids)
        say(
            f"flood: capacity, {cfg.flood_threads * 3} requests at once, LLM at {cfg.flood_llm_latency * 1000:.0f} ms, "
            f"1 worker process x {cfg.flood_threads} threads"
        )
        capacity = _burst(stack, ids.take(cfg.flood_threads * 3))["hints_per_s"]
    limit = max(1, math.ceil(capacity * cfg.flood_wait_s))
    with bench_stack(
        cfg.log_dir / "flood",
        processes=1,
        threads=cfg.flood_threads,
        llm_latency=cfg.flood_llm_latency,
        MAX_PENDING_REQUESTS=str(limit),
        **common,
    ) as stack:
        warm_up(stack, ids)
        say(f"flood: {cfg.flood_unloaded} requests one at a time (unloaded latency)")
        unloaded = _one_at_a_time(stack, ids.take(cfg.flood_unloaded))
        rate = capacity * cfg.flood_factor
        offered = ids.take(max(1, int(rate * cfg.flood_seconds)))
        say(
            f"flood: {len(offered)} requests at {rate:.0f}/s ({cfg.flood_factor:.0f}x capacity {capacity:.1f}/s), "
            f"MAX_PENDING_REQUESTS={limit}"
        )
        refused: dict[int, bool] = {}
        sent = _open_loop(stack.stack.base, offered, rate, refused)
        admitted = sorted(sent)
        finished = stack.wait_all(admitted, deadline + 60, strict=False) if admitted else {}
        latencies = [finished[r] - sent[r] for r in admitted if r in finished]
        missed = sum(1 for r in admitted if r not in finished or finished[r] - sent[r] > deadline)
        return {
            "workers": f"1x{cfg.flood_threads}",
            "llm_latency_s": cfg.flood_llm_latency,
            "capacity_per_s": capacity,
            "rate_per_s": rate,
            "factor": cfg.flood_factor,
            "max_pending": limit,
            "wait_s": cfg.flood_wait_s,
            "deadline_s": deadline,
            "offered": len(offered),
            "admitted": len(admitted),
            "refused": len(refused),
            "refused_with_retry_after": sum(refused.values()),
            "unloaded_s": summary(unloaded),
            "admitted_s": summary(latencies),
            "missed_deadline": missed,
        }


SCENARIOS: dict[str, Callable[[Config, Ids], dict[str, Any]]] = {
    "ingest": ingest,
    "pipeline": pipeline,
    "llm": llm_bound,
    "priorities": priorities,
    "sandbox": sandbox,
    "flood": flood,
}
