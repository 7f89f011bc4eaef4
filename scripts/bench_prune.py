"""How long retention takes: `python -m scripts.bench_prune [--requests N]`.

Fills the configured database (DATABASE_URL; a throwaway SQLite file by default) with N
finished requests, each with a reflection, a program-generation phase with three
candidates, a hint-generation phase, a hint and a claim, all 40 days old, plus N recent
ones; then times `maintenance.prune(30)` and prints the figures (PostgreSQL: set RABBITMQ_URL
too, as settings require with it). Use a database of its
own: the requests it stores are fake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

from maintenance import prune
from migrations import migrate
from models import (
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    StepClaim,
    db,
    utcnow,
)
from runtime import bind_database
from settings import load_settings

CHUNK = 500


def fill(count: int, days_old: float, first_id: int = 1) -> None:
    """`count` finished requests with every kind of row, created `days_old` days ago."""
    created = utcnow() - dt.timedelta(days=days_old)
    for start in range(first_id, first_id + count, CHUNK):
        ids = range(start, min(start + CHUNK, first_id + count))
        with db.atomic():
            Request.insert_many([{
                "request_id": i, "problem_id": "factorial", "hint_type": "debug", "student_program": "x = 1\n",
                "payload_hash": "h", "created_at": created, "updated_at": created, "deadline_at": created,
                "reflection_deadline_at": created, "stage": "finished",
            } for i in ids]).execute()
            pks = {r.request_id: r.id for r in Request.select(Request.id, Request.request_id).where(
                Request.request_id.in_(list(ids)))}
            Reflection.insert_many([{"request": pk, "reflection_question": "q", "reflection_answer": "a",
                                     "payload_hash": "h", "created_at": created} for pk in pks.values()]).execute()
            ProgramEnhancementPhase.insert_many([{
                "request": pk, "attempt": 1, "engine": "openai", "model": "gpt-4o-mini", "prompt_tokens": 300,
                "completion_tokens": 200, "llm_calls": 1, "cost": 0.0002, "prompt": ["a prompt " * 50],
                "created_at": created} for pk in pks.values()]).execute()
            phases = {p.request_id: p.id for p in ProgramEnhancementPhase.select(
                ProgramEnhancementPhase.id, ProgramEnhancementPhase.request).where(
                ProgramEnhancementPhase.request.in_(list(pks.values())))}
            EnhancedProgram.insert_many([{
                "phase": phases[pk], "request": pk, "index": k, "source": "llm", "program": "def f():\n    pass\n",
                "correct": k == 0, "created_at": created} for pk in pks.values() for k in range(3)]).execute()
            HintGenerationPhase.insert_many([{
                "request": pk, "attempt": 1, "engine": "openai", "model": "gpt-4o", "prompt_tokens": 500,
                "completion_tokens": 80, "llm_calls": 1, "cost": 0.002, "hint": "look at line 2",
                "created_at": created} for pk in pks.values()]).execute()
            Hint.insert_many([{"request": pk, "hint": "look at line 2", "engine": "openai",
                               "job_finished_successfully": True, "created_at": created + dt.timedelta(seconds=4)}
                              for pk in pks.values()]).execute()
            StepClaim.insert_many([{"request": pk, "step": "generate_hint", "holder": "h", "claimed_at": created,
                                    "expires_at": created, "released_at": created} for pk in pks.values()]).execute()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args(argv)
    env = None
    if "DATABASE_URL" not in os.environ:
        env = {"DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/bench.db"}
    settings = load_settings(env) if env else load_settings()
    migrate(settings.database_url)
    bind_database(settings)
    started = time.monotonic()
    fill(args.requests, 40)
    fill(args.requests, 1, first_id=args.requests + 1)
    print(f"stored {2 * args.requests} requests in {time.monotonic() - started:.1f} s "
          f"({settings.database_url.split(':', 1)[0]})")
    started = time.monotonic()
    report = prune(30)
    elapsed = time.monotonic() - started
    print(f"pruned {report.requests} requests ({sum(report.rows.values())} rows, {report.batches} batches) "
          f"in {elapsed:.2f} s: {report.requests / elapsed:.0f} requests/s; {Request.select().count()} left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
