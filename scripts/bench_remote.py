"""A slow problem handler must not starve other work: `python -m scripts.bench_remote`.

Models one worker process: ``--threads`` worker threads take messages from one FIFO
queue, as Dramatiq's threads do. ``--remote`` messages arrive at once (candidate runs
of several requests), each running a program through ``RemoteExecutor`` against the
fake orchestration, whose problem handler needs ``--handler-seconds`` per run with
``--handler-workers`` workers (so it is saturated: runs queue at the handler). Meanwhile
"local" messages (a plain function sleeping ``--local-ms``: a request whose programs
run in the local sandbox) arrive ``--local-rate`` times a second.

A remote message that meets ``ExecutorBusy`` is put back on the queue after the
exception's ``retry_after``, as the pipeline re-queues a step with a delay. Each cap in
``--caps`` (0 = no cap) is one scenario; a first scenario with no remote work gives the
baseline latency of local messages. Printed per scenario: remote runs per second,
worker threads blocked in remote runs (sampled every 20 ms), busy re-queues, polls
per run, process CPU per remote run (the fake's included), and the latency of local
messages that arrived while remote work was pending, with same-run ratios.
"""

from __future__ import annotations

import argparse
import queue
import resource
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from hint_core.remote import ExecutorBusy, RemoteExecutionConfig, RemoteExecutor, remote_problem
from hint_core.remote.problems import RemoteProblemText
from scripts.bench_stats import Row, fmt, percentile, ratio, render
from tests.fake_orchestration import FakeOrchestration

TEMPLATE = "def reverse_words(text):\n    pass\n"
PROBLEM = remote_problem(RemoteProblemText("reverse_words", "Reverse the words.", TEMPLATE))
PROGRAM = "def reverse_words(text):\n    return ' '.join(reversed(text.split()))\n"


@dataclass
class Outcome:
    name: str
    remote_done: list[float] = field(default_factory=list)  # completion times, from the start
    local_latency: list[float] = field(default_factory=list)  # seconds, enqueue to done
    blocked: list[int] = field(default_factory=list)  # samples: threads inside a remote run
    requeues: int = 0
    polls: int = 0
    cpu: float = 0.0
    failures: list[str] = field(default_factory=list)


def scenario(name: str, cap: int | None, remote: int, args: argparse.Namespace) -> Outcome:
    fake = FakeOrchestration(handler_seconds=args.handler_seconds, handler_workers=args.handler_workers,
                             judge=lambda problem_id, program: (True, ""))  # no subprocess: time, not CPU
    fake.start()
    executor = RemoteExecutor(RemoteExecutionConfig(
        fake.execute_url, fake.result_url, max_concurrent=cap or 100_000, deadline=600.0,
        acquire_timeout=args.acquire_timeout))
    out = Outcome(name)
    work: queue.Queue[tuple[str, float] | None] = queue.Queue()
    lock = threading.Lock()
    measuring = threading.Event()  # remote work pending (or, with none, the baseline's window)
    measuring.set()
    start = time.monotonic()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(remote):
        work.put(("remote", start))

    def worker() -> None:
        while (message := work.get()) is not None:
            kind, enqueued = message
            if kind == "local":
                time.sleep(args.local_ms / 1000)
                with lock:
                    out.local_latency.append(time.monotonic() - enqueued)
                continue
            try:
                executor.run(PROBLEM, PROGRAM)
            except ExecutorBusy as busy:
                with lock:
                    out.requeues += 1
                threading.Timer(busy.retry_after, work.put, (message,)).start()
                continue
            except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
                with lock:
                    out.failures.append(f"{type(exc).__name__}: {exc}")
            with lock:
                out.remote_done.append(time.monotonic() - start)
                if len(out.remote_done) + len(out.failures) == remote:
                    measuring.clear()

    def feeder() -> None:  # local messages arrive while remote work is pending
        period = 1 / args.local_rate
        following = start
        while measuring.is_set():
            work.put(("local", time.monotonic()))
            following += period
            time.sleep(max(0.0, following - time.monotonic()))

    def sampler() -> None:
        while measuring.is_set():
            out.blocked.append(executor.stats()["in_flight"])
            time.sleep(0.02)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    helpers = [threading.Thread(target=feeder), threading.Thread(target=sampler)]
    for thread in threads + helpers:
        thread.start()
    if not remote:
        time.sleep(args.baseline_seconds)
        measuring.clear()
    helpers[0].join()
    for _ in threads:
        work.put(None)  # behind every message already queued
    for thread in threads + helpers:
        thread.join()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    out.cpu = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)
    out.polls = len(fake.calls["result"])
    fake.stop()
    return out


@dataclass
class OutageOutcome:
    name: str
    latencies: list[float]  # seconds per run that got a verdict
    errors: list[str]  # type of each exception raised instead
    stats: dict


def outage(name: str, down: float, outage_seconds: float, runs: int = 8) -> OutageOutcome:
    """``runs`` runs in flight (handler 0.5 s each) while orchestration stops listening for
    ``down`` seconds (``down`` = 0: no outage, the baseline)."""
    fake = FakeOrchestration(handler_seconds=0.5, judge=lambda problem_id, program: (True, ""))
    fake.start()
    executor = RemoteExecutor(RemoteExecutionConfig(
        fake.execute_url, fake.result_url, max_concurrent=runs, outage_seconds=outage_seconds))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        started = time.monotonic()
        try:
            executor.run(PROBLEM, PROGRAM)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(type(exc).__name__)
            return
        with lock:
            latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for thread in threads:
        thread.start()
    if down:
        time.sleep(0.2)  # every run submitted and polling
        fake.pause(down)
    for thread in threads:
        thread.join()
    time.sleep(down)  # the fake is listening again before it stops
    fake.stop()
    return OutageOutcome(name, latencies, errors, executor.stats() | {"executions": len(fake.jobs)})


