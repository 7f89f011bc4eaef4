"""Chaos run: send N requests to the production stack while killing and restarting workers,
RabbitMQ and PostgreSQL, then count what became of every request.

    python -m scripts.chaos [--requests 100] [--rate 4] [--every 8] [--no-broker] [--no-database]

Runs the real processes of `tests/production.py` (waitress, `dramatiq hint_actors` workers, a
fresh PostgreSQL database and RabbitMQ queue) against `tests/fake_openai.py` and a
callback receiver, all on loopback. It sends like orchestration does (a 503 or a refused
connection is retried with the same payload), and every `--every` seconds does one of:
SIGKILL a worker and start a new one, stop RabbitMQ's app for a few seconds, stop
PostgreSQL for a few seconds. Servers are always brought back. Bounded: it stops after
sending, settling, or `--timeout` seconds, whichever comes first.

Prints: sent, finished with a hint, finished failed, lost (no final hint), duplicated
hints (a second Hint row or a second callback for a request), p50/p99 latency from the
first send to the stored final hint. Needs PostgreSQL and RabbitMQ like the tests; other
users of those servers see the outages too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from tests.fake_openai import FakeOpenAI
from tests.helpers import CallbackReceiver
from tests.production import fast_ai_config, postgres_down, production_stack, rabbitmq_down

FIX = "def factorial(n):\n    result = 1\n    for i in range(1, n + 1):\n        result *= i\n    return result\n"
REFLECTION = ("What do you think is wrong?", "My result starts at zero, so it stays zero.")


def student_program(request_id: int) -> str:
    name = f"product_{request_id}"  # its own program, so no request reuses another's answer
    return f"def factorial(n):\n    {name} = 0\n    for i in range(1, n + 1):\n        {name} *= i\n    return {name}\n"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def send_until_accepted(call, give_up_at: float) -> bool:  # noqa: ANN001
    """Orchestration's retry: the same call again after a 503 or a refused connection."""
    pause = 0.2
    while time.monotonic() < give_up_at:
        try:
            if call().status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(pause)
        pause = min(pause * 2, 3.0)
    return False


