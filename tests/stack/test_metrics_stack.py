"""The worker host's port on the production stack: metrics summed over its processes after
a real hint, the liveness and readiness probes, and the probe script a healthcheck runs."""

from __future__ import annotations

import subprocess
import sys

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import CallbackReceiver, wait_until
from tests.production import ROOT, production_stack
from tests.stack.test_e2e import BUGGY, REFLECTION, fake

__all__ = ["fake"]


def samples(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(url, headers=headers, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def probe_script(env: dict[str, str], which: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.probe_worker", which], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


def test_worker_port_serves_metrics_and_probes(production_servers, fake, tmp_path):
    receiver = CallbackReceiver(fail_first=1)  # one failed callback: the attempts counter shows it
    try:
        run_stack(fake, tmp_path, receiver)
    finally:
        receiver.stop()


def run_stack(fake: object, tmp_path: object, receiver: CallbackReceiver) -> None:
    with production_stack(tmp_path, workers=0, OPENAI_API_KEY="k", OPENAI_BASE_URL=fake.base_url,
                          BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL=receiver.url) as stack:
        worker = stack.start_worker(processes=2, threads=4)
        port = stack.env["WORKER_METRICS_PORT"]
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return requests.get(f"{base}/readyz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=60, what="the worker probe to say ready\n" + stack.output())
        live = requests.get(f"{base}/healthz", timeout=5)
        assert live.status_code == 200 and live.json()["live_worker_processes"] == 2
        assert requests.get(f"{base}/readyz", timeout=5).json()["database"] == "ok"
        done = probe_script(stack.env, "readyz")
        assert done.returncode == 0, done.stdout + done.stderr

        assert stack.add_request(5, "factorial", BUGGY, "debug").status_code == 200
        assert stack.add_reflection(5, "What do you think is wrong?", REFLECTION).status_code == 200
        assert stack.wait_for_hint(5)["job_finished_successfully"]
        wait_until(lambda: receiver.received, timeout=60, what="the callback to arrive")
        wait_until(stack.queue_idle, what="the stack to be idle")

        worker_metrics = samples(f"{base}/metrics")
        queue = stack.env["TASK_QUEUE"]
        for step in ("run_student_program", "query_for_enhanced_programs", "generate_hint"):
            assert worker_metrics[("dramatiq_messages_total", (("actor_name", step), ("queue_name", queue)))] >= 1
            assert worker_metrics[("hint_steps_total", (("outcome", "ok"), ("step", step)))] >= 1
            assert worker_metrics[("dramatiq_message_duration_milliseconds_count",
                                   (("actor_name", step), ("queue_name", queue)))] >= 1
            assert worker_metrics[("hint_step_queue_wait_seconds_count", (("step", step),))] >= 1
        web = samples(f"{stack.base}/metrics", stack.auth)
        assert web[("hint_requests_total", (("outcome", "accepted"),))] == 1
        assert web[("hint_hints_total", (("engine", "openai"), ("hint_type", "debug"), ("outcome", "ok")))] == 1
        assert web[("hint_queue_depth", (("queue", queue),))] == 0
        assert web[("hint_callback_attempts_total", ())] == 2  # the failed POST and the retry
        wait_until(lambda: samples(f"{stack.base}/metrics", stack.auth)[("hint_callbacks_unreported", ())] == 0,
                   timeout=30, what="the hint to be recorded as reported")

        stack.stop(worker)  # a stopped host: the probe script fails
        assert probe_script(stack.env, "healthz").returncode == 1
