"""The worker's Prometheus metrics: Dramatiq's own middleware, plus the steps' outcomes.

Dramatiq's `Prometheus` middleware counts messages, errors, retries and dead letters and
times each message by actor (= pipeline step): `dramatiq_message_duration_milliseconds`
is the per-step duration histogram. Its values live in files under
PROMETHEUS_MULTIPROC_DIR, one per process (prometheus_client's multiprocess mode), so
the worker host's port (`worker_probe.py`) sums every process. This subclass adds

- `hint_steps_total{step, outcome}`: ok, wait (another delivery holds the work), retry,
  failed (retries used up: the request ends with a failed hint);
- `hint_step_queue_wait_seconds{step}`: how long a step waited in the queue before a
  thread took it (backlog on the worker side);

and a beat per worker process for the liveness and readiness probes, and serves the
port with `worker_probe.serve` instead of Dramatiq's server (which has no probes).

Import this module only after PROMETHEUS_MULTIPROC_DIR is set (`worker.setup` does):
prometheus_client chooses its multiprocess storage when it is imported.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import dramatiq
from dramatiq.middleware.prometheus import Prometheus

import worker_probe
from hint_actors.middleware.timing import outcome_of

QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, float("inf"))


class WorkerMetrics(Prometheus):
    def __init__(self, metrics_dir: Path) -> None:
        super().__init__()
        self.metrics_dir = metrics_dir
        self._stop = threading.Event()

    @property
    def forks(self) -> list[Callable[[], None]]:
        return [worker_probe.serve]  # one per host: Dramatiq starts a middleware's forks once

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        super().after_process_boot(broker)
        import prometheus_client as prom

        registry = prom.CollectorRegistry()
        self.steps = prom.Counter("hint_steps",
                                  "Processed pipeline steps, by step and outcome (ok, wait, retry, failed).",
                                  ["step", "outcome"], registry=registry)
        self.queue_wait = prom.Histogram("hint_step_queue_wait_seconds", "Seconds a step waited in the queue, by step.",
                                         ["step"], buckets=QUEUE_WAIT_BUCKETS, registry=registry)

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message, *, result: object = None,
                              exception: BaseException | None = None) -> None:
        started = self.message_start_times.get(message.message_id)
        super().after_process_message(broker, message, result=result, exception=exception)
        self.steps.labels(message.actor_name, outcome_of(message, exception)).inc()
        if started is not None:
            # A retried message keeps its first timestamp; its wait counts from when it was due.
            due_ms = message.options.get("eta") or message.message_timestamp
            self.queue_wait.labels(message.actor_name).observe(max(0.0, (started - due_ms) / 1000))

    after_skip_message = after_process_message

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        beat = worker_probe.beat_path(self.metrics_dir, os.getpid())

        def beating() -> None:
            while not self._stop.is_set():
                # Alive only if every consumer and worker thread is: a process whose threads
                # died takes no message even though it still runs.
                threads = [*worker.consumers.values(), *worker.workers]
                if threads and all(t.is_alive() for t in threads):
                    beat.touch()
                self._stop.wait(worker_probe.BEAT_SECONDS)

        threading.Thread(target=beating, name="worker-beat", daemon=True).start()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        worker_probe.beat_path(self.metrics_dir, os.getpid()).unlink(missing_ok=True)
        super().after_worker_shutdown(broker, worker)