def outage_table(results: list[OutageOutcome]) -> list[Row]:
    base = statistics.fmean(results[0].latencies) if results[0].latencies else float("nan")
    rows = []
    for out in results:
        mean = statistics.fmean(out.latencies) if out.latencies else float("nan")
        errors = ", ".join(f"{n} x {e}" for e, n in sorted(Counter(out.errors).items())) or "none"
        total = len(out.latencies) + len(out.errors)
        rows += [
            Row(out.name, "runs with a verdict", f"{len(out.latencies)} of {total}"),
            Row(out.name, "run latency mean (s)", fmt(mean, digits=2), fmt(base, digits=2),
                fmt(ratio(mean, base), "x")),
            Row(out.name, "raised instead", errors),
            Row(out.name, "executions at the handler / transient failures retried",
                f"{out.stats['executions']} / {out.stats['transient_failures']}"),
        ]
    return rows


def table(results: list[Outcome], args: argparse.Namespace) -> list[Row]:
    base = results[0]
    base_p50, base_p99 = percentile(base.local_latency, 50), percentile(base.local_latency, 99)
    rows = [
        Row(base.name, "local message latency p50 (ms)", fmt(base_p50 * 1000)),
        Row(base.name, "local message latency p99 (ms)", fmt(base_p99 * 1000)),
    ]
    for out in results[1:]:
        span = max(out.remote_done) if out.remote_done else float("nan")
        runs = len(out.remote_done)
        p50, p99 = percentile(out.local_latency, 50), percentile(out.local_latency, 99)
        capacity = args.handler_workers / args.handler_seconds
        rows += [
            Row(out.name, "remote runs per second", fmt(runs / span, digits=2), f"{capacity:.2f} (handler)",
                fmt(ratio(runs / span, capacity), "x", 2)),
            Row(out.name, "threads blocked in remote runs, mean / max",
                f"{statistics.fmean(out.blocked or [0]):.1f} / {max(out.blocked or [0])}",
                f"of {args.threads}"),
            Row(out.name, "busy re-queues", str(out.requeues)),
            Row(out.name, "polls per remote run", fmt(out.polls / max(runs, 1))),
            Row(out.name, "CPU ms per remote run (client + fake)", fmt(out.cpu * 1000 / max(runs, 1))),
            Row(out.name, "local message latency p50 (ms)", fmt(p50 * 1000), fmt(base_p50 * 1000),
                fmt(ratio(p50, base_p50), "x")),
            Row(out.name, "local message latency p99 (ms)", fmt(p99 * 1000), fmt(base_p99 * 1000),
                fmt(ratio(p99, base_p99), "x")),
            Row(out.name, "local messages measured", str(len(out.local_latency))),
        ]
        if out.failures:
            rows.append(Row(out.name, "FAILED remote runs", f"{len(out.failures)}: {out.failures[0][:80]}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--threads", type=int, default=8, help="worker threads (Dramatiq's default is 8)")
    parser.add_argument("--remote", type=int, default=24, help="remote runs queued at the start")
    parser.add_argument("--handler-seconds", type=float, default=2.0)
    parser.add_argument("--handler-workers", type=int, default=4)
    parser.add_argument("--local-rate", type=float, default=10.0, help="local messages per second")
    parser.add_argument("--local-ms", type=float, default=20.0, help="work of one local message")
    parser.add_argument("--baseline-seconds", type=float, default=4.0)
    parser.add_argument("--caps", default="0,4", help="max_concurrent per scenario; 0 = no cap")
    parser.add_argument("--acquire-timeout", type=float, default=RemoteExecutionConfig.acquire_timeout)
    args = parser.parse_args(argv)

    results = [scenario("baseline: no remote work", None, 0, args)]
    for cap in (int(c) for c in args.caps.split(",")):
        name = f"remote saturated, {'no cap' if cap == 0 else f'max_concurrent={cap}'}"
        results.append(scenario(name, cap, args.remote, args))
        print(f"{name}: done", flush=True)
    print(f"\n{args.threads} worker threads; {args.remote} remote runs queued at once; handler "
          f"{args.handler_seconds:g} s per run x {args.handler_workers} workers; local messages "
          f"{args.local_rate:g}/s of {args.local_ms:g} ms\n")
    print(render(table(results, args)))
    uncapped = next((r for r in results[1:] if "no cap" in r.name), None)
    capped = [r for r in results[1:] if r is not uncapped]
    if uncapped is not None and capped and uncapped.local_latency and capped[0].local_latency:
        factor = ratio(percentile(uncapped.local_latency, 99), percentile(capped[0].local_latency, 99))
        print(f"\nlocal p99 without a cap / with {capped[0].name.split(', ')[1]}: {fmt(factor, 'x')}")
    outages = [outage("no outage", 0, 15.0), outage("orchestration down 3 s mid-run", 3.0, 15.0),
               outage("down 6 s, outage_seconds=2", 6.0, 2.0)]
    print("\nA failing orchestration: 8 runs in flight, handler 0.5 s per run\n")
    print(render(outage_table(outages)))
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
