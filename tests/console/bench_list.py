"""How fast the console's pages are at 100,000 requests on PostgreSQL:
`python -m tests.console.bench_list [--requests N] [--repeat R]`.

Fills a fresh PostgreSQL database with N requests spread over 120 days (hints of every
engine and outcome, LLM phases with tokens), then times each page through the Flask
app (SQL and rendering; median of R runs), shows each list query's plan (a sequential
scan of `request` or `hint` would be a full scan per page), times a whole CSV export
with its peak Python memory, and times the list again without the console's indexes
(migration 0005) for a same-run ratio. Prints a table for docs/console.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.util
import json
import logging
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from hint_api.console.queries import Cursor
from hint_core.sandbox.results import RunResult, TestResult
from models import Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, db
from tests.console.sample_data import populate
from tests.console.support import CONSOLE_TOKEN, bound_to, make_app, postgres_or_skip
from tests.production import postgres_database, servers_lock

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = [f"problem_{n:02d}" for n in range(20)]
DAYS = 120
BEARER = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
TABLES = {"request": "request", "hint": "hint", "hint_generation_phase": "hint phase"}


def _run_json(rng: random.Random, correct: bool) -> str:
    tests = [
        TestResult(
            f"test_{k}",
            "passed" if correct or rng.random() < 0.5 else "wrong_answer",
            f"f({k})",
            str(k),
            actual=str(k if correct else k + 1),
        )
        for k in range(3)
    ]
    if not correct and all(t.passed for t in tests):
        tests[0].status = "wrong_answer"
    result = RunResult(
        correct=correct, status="passed" if correct else "wrong_answer", tests=tests, run_time=0.04
    )
    return json.dumps(result.to_dict(), sort_keys=True)


def fill(n: int, batch: int = 5000) -> None:
    """n requests: 2 % failed, 1 % pending, 3 % answered by the tests, 5 % offline (half of
    them fallbacks from a failed LLM hint), the rest LLM hints; ids from 10,000,000."""
    rng = random.Random(15)
    start = dt.datetime(2026, 1, 1)
    step = dt.timedelta(days=DAYS) / n
    for first in range(0, n, batch):
        requests, hints, hint_phases, program_phases = [], [], [], []
        rows = range(first, min(n, first + batch))
        for i in rows:
            at = start + step * i + dt.timedelta(seconds=rng.random())
            kind = i % 100
            correct = 8 <= kind <= 10
            stage = "pending" if kind == 2 else "finished"
            requests.append(
                {
                    "request_id": 10_000_000 + i,
                    "problem_id": rng.choice(PROBLEMS),
                    "hint_type": rng.choice(("plan", "debug", "optimize")) if not correct else "plan",
                    "student_program": "def f(n):\n    # try\n    return n + 1\n",
                    "payload_hash": "0" * 64,
                    "created_at": at,
                    "updated_at": at,
                    "deadline_at": at,
                    "reflection_deadline_at": at,
                    "student_run": _run_json(rng, correct),
                    "student_correct": correct,
                    "student_run_at": at,
                    "stage": stage,
                }
            )
        Request.insert_many(requests).execute()
        pks = dict(
            Request.select(Request.request_id, Request.id)
            .where(Request.request_id.between(10_000_000 + first, 10_000_000 + rows[-1]))
            .tuples()
        )
        for i in rows:
            pk, kind = pks[10_000_000 + i], i % 100
            at = start + step * i
            done = at + dt.timedelta(seconds=rng.lognormvariate(2.3, 0.5))
            if kind == 2:
                continue
            if kind < 2:
                hints.append(
                    {
                        "request": pk,
                        "job_finished_successfully": False,
                        "created_at": done,
                        "generation_error_message": "generate_hint failed: LLMError: HTTP 500",
                        "hint": None,
                        "explanation": None,
                        "engine": None,
                    }
                )
                continue
            engine = "tests" if 8 <= kind <= 10 else "offline" if kind < 8 else "openai"
            hints.append(
                {
                    "request": pk,
                    "job_finished_successfully": True,
                    "created_at": done,
                    "engine": engine,
                    "hint": "What does the loop do on its last turn?",
                    "explanation": "An off-by-one.",
                    "generation_error_message": None,
                }
            )
            if engine == "tests":
                continue
            program_phases.append(
                {
                    "request": pk,
                    "attempt": 1,
                    "engine": "openai",
                    "model": "gpt-4.1-mini",
                    "prompt_tokens": 800,
                    "completion_tokens": rng.randint(200, 900),
                    "llm_calls": 1,
                    "created_at": at,
                    "completed_at": at,
                }
            )
            fallback = kind in (3, 4, 5)
            hint_phases.append(
                {
                    "request": pk,
                    "attempt": 1,
                    "engine": engine,
                    "model": "gpt-4.1",
                    "prompt_tokens": 1200,
                    "completion_tokens": 0 if fallback else rng.randint(80, 200),
                    "llm_calls": 1 if engine == "openai" or fallback else 0,
                    "error": "LLM hint failed, offline hint used: timeout" if fallback else None,
                    "hint": "What does the loop do on its last turn?",
                    "explanation": "An off-by-one.",
                    "created_at": done,
                    "completed_at": done,
                }
            )
        for model, data in (
            (Hint, hints),
            (HintGenerationPhase, hint_phases),
            (ProgramEnhancementPhase, program_phases),
        ):
            if data:
                model.insert_many(data).execute()
    db.execute_sql("ANALYZE")


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm: plans and caches, as on a server that has been running
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


class _Statements(logging.Handler):
    """Collects the SQL peewee sends (it logs each statement and its parameters at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, tuple]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.seen.append((record.msg[0], tuple(record.msg[1] or ())))


