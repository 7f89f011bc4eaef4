"""Bounded resources under load: 200 requests at once on the production stack.

The original service lost most of 50 concurrent requests when PostgreSQL ran out of
connections. Here every process caps its pool (DB_MAX_CONNECTIONS, small on purpose),
API threads wait for a free connection instead of failing, worker threads hand theirs
back while programs run and the LLM answers, and each thread reuses one broker
connection. All 200 requests must be accepted, end with a hint and be reported once.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.crash.test_crash import FIX, buggy
from tests.fake_openai import FakeOpenAI
from tests.helpers import CallbackReceiver, wait_until
from tests.production import PROBE_NAME, fast_ai_config, production_stack

REQUESTS = 200
POOL = 3  # connections per process
WORKER_PROCESSES = 2


class ConnectionSampler:
    """Counts the stack database's PostgreSQL connections while the load runs."""

    def __init__(self, stack):
        self.stack = stack
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        name = self.stack.env["DATABASE_URL"].rsplit("/", 1)[1]
        while not self._stop.wait(0.1):
            rows = self.stack.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name <> %s", name, PROBE_NAME
            )
            self.peak = max(self.peak, rows[0][0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_200_concurrent_requests_finish_without_a_connection_error(production_servers, tmp_path):
    fake = FakeOpenAI(latency=0.2)
    fake.program_answers = [json.dumps({"fixed_program": FIX})]
    fake.start()
    receiver = CallbackReceiver()
    config = fast_ai_config(tmp_path / "ai_config.yaml", timeout_seconds=30, deadline_seconds=60,
                            program_generation__n=1, pool__candidates=1)
    try:
        with production_stack(
            tmp_path, workers=0, OPENAI_API_KEY="k", OPENAI_BASE_URL=fake.base_url, AI_CONFIG_PATH=str(config),
            BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url, DB_MAX_CONNECTIONS=str(POOL),
            REFLECTION_WAIT_SECONDS="0", REQUEST_DEADLINE_SECONDS="600",
        ) as stack, ConnectionSampler(stack) as sampler:
            stack.start_worker(processes=WORKER_PROCESSES, threads=8)
            stack.wait_until_consuming(WORKER_PROCESSES)
            start = threading.Barrier(REQUESTS)

            def send(request_id: int) -> int:
                start.wait()  # all at once
                return stack.add_request(request_id, "factorial", buggy(request_id), "debug").status_code

            with ThreadPoolExecutor(REQUESTS) as pool:
                statuses = list(pool.map(send, range(1, REQUESTS + 1)))
            assert statuses == [200] * REQUESTS

            wait_until(lambda: stack.query("SELECT count(*) FROM hint WHERE reported_at IS NOT NULL") == [(REQUESTS,)],
                       timeout=240, what=f"{REQUESTS} hints reported")
            wait_until(stack.queue_idle, timeout=60, what="the stack to be idle")
            ids = sorted(c["request_id"] for c in receiver.received)
            assert ids == list(range(1, REQUESTS + 1)), f"{len(ids)} callbacks\n{stack.output()}"
            assert all(c["job_finished_successfully"] for c in receiver.received)
            assert stack.query("SELECT count(*), count(DISTINCT request_id) FROM hint") == [(REQUESTS, REQUESTS)]

            # The web process and each worker process stay within their pools.
            assert sampler.peak <= (1 + WORKER_PROCESSES) * POOL, sampler.peak
            log = "\n".join(path.read_text(errors="replace") for path in stack.logs)
            for symptom in ("MaxConnectionsExceeded", "too many clients", "Traceback"):
                assert symptom not in log
            assert requests.get(f"{stack.base}/readyz", timeout=5).json()["ready"] is True
    finally:
        receiver.stop()
        fake.stop()
