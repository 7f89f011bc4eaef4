"""`GET /metrics`: the web process's Prometheus text (docs/operations.md "Metrics").

Two kinds of figures:

- what only this process sees: `hint_requests_total{outcome}`, every `add_request` call
  by what it was answered (accepted, repeated, backlog_full, invalid, ...);
- what the database knows, read at scrape time: the backlog, the queue depth, hints by
  type, engine and outcome, end-to-end latency, LLM calls, tokens, errors and cost by
  model and phase, candidate runs, fallbacks to the offline engine. The database is the
  source of truth for every worker process on every host, so these are right however many
  workers run, survive their restarts, and need no multiprocess bookkeeping. They are
  totals over the rows kept (`scripts.prune` lowers them: Prometheus treats that as a
  counter reset).

The worker hosts add their own port (hint_actors/middleware/metrics.py): Dramatiq's message
metrics and each step's outcome and queue wait. No label holds a request id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, request
from peewee import fn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from hint_core.enums import Engine
from hint_core.lifecycle import Stage
from models import EnhancedProgram, Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, db

log = logging.getLogger("hint.metrics")

bp = Blueprint("metrics", __name__)

EXTENSION = "hint_metrics"
# End-to-end seconds, from add_request to the stored final hint: a hint takes from under a
# second (offline) to minutes (LLM, reflection wait, retries) up to the deadline (600 s).
LATENCY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, float("inf"))
# How add_request was answered, by status; 200 is told apart by its body.
OUTCOME_BY_STATUS = {
    400: "invalid", 401: "unauthorized", 403: "unauthorized", 409: "conflict", 413: "too_large",
    415: "invalid", 422: "unknown_problem", 429: "backlog_full", 503: "unavailable",
}


class Latency:
    """The end-to-end latency histogram, kept up to date from the stored hints.

    Each scrape reads only the hints stored since the last one (by id), so a scrape costs a
    few rows however long the service has run; a new process reads the history once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_id = 0
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = {}

    def update(self) -> None:
        with self._lock:
            rows = (Hint.select(Hint.id, Hint.created_at, Hint.job_finished_successfully,
                                Request.created_at.alias("asked"), Request.hint_type)
                    .join(Request).where(Hint.id > self._last_id).order_by(Hint.id).limit(100_000).objects())
            for row in rows:
                key = (str(row.hint_type), "ok" if row.job_finished_successfully else "failed")
                seconds = max(0.0, (row.created_at - row.asked).total_seconds())
                counts = self._counts.setdefault(key, [0] * len(LATENCY_BUCKETS))
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if seconds <= bound:
                        counts[i] += 1
                self._sums[key] = self._sums.get(key, 0.0) + seconds
                self._last_id = row.id

    def metric(self) -> Metric:
        family = HistogramMetricFamily(
            "hint_request_latency_seconds",
            "Seconds from add_request to the stored final hint, by hint type and outcome.",
            labels=["hint_type", "outcome"])
        with self._lock:
            for (hint_type, outcome), counts in sorted(self._counts.items()):
                buckets = [(_bound(b), c) for b, c in zip(LATENCY_BUCKETS, counts, strict=True)]
                family.add_metric([hint_type, outcome], buckets, self._sums[(hint_type, outcome)])
        return family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else str(bound)


def _queue_depth(broker: object, queue: str) -> int | None:
    """Messages waiting in the task queue (and its delay queue); None if the broker cannot say."""
    counts = getattr(broker, "get_queue_message_counts", None)  # RabbitMQ
    if counts is not None:
        ready, delayed, _dead = counts(queue)
        return ready + delayed
    queues = getattr(broker, "queues", None)  # the in-process broker
    if isinstance(queues, dict) and queue in queues:
        return queues[queue].qsize()
    return None


