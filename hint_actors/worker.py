"""Turning a runtime into a worker: middleware, actors, and the global broker for Dramatiq.

`dramatiq hint_actors` imports the package, which calls `setup()` with the settings from
the environment. The embedded mode (`python -m hint_api.serve` without RabbitMQ) and
tests call `setup(runtime)` with a runtime of their own, and `start` for a worker in
their process.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries as DramatiqRetries
from dramatiq.middleware import default_middleware

from hint_actors import actors, sweep
from hint_actors.leases import Leases
from hint_actors.middleware.database import DatabaseConnection
from hint_actors.middleware.give_up import GiveUp
from hint_actors.middleware.heartbeat import Heartbeat
from hint_actors.middleware.retries import Retries
from hint_actors.middleware.sweeper import Sweeper
from hint_actors.middleware.timing import StepTiming
from hint_core.execution import RoutingExecutor
from logs import configure_logging
from runtime import Runtime, build
from settings import load_settings, warn_unknown

log = logging.getLogger("hint.worker")


def setup(runtime: Runtime | None = None) -> dramatiq.Broker:
    """Install the worker's middleware and actors on the runtime's broker, once, and make
    it Dramatiq's global broker. Without a runtime, one is built from the environment."""
    if runtime is None:  # the Dramatiq command line: a bad configuration stops it here
        settings = load_settings()
        configure_logging(settings)
        warn_unknown(settings, log)
        runtime = build(settings)
        preflight(runtime)
    broker = runtime.broker
    if getattr(broker, "hint_runtime", None) is runtime:
        return broker
    leases = Leases(runtime.settings.lease_seconds)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    # Dramatiq's defaults, with the outage-aware Retries in place of its own; GiveUp stands
    # before Retries because `after_*` hooks run in reverse order (Retries marks failure first).
    middleware = [StepTiming(), DatabaseConnection()]
    for cls in default_middleware:
        if cls is DramatiqRetries:
            middleware += [GiveUp(actors.give_up_handler(runtime)), Retries()]
        else:
            middleware.append(cls())
    middleware += [
        Heartbeat(leases),
        Sweeper(lambda: sweep.sweep_once(runtime, holder), runtime.settings.sweep_interval_seconds),
    ]
    if not isinstance(broker, StubBroker) and runtime.settings.worker_metrics_port:
        middleware.append(worker_metrics(runtime.settings.metrics_dir))
    for each in middleware:
        broker.add_middleware(each)
    actors.declare(runtime, leases)
    if isinstance(broker, StubBroker):
        broker.emit_after("process_boot")
    broker.hint_runtime = runtime  # type: ignore[attr-defined]  # set up once per runtime
    dramatiq.set_broker(broker)
    return broker


def worker_metrics(metrics_dir: Path) -> dramatiq.Middleware:
    """Dramatiq's Prometheus middleware (with the steps' outcomes and the probes' beat) on
    `metrics_dir`. Only real worker processes get it: the embedded worker shares the web
    process, whose /metrics already reads every figure from the database."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # Both read when their modules are first imported, which must come after this line.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["dramatiq_prom_db"] = str(metrics_dir)
    from dramatiq.middleware import prometheus

    from hint_actors.middleware.metrics import WorkerMetrics

    if Path(prometheus.DB_PATH) != metrics_dir:  # imported earlier in this process: its files would go elsewhere
        raise RuntimeError(f"dramatiq.middleware.prometheus was imported before PROMETHEUS_MULTIPROC_DIR={metrics_dir} "
                           "was set")
    return WorkerMetrics(metrics_dir)


def preflight(runtime: Runtime) -> None:
    """Refuse to start a worker that could not do its job: the sandbox is started once and
    checked against SANDBOX_REQUIRE (SandboxUnavailable names what is missing), then
    stopped; each worker process starts its own on first use."""
    local = runtime.executor.local if isinstance(runtime.executor, RoutingExecutor) else runtime.executor
    try:
        layers = local.info()["layers"]
    finally:
        local.close()
    log.info("sandbox ready; isolation layers in force: %s", ", ".join(layers))


def start(runtime: Runtime, threads: int | None = None) -> dramatiq.Worker:
    """A worker in this process (embedded mode, tests), consuming the runtime's queue."""
    setup(runtime)
    worker = dramatiq.Worker(runtime.broker, worker_threads=threads or runtime.settings.worker_threads,
                             worker_timeout=100)
    worker.start()
    return worker
