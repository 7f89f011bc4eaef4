"""The production stack for the benchmark: real processes over loopback, torn down after.

Reuses `tests/production.py` (a fresh PostgreSQL database and RabbitMQ queue per stack,
waitress, `dramatiq hint_actors` workers) and `tests/fake_openai.py` (an
OpenAI-compatible server with a fixed latency per answer), and adds what the benchmark
needs on top: the request payloads and reading finish times straight from the database.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

from tests.fake_openai import FakeOpenAI
from tests.production import Stack, delete_queues, postgres_database, servers_lock, stack_environment

PROBLEM = "factorial"
# Every student writes their own program: a per-request name keeps requests from sharing
# one answer through the service's reuse of identical questions, as real traffic would.
BUGGY = "def factorial(n):\n    {name} = 0\n    for i in range(1, n + 1):\n        {name} *= i\n    return {name}\n"
# Three different correct repairs, as a real model answering n=3 would give; like a real
# repair they keep the student's names, so no two requests get the same program text.
FIXES = [
    "def factorial(n):\n    {name} = 1\n    for i in range(1, n + 1):\n        {name} *= i\n    return {name}\n",
    "def factorial(n):\n    {name} = 1\n    for i in range(2, n + 1):\n"
    "        {name} = {name} * i\n    return {name}\n",
    "def factorial(n):\n    if n == 0:\n        return 1\n    {name} = n * factorial(n - 1)\n    return {name}\n",
]
_NAME = re.compile(r"product_\d+")
REFLECTION = ("What do you think is wrong?", "I start my result at zero and multiply, so it stays zero.")


class RepairingFake(FakeOpenAI):
    """The fake LLM, answering program prompts with the FIXES in the student's names."""

    def _completion(self, body: dict[str, Any], texts: list[str] | None) -> dict[str, Any]:
        if texts is None and self._kind(body) == "program":
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            found = _NAME.search(prompt)
            name = found.group(0) if found else "result"
            n = int(body.get("n") or 1)
            texts = [json.dumps({"fixed_program": FIXES[i % len(FIXES)].format(name=name)}) for i in range(n)]
        return super()._completion(body, texts)


def student_program(request_id: int) -> str:
    return BUGGY.format(name=f"product_{request_id}")


def add_request_body(request_id: int) -> dict:
    return {
        "type": "add_request",
        "request_id": request_id,
        "data": {"problem_id": PROBLEM, "student_program": student_program(request_id), "hint_type": "debug"},
    }


def add_reflection_body(request_id: int) -> dict:
    return {
        "request_id": request_id,
        "data": {"reflection_question": REFLECTION[0], "reflection_answer": REFLECTION[1]},
    }


def epoch(naive_utc: dt.datetime) -> float:
    """Seconds since the epoch of the schema's naive-UTC timestamps."""
    return naive_utc.replace(tzinfo=dt.UTC).timestamp()


@dataclass
class BenchStack:
    stack: Stack
    fake: FakeOpenAI | None
    database_url: str
    log_dir: Path

    def worker_logs(self) -> list[Path]:
        return [p for p in self.stack.logs if p.name.startswith("worker")]

    def finished(self, request_ids: list[int], strict: bool = True) -> dict[int, float]:
        """{request_id: epoch seconds the final hint was stored} for those that have one.

        A failed hint raises, unless `strict` is off: then only successful hints are listed."""
        with psycopg2.connect(self.database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT r.request_id, h.created_at, h.job_finished_successfully FROM hint h "
                "JOIN request r ON r.id = h.request_id WHERE r.request_id = ANY(%s)",
                (request_ids,),
            )
            rows = cur.fetchall()
        conn.close()
        failed = [rid for rid, _, ok in rows if not ok]
        if failed and strict:
            raise RuntimeError(f"requests {failed[:5]} ended with a failed hint; see {self.log_dir}")
        return {rid: epoch(created) for rid, created, ok in rows if ok}

    def wait_all(
        self, request_ids: list[int], timeout: float, poll: float = 0.1, strict: bool = True
    ) -> dict[int, float]:
        """Finish times of every request, polling the database; TimeoutError after `timeout`.

        The finish times are the hints' own `created_at`, so polling slowly does not blur
        them; it only keeps the benchmark's queries from loading the database it measures.
        """
        deadline = time.monotonic() + timeout
        with psycopg2.connect(self.database_url) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                while True:
                    cur.execute(
                        "SELECT count(*) FROM hint h JOIN request r ON r.id = h.request_id "
                        "WHERE r.request_id = ANY(%s)",
                        (request_ids,),
                    )
                    done = cur.fetchone()[0]
                    if done >= len(request_ids):
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"only {done} of {len(request_ids)} hints after {timeout}s; see {self.log_dir}"
                        )
                    time.sleep(poll)
        conn.close()
        return self.finished(request_ids, strict)


@contextmanager
def bench_stack(
    log_dir: Path, *, processes: int = 0, threads: int = 8, llm_latency: float | None = 0.0, **extra: str
) -> Iterator[BenchStack]:
    """A migrated database, web, `processes` worker processes (0: web only) and a fake LLM."""
    log_dir.mkdir(parents=True, exist_ok=True)
    # The load comes from loopback, as the original orchestration calls: without a token.
    extra = {"HINT_API_ALLOW_FROM": "127.0.0.1", **extra}
    fake = None
    if llm_latency is not None:
        fake = RepairingFake(latency=llm_latency)
        fake.start()
        extra = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": fake.base_url, **extra}
    try:
        # Shared with other stacks; tests that stop PostgreSQL or RabbitMQ wait for it.
        with servers_lock(exclusive=False), postgres_database() as url:
            env = stack_environment(url, log_dir, **extra)
            stack = Stack(env)
            try:
                stack.migrate()
                stack.start_web()
                if processes:
                    stack.start_worker(processes=processes, threads=threads)
                yield BenchStack(stack, fake, url, log_dir)
            finally:
                stack.stop_all()
                delete_queues(env["TASK_QUEUE"])
    finally:
        if fake is not None:
            fake.stop()