class Stored(Collector):
    """The figures the database holds, collected at each scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.latency = Latency()

    def collect(self) -> Iterator[Metric]:
        from hint_api import runtime_of

        runtime = runtime_of(self.app)
        db.connect(reuse_if_open=True)
        yield from self._requests(reporting=bool(runtime.settings.save_hint_url))
        self.latency.update()
        yield self.latency.metric()
        yield from self._llm()
        yield from self._runs()
        queue = GaugeMetricFamily("hint_queue_depth", "Messages waiting in the task queue (ready and delayed).",
                                  labels=["queue"])
        try:
            depth = _queue_depth(runtime.broker, runtime.settings.task_queue)
        except Exception as exc:  # noqa: BLE001 - a broker outage must not hide the other metrics
            log.debug("queue depth unavailable: %s", type(exc).__name__)
            depth = None
        if depth is not None:
            queue.add_metric([runtime.settings.task_queue], depth)
        yield queue

    def _requests(self, reporting: bool) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "hint_backlog_requests",
            "Requests accepted and not finished (MAX_PENDING_REQUESTS refuses beyond), by stage.",
            labels=["stage"])
        by_stage = dict(Request.select(Request.stage, fn.COUNT(Request.id)).group_by(Request.stage).tuples())
        for stage in Stage:
            if stage is not Stage.FINISHED:
                backlog.add_metric([stage.value], by_stage.get(stage, 0))
        yield backlog
        hints = CounterMetricFamily(
            "hint_hints", "Final hints stored, by hint type, engine (who wrote it) and outcome (ok or failed).",
            labels=["hint_type", "engine", "outcome"])
        rows = (Hint.select(Request.hint_type, Hint.engine, Hint.job_finished_successfully, fn.COUNT(Hint.id))
                .join(Request).group_by(Request.hint_type, Hint.engine, Hint.job_finished_successfully).tuples())
        for hint_type, engine, ok, count in rows:
            hints.add_metric([str(hint_type), str(engine or "none"), "ok" if ok else "failed"], count)
        yield hints
        # A hint written offline for a request whose hint phase asked the LLM: the LLM failed,
        # or every hint it wrote gave the solution away (ai_config `fallback: offline`).
        fallbacks = CounterMetricFamily(
            "hint_offline_fallbacks", "Hints written by the offline engine after the LLM was asked for one.")
        llm_asked = HintGenerationPhase.select(HintGenerationPhase.request).where(HintGenerationPhase.llm_calls > 0)
        offline = Hint.select().where(Hint.engine == Engine.OFFLINE, Hint.request.in_(llm_asked))
        fallbacks.add_metric([], offline.count())
        yield fallbacks
        # The callback (return_hint step): a stored hint orchestration has not acknowledged yet
        # is one a student may be waiting for; attempts beyond the hints show failing POSTs.
        unreported = GaugeMetricFamily(
            "hint_callbacks_unreported", "Final hints stored and not yet accepted by orchestration's save-hint URL.")
        if reporting:  # with no save-hint URL nothing is ever reported: no gauge to alarm on
            unreported.add_metric([], Hint.select().where(Hint.reported_at.is_null()).count())
            yield unreported
        attempts = CounterMetricFamily(
            "hint_callback_attempts", "POSTs of final hints to orchestration's save-hint URL, retries included.")
        attempts.add_metric([], Hint.select(fn.COALESCE(fn.SUM(Hint.report_attempts), 0)).scalar() or 0)
        yield attempts

    def _llm(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("hint_llm_calls", "LLM calls, by model and phase (programs, hint).",
                                    labels=["model", "phase"])
        tokens = CounterMetricFamily("hint_llm_tokens", "LLM tokens, by model, phase and kind (prompt, completion).",
                                     labels=["model", "phase", "kind"])
        # A phase that called the LLM and recorded an error: the LLM failed for good (after its
        # retries), or its answer was unusable; the phase then fell back or failed.
        errors = CounterMetricFamily("hint_llm_errors", "LLM phases that ended in an error, by model and phase.",
                                     labels=["model", "phase"])
        cost = CounterMetricFamily("hint_llm_cost", "Estimated LLM cost in the currency of ai_config `pricing`, "
                                   "by model and phase (phases of unpriced models count 0).", labels=["model", "phase"])
        for phase, table in (("programs", ProgramEnhancementPhase), ("hint", HintGenerationPhase)):
            rows = (table.select(table.model, fn.SUM(table.llm_calls), fn.SUM(table.prompt_tokens),
                                 fn.SUM(table.completion_tokens), fn.COUNT(table.error), fn.SUM(table.cost))
                    .where(table.llm_calls > 0).group_by(table.model).tuples())
            for model, n, prompt, completion, failed, money in rows:
                labels = [model or "unknown", phase]
                calls.add_metric(labels, n or 0)
                tokens.add_metric([*labels, "prompt"], prompt or 0)
                tokens.add_metric([*labels, "completion"], completion or 0)
                errors.add_metric(labels, failed or 0)
                cost.add_metric(labels, money or 0.0)
        yield from (calls, tokens, errors, cost)

    def _runs(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "hint_candidate_runs", "Candidate programs run against the hidden tests, by source and result "
            "(passed, failed: the program failed a test; invalid: no program could be parsed).",
            labels=["source", "result"])
        rows = (EnhancedProgram.select(EnhancedProgram.source, EnhancedProgram.correct,
                                       EnhancedProgram.program.is_null(), fn.COUNT(EnhancedProgram.id))
                .where(EnhancedProgram.evaluated_at.is_null(False) | EnhancedProgram.program.is_null())
                .group_by(EnhancedProgram.source, EnhancedProgram.correct, EnhancedProgram.program.is_null()).tuples())
        for source, correct, unparsed, count in rows:
            result = "invalid" if unparsed else "passed" if correct else "failed"
            runs.add_metric([str(source), result], count)
        yield runs
        students = CounterMetricFamily(
            "hint_student_runs", "Students' programs run against the hidden tests, by result (passed, failed).",
            labels=["result"])
        rows = (Request.select(Request.student_correct, fn.COUNT(Request.id))
                .where(Request.student_run_at.is_null(False)).group_by(Request.student_correct).tuples())
        for correct, count in rows:
            students.add_metric(["passed" if correct else "failed"], count)
        yield students


class Calls(Collector):
    """`hint_requests_total`: this process's add_request calls by outcome.

    Counted here rather than with prometheus_client's `Counter`: that one keeps its value
    in files when PROMETHEUS_MULTIPROC_DIR is set (the workers' setting, often in the same
    environment), which the web process has no use for.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def count(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] = self._counts.get(outcome, 0) + 1

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hint_requests", "add_request calls, by how they were answered (accepted, repeated, backlog_full, invalid, "
            "unknown_problem, conflict, too_large, unauthorized, unavailable, error).", labels=["outcome"])
        with self._lock:
            for outcome, count in sorted(self._counts.items()):
                family.add_metric([outcome], count)
        yield family


def init_metrics(app: Flask) -> None:
    """The app's registry (never the process-global one: two apps in one process, as in the
    tests, each count their own calls) and the call counter."""
    registry = CollectorRegistry(auto_describe=False)
    calls = Calls()
    registry.register(calls)
    registry.register(Stored(app))
    app.extensions[EXTENSION] = registry
    app.register_blueprint(bp)

    @app.after_request
    def count_request(response: Response) -> Response:
        if request.endpoint == "ai_hint.add_request":
            calls.count(outcome_of(response))
        return response


def outcome_of(response: Response) -> str:
    if response.status_code == 200:
        body = response.get_json(silent=True) if response.is_json else None
        return "repeated" if isinstance(body, dict) and body.get("status") == "already_accepted" else "accepted"
    return OUTCOME_BY_STATUS.get(response.status_code, "error")


@bp.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions[EXTENSION]
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