def rows_read(client: object, path: str) -> str:
    """Rows a page's statements read from the big tables (EXPLAIN ANALYZE of each SELECT):
    a page that scanned a whole table would read about as many rows as the table has."""
    handler, log = _Statements(), logging.getLogger("peewee")
    log.addHandler(handler)
    old = log.level, log.propagate
    log.setLevel(logging.DEBUG)
    log.propagate = False  # collected here, not printed
    try:
        client.get(path, headers=BEARER)
    finally:
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]
    read: dict[str, int] = {}
    with db.connection_context():
        for sql, params in handler.seen:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            plan = db.execute_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0]
            stack = [plan[0]["Plan"]]
            while stack:
                node = stack.pop()
                table = node.get("Relation Name")
                if "Scan" in node["Node Type"] and table in TABLES:
                    rows = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get(
                        "Actual Loops", 1
                    )
                    read[table] = read.get(table, 0) + int(rows)
                stack += node.get("Plans", [])
    return ", ".join(f"{TABLES[t]} {read[t]:,}" for t in TABLES if read.get(t))


def _drop_console_indexes() -> None:
    spec = importlib.util.spec_from_file_location(
        "console_indexes", ROOT / "migrations" / "0005_console_indexes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for table, columns in module.INDEXES:
        db.execute_sql(f'DROP INDEX IF EXISTS "{table}_{"_".join(columns)}"')
    db.execute_sql(f"DROP INDEX IF EXISTS {module.FALLBACKS}")
    db.execute_sql("ANALYZE")


def _export_rows(client: object) -> int:
    """Download the whole CSV export, reading it as it streams; returns its rows."""
    answer = client.get("/console/export.csv", headers=BEARER)
    lines = (line for chunk in answer.response for line in chunk.decode().splitlines(keepends=True))
    return sum(1 for _ in csv.reader(lines)) - 1


def measure(app: Flask, n: int, repeat: int) -> None:
    client = app.test_client()
    with db.connection_context():
        deep = (
            Request.select(Request.created_at, Request.id)
            .order_by(Request.created_at.desc(), Request.id.desc())
            .offset(n // 2)
            .limit(1)
            .get()
        )
        week = (dt.datetime(2026, 1, 1) + dt.timedelta(days=60)).date()
    middle = Cursor(deep.created_at, deep.id).encode()
    span = f"date_from={week}&date_to={week + dt.timedelta(days=6)}"
    pages = {
        "list, first page": "/console/requests",
        f"list, page at row {n // 2:,} (keyset)": f"/console/requests?older={middle}",
        "list, one problem": "/console/requests?problem=problem_07",
        "list, outcome=failed (2 %)": "/console/requests?outcome=failed",
        "list, outcome=fallback (1.5 %)": "/console/requests?outcome=fallback",
        "list, engine=tests (3 %)": "/console/requests?engine=tests",
        "list, one week": f"/console/requests?{span}",
        "list, problem + type + week": f"/console/requests?problem=problem_03&hint_type=debug&{span}",
    }
    others = {
        "one request's story": "/console/requests/1001",
        "dashboards, 30 days": f"/console/dashboards?date_from={dt.date(2026, 4, 1)}",
        f"dashboards, all {DAYS} days": "/console/dashboards?date_from=2025-12-01",
    }
    timed = {}
    print(f"{'page':40} {'median ms':>9}  rows read (of {n:,} requests)")
    for name, path in {**pages, **others}.items():
        assert client.get(path, headers=BEARER).status_code == 200, path
        timed[name] = median_ms(lambda p=path: client.get(p, headers=BEARER).get_data(), repeat)
        print(f"{name:40} {timed[name]:9.1f}  {rows_read(client, path) if name in pages else ''}")

    t0 = time.perf_counter()
    rows = _export_rows(client)
    seconds = time.perf_counter() - t0
    tracemalloc.start()  # a second export, traced: tracing slows Python down, so not timed
    _export_rows(client)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"{'export.csv, every request':40} {seconds * 1000:9.0f}  {rows:,} rows, "
        f"{rows / seconds:,.0f} rows/s, peak Python memory {peak / 2**20:.1f} MiB"
    )

    with db.connection_context():
        _drop_console_indexes()
    print("\nwithout the console's indexes (migration 0005), same run:")
    for name, path in pages.items():
        slow = median_ms(lambda p=path: client.get(p, headers=BEARER).get_data(), repeat)
        print(
            f"{name:40} {slow:9.1f}  {rows_read(client, path)}; {slow / timed[name]:.1f} x the time with them"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    postgres_or_skip()
    with servers_lock(exclusive=False), postgres_database() as url, bound_to(url):
        t0 = time.perf_counter()
        with db.connection_context():
            fill(args.requests)
            populate(dt.datetime(2026, 4, 20))
        print(f"filled {args.requests:,} requests in {time.perf_counter() - t0:.0f} s (PostgreSQL)\n")
        measure(make_app(url), args.requests, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
