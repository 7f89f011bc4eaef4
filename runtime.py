"""The one wiring point: everything a process works with, built from the settings.

`build(settings)` makes the database (and binds the models to it), the broker, the
services the steps use (problems, the AI configuration, the LLM client) and the
executor that runs programs. The web process (`hint_api.create_app`) and the worker
(`hint_actors.worker.setup`) both start here and meet nowhere else: the web side sends
steps with `Runtime.send`, the worker side declares the actors that receive them.

Nothing is built at import time; tests build a runtime from explicit settings, and may
hand in their own services or executor.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from peewee import Database

from database import DATABASE_OUTAGES, make_database
from hint_core.ai_config import load_ai_config
from hint_core.engines import Services
from hint_core.errors import ConfigError
from hint_core.execution import RoutingExecutor
from hint_core.lifecycle import Step
from hint_core.llm import LLMClient
from hint_core.problem_source import Execution, ProblemSource
from hint_core.problems import Problem, ProblemBank
from hint_core.remote import OrchestrationProblems, RemoteExecutionConfig, RemoteExecutor
from hint_core.sandbox import Executor, ForkServerExecutor, RunResult, SandboxConfig
from models import db
from settings import Settings

log = logging.getLogger("hint.runtime")

# An outage of the broker (the database's are in database.py): a retry outlives it.
BROKER_OUTAGES: tuple[type[BaseException], ...] = (
    dramatiq.errors.BrokerConnectionError,  # publishing failed: refused, closed, no confirm
    pika.exceptions.AMQPError,
)
OUTAGES = DATABASE_OUTAGES + BROKER_OUTAGES
# A connection the broker closed under us (RabbitMQ dropping an idle web thread's
# connection, a restart): the next attempt opens a new one, so the publish is tried again.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    dramatiq.errors.BrokerConnectionError,  # ConnectionClosed, ConnectionFailed
    pika.exceptions.AMQPConnectionError,  # StreamLostError, ConnectionClosed and the like
)

# RabbitMQ blocks publishers when it runs out of memory or disk; without a timeout a
# publish would then wait forever, holding an API thread or a worker thread.
PIKA_DEFAULTS = {"blocked_connection_timeout": "30", "socket_timeout": "5"}

# Message option naming orchestration's request id, so every step's log line names it.
REQUEST_ID_OPTION = "request_id"


# Candidate runs of all worker threads wait side by side in one pool per process (a pool
# per message spent more CPU starting threads than the runs' own bookkeeping); as many
# as the sandbox server runs at once.
SIDE_BY_SIDE_RUNS = 64


@dataclass
class Runtime:
    settings: Settings
    database: Database
    broker: dramatiq.Broker
    services: Services
    executor: Executor
    _runs: ThreadPoolExecutor | None = field(default=None, repr=False)
    _runs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run_side_by_side(self, problem: Problem, programs: list[str]) -> list[RunResult | Exception]:
        """Each program's result, or the executor's error that stopped it (never a program's own)."""

        def run(program: str) -> RunResult | Exception:
            try:
                return self.executor.run(problem, program)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, which raises it
                return exc

        with self._runs_lock:
            if self._runs is None:
                self._runs = ThreadPoolExecutor(max_workers=SIDE_BY_SIDE_RUNS, thread_name_prefix="candidate")
        return list(self._runs.map(run, programs))

    def send(self, step: Step, request_pk: int, request_id: int | None = None, delay_ms: int | None = None) -> None:
        """Queue `step` for the request (the message only says "look at request N now")."""
        options: dict[str, object] = {"broker_priority": self.settings.priority(step)}
        if request_id is not None:
            options[REQUEST_ID_OPTION] = request_id
        message = dramatiq.Message(
            queue_name=self.settings.task_queue, actor_name=step.value, args=(request_pk,), kwargs={}, options=options,
        )
        try:
            self.broker.enqueue(message, delay=delay_ms)
        except CONNECTION_LOST as exc:
            if isinstance(self.broker, RabbitmqBroker) and isinstance(exc, dramatiq.errors.BrokerConnectionError):
                raise  # dramatiq already tried again on new connections, several times: RabbitMQ is down
            # A broker without dramatiq's reconnect loop (or a pika error that escaped it) gets
            # one more attempt on a fresh connection here. An expected event: one line, no
            # traceback. A broker that is down fails again, and the caller answers 503 (or
            # the step is retried as during an outage).
            log.warning("request %s: the broker connection was lost sending %s (%s); sending again",
                        request_id if request_id is not None else "-", step.value, type(exc).__name__)
            if isinstance(self.broker, RabbitmqBroker):
                del self.broker.connection  # this thread's next use opens a new one
            self.broker.enqueue(message, delay=delay_ms)


def amqp_url(url: str) -> str:
    """`url` with PIKA_DEFAULTS for the parameters it does not set itself."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in PIKA_DEFAULTS.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def make_broker(settings: Settings) -> dramatiq.Broker:
    """RabbitMQ in production, in-process when embedded. No middleware: a process that
    consumes adds the worker's (hint_actors/worker.py); publishing needs none."""
    if settings.rabbitmq_url:
        # One connection per thread, reused for every publish; dramatiq replaces it when
        # it breaks (a restarted broker) and retries the publish on the new one.
        broker: dramatiq.Broker = RabbitmqBroker(
            url=";".join(amqp_url(u) for u in settings.rabbitmq_url.split(";")),
            confirm_delivery=True,  # a publish returns only once RabbitMQ has the message
            max_priority=settings.queue_max_priority,
            middleware=[],
        )
    else:
        broker = StubBroker(middleware=[])
    broker.declare_queue(settings.task_queue)
    return broker


def local_executor(settings: Settings) -> ForkServerExecutor:
    """The local sandbox as the settings configure it (its fork server starts on first use,
    in the process that runs)."""
    return ForkServerExecutor(SandboxConfig(
        require=settings.sandbox_require, disable=settings.sandbox_disable, uid_base=settings.sandbox_uid_base,
        tmp_dir=str(settings.sandbox_tmp_dir) if settings.sandbox_tmp_dir else None,
    ))


def make_executor(settings: Settings) -> Executor:
    """The local sandbox, and orchestration's problem handler for problems whose tests live there."""
    local = local_executor(settings)
    remote = None
    if settings.runs_remotely:
        remote = RemoteExecutor(RemoteExecutionConfig(
            settings.execute_url, settings.execution_result_url, token=settings.callback_token,
            max_concurrent=settings.remote_concurrency, deadline=settings.remote_deadline_seconds,
        ))
    return RoutingExecutor(local, remote)


def make_services(settings: Settings) -> Services:
    """The problems (local bank, and orchestration's), the AI configuration, the LLM client."""
    orchestration = None
    if settings.problems_url and settings.execution is not Execution.LOCAL:
        orchestration = OrchestrationProblems(settings.problems_url, token=settings.callback_token)
    problems = ProblemSource(ProblemBank(settings.problem_bank_dir), orchestration, settings.execution,
                             runs_remotely=settings.runs_remotely)
    ai = load_ai_config(settings.ai_config_path)
    configured = bool(settings.openai_api_key or settings.openai_base_url or settings.azure_openai_endpoint)
    if ai.engine == "openai" and not configured:
        raise ConfigError(f"ai_config ({settings.ai_config_path}): 'engine' is 'openai' but no LLM is configured: "
                          "set OPENAI_API_KEY and/or OPENAI_BASE_URL (or AZURE_OPENAI_ENDPOINT), or engine: auto")
    llm = None
    if ai.use_llm(configured):
        llm = LLMClient(settings.openai_api_key, settings.openai_base_url,
                        azure_endpoint=settings.azure_openai_endpoint, api_version=settings.openai_api_version)
    return Services(problems, ai, llm)


def bind_database(settings: Settings) -> Database:
    """The settings' database, with the models bound to it (all a reporting script needs)."""
    database = make_database(settings.database_url, settings.db_max_connections)
    db.initialize(database)
    return database


def build(settings: Settings, *, services: Services | None = None, executor: Executor | None = None) -> Runtime:
    """Everything a process needs, from `settings`; binds the models to its database."""
    runtime = Runtime(
        settings=settings,
        database=bind_database(settings),
        broker=make_broker(settings),
        services=services or make_services(settings),
        executor=executor or make_executor(settings),
    )
    log.debug("runtime built: database %s, broker %s", settings.database_label,
              "embedded" if settings.embedded_broker else "RabbitMQ")
    return runtime


def ping_broker(broker: dramatiq.Broker) -> None:
    """Raise unless this thread can talk to the broker (the in-process broker always can).

    A connection the broker dropped (it restarted) is replaced once, so readiness
    reflects the broker, not a stale connection of this thread.
    """
    if not isinstance(broker, RabbitmqBroker):
        return
    for attempt in (1, 2):
        try:
            broker.connection.process_data_events(time_limit=0)
            return
        except Exception:
            del broker.connection  # the next use opens a fresh one
            if attempt == 2:
                raise