class Chaos:
    """Every `every` seconds, one fault: kill a worker, stop the broker, stop the database."""

    def __init__(self, stack, workers: list, every: float, outage: float, faults: list[str], log) -> None:  # noqa: ANN001
        self.stack, self.workers, self.every, self.outage, self.log = stack, workers, every, outage, log
        self.faults = itertools.cycle(faults)
        self.done = Counter()
        self.kills: list[dt.datetime] = []  # when a worker was killed
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            fault = next(self.faults)
            self.log(f"chaos: {fault}")
            if fault == "worker":
                victim = self.workers.pop(random.randrange(len(self.workers)))
                self.stack.kill(victim)
                self.kills.append(utcnow())
                self.workers.append(self.stack.start_worker(threads=8))
            elif fault == "broker":
                with rabbitmq_down():
                    time.sleep(self.outage)
            elif fault == "database":
                with postgres_down():
                    time.sleep(self.outage)
            self.done[fault] += 1

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(args: argparse.Namespace) -> dict:
    log = (lambda text: print(text, file=sys.stderr, flush=True)) if not args.quiet else (lambda text: None)
    fake = FakeOpenAI(latency=args.llm_latency)
    fake.program_answers = [json.dumps({"fixed_program": FIX})]
    fake.start()
    receiver = CallbackReceiver()
    started = time.monotonic()
    stop_at = started + args.timeout
    faults = [f for f, on in (("worker", True), ("broker", args.broker), ("database", args.database)) if on]
    with tempfile.TemporaryDirectory(prefix="hint-chaos-") as scratch:
        tmp = args.log_dir or scratch  # the processes' logs, kept when --log-dir is given
        Path(tmp).mkdir(parents=True, exist_ok=True)
        config = fast_ai_config(Path(tmp) / "ai_config.yaml", timeout_seconds=10, deadline_seconds=15,
                                program_generation__n=2)
        with production_stack(
            Path(tmp), workers=0, exclusive=args.broker or args.database,
            OPENAI_API_KEY="k", OPENAI_BASE_URL=fake.base_url, AI_CONFIG_PATH=str(config),
            BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url, STALL_SECONDS="5", SWEEP_INTERVAL_SECONDS="1",
            REFLECTION_WAIT_SECONDS="5", REQUEST_DEADLINE_SECONDS=str(args.deadline), LOG_LEVEL="WARNING",
        ) as stack:
            workers = [stack.start_worker(threads=8) for _ in range(args.workers)]
            stack.wait_until_consuming(args.workers)
            chaos = Chaos(stack, workers, args.every, args.outage, faults, log)
            chaos.thread.start()
            first_sent: dict[int, dt.datetime] = {}
            accepted = 0
            try:
                for request_id in range(1, args.requests + 1):
                    if time.monotonic() > stop_at:
                        break
                    first_sent[request_id] = utcnow()
                    ok = send_until_accepted(
                        lambda rid=request_id: stack.add_request(rid, "factorial", student_program(rid), "debug"),
                        stop_at
                    ) and send_until_accepted(lambda rid=request_id: stack.add_reflection(rid, *REFLECTION), stop_at)
                    accepted += ok
                    time.sleep(1 / args.rate)
            finally:
                chaos.stop()
            log(f"sent {len(first_sent)}, faults {dict(chaos.done)}; waiting for the last requests")
            settle_until = min(stop_at, time.monotonic() + args.settle)
            while time.monotonic() < settle_until:
                if stack.query("SELECT count(*) FROM hint")[0][0] >= len(first_sent):
                    break
                time.sleep(0.5)
            # Late duplicate callbacks: none can come once nothing is queued, running or delayed.
            while time.monotonic() < stop_at and not stack.queue_idle():
                time.sleep(0.5)
            rows = stack.query(
                "SELECT r.request_id, h.job_finished_successfully, h.created_at, h.generation_error_message"
                " FROM request r LEFT JOIN hint h ON h.request_id = r.id"
            )
            hint_rows = stack.query("SELECT request_id, count(*) FROM hint GROUP BY request_id HAVING count(*) > 1")
    receiver.stop()
    fake.stop()

    by_id: dict[int, list] = {}
    for request_id, success, created, error in rows:
        by_id.setdefault(request_id, []).append((success, created, error))
    callbacks = Counter(c["request_id"] for c in receiver.received)
    finished_ok = [rid for rid, hs in by_id.items() if any(h[0] is True for h in hs)]
    failed = [rid for rid, hs in by_id.items() if any(h[0] is False for h in hs)]
    ended = {rid: h[1] for rid, hs in by_id.items() for h in hs if h[1] and rid in first_sent}
    latencies = sorted((at - first_sent[rid]).total_seconds() for rid, at in ended.items())
    # A request is hit by a kill when a worker died while it was under way.
    hit = {rid for rid, at in ended.items() if any(first_sent[rid] <= kill <= at for kill in chaos.kills)}
    hit_latencies = sorted((ended[rid] - first_sent[rid]).total_seconds() for rid in hit)
    spared = sorted((at - first_sent[rid]).total_seconds() for rid, at in ended.items() if rid not in hit)
    return {
        "sent": len(first_sent),
        "accepted": accepted,
        "finished_with_hint": len(finished_ok),
        "finished_failed": len(failed),
        "failure_messages": sorted({h[2] for hs in by_id.values() for h in hs if h[0] is False}),
        "lost": len(first_sent) - len(finished_ok) - len(failed),
        "duplicated_hints": len(hint_rows),
        "duplicated_callbacks": sorted(rid for rid, n in callbacks.items() if n > 1),
        "missing_callbacks": len(set(first_sent) - set(callbacks)),
        "latency_p50_s": round(percentile(latencies, 50), 2),
        "latency_p99_s": round(percentile(latencies, 99), 2),
        "hit_by_a_kill": len(hit),
        # The bound of issue 13: a kill delays its requests by at most about 30 s.
        "hit_latency_p50_max_s": (round(percentile(hit_latencies, 50), 2), round(max(hit_latencies, default=0), 2)),
        "spared_latency_p50_s": round(percentile(spared, 50), 2),
        "kill_delay_max_s": round(max(hit_latencies, default=0) - percentile(spared, 50), 2) if spared else None,
        "faults": dict(chaos.done),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="how many requests to send (default 100)")
    parser.add_argument("--rate", type=float, default=4.0, help="requests per second (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="worker commands, one process each (default 2)")
    parser.add_argument("--every", type=float, default=8.0, help="seconds between faults (default 8)")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds a stopped server stays down (default 3)")
    parser.add_argument("--llm-latency", type=float, default=0.5, help="the fake LLM's answer time (default 0.5 s)")
    parser.add_argument("--deadline", type=float, default=300, help="REQUEST_DEADLINE_SECONDS of the stack")
    parser.add_argument("--settle", type=float, default=120, help="seconds to wait for the last hints after sending")
    parser.add_argument("--timeout", type=float, default=600, help="hard limit for the whole run (default 600 s)")
    parser.add_argument("--no-broker", dest="broker", action="store_false", help="do not stop RabbitMQ")
    parser.add_argument("--no-database", dest="database", action="store_false", help="do not stop PostgreSQL")
    parser.add_argument("--log-dir", help="keep the stack's process logs here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    for key, value in result.items():
        print(f"{key:22} {value}")
    return 0 if result["lost"] == 0 and result["duplicated_hints"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
