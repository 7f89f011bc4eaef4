"""The per-step timing lines operators read and the benchmark parses."""

from __future__ import annotations

import json
import logging

from hint_actors.middleware.timing import format_line
from scripts.bench_steps import StepTime, cpu_per_request, parse_line, per_step
from tests.helpers import BUGGY_FACTORIAL, ask, join


def test_a_line_reads_back():
    fields = format_line("generate_hint", 42, 7, 3.25, 120.0, 4.5, 0, "ok")
    line = "2026-01-01 00:00:00,000 INFO hint.timing [1] " + fields
    step = parse_line(line)
    assert step is not None
    assert (step.actor, step.request_id, step.queue_wait_ms, step.work_ms, step.cpu_ms, step.outcome) == (
        "generate_hint", 42, 3.2, 120.0, 4.5, "ok"
    )
    assert parse_line("INFO hint.steps request 42: hint written") is None
    assert parse_line(format_line("return_hint", None, 7, 1, 1, 1, 0, "ok")).request_id is None


def test_a_json_line_reads_back():
    """LOG_FORMAT=json: the benchmark reads the same step from the line's message."""
    line = json.dumps({"time": "2026-01-01T00:00:00.000+00:00", "level": "INFO", "logger": "hint.timing",
                       "message": format_line("generate_hint", 42, 7, 3.25, 120.0, 4.5, 0, "ok"), "request_id": 42})
    step = parse_line(line)
    assert (step.actor, step.request_id, step.work_ms, step.outcome) == ("generate_hint", 42, 120.0, "ok")
    assert parse_line('{"level": "INFO", "message": "request 42: hint written"}') is None
    assert parse_line("{not json") is None


def test_every_step_of_a_request_logs_its_timing_with_the_request_id(client, runtime, worker, caplog):
    caplog.set_level(logging.INFO, logger="hint.timing")
    ask(client, 77, BUGGY_FACTORIAL)
    join(runtime)
    steps = [parse_line(r.getMessage()) for r in caplog.records if r.name == "hint.timing"]
    assert steps and all(s is not None and s.request_id == 77 for s in steps)
    actors = {s.actor for s in steps}
    assert {"run_student_program", "query_for_enhanced_programs", "run_enhanced_program",
            "add_reflection", "generate_hint"} <= actors  # no return_hint: no callback URL set
    assert all(s.queue_wait_ms >= 0 and s.work_ms >= 0 and 0 <= s.cpu_ms <= s.work_ms + 1 for s in steps)
    split = per_step(steps)
    assert list(split)[0] == "run_student_program" and "p99" in split["generate_hint"]["work_ms"]


def test_cpu_per_request_sums_each_requests_steps():
    steps = [
        StepTime("run_student_program", 1, 0.0, 10.0, 2.0, "ok"), StepTime("generate_hint", 1, 0.0, 900.0, 3.0, "ok"),
        StepTime("run_student_program", 2, 0.0, 5.0, 1.0, "ok"), StepTime("generate_hint", 3, 0.0, 5.0, 70.0, "ok"),
    ]
    assert cpu_per_request(steps, {1, 2}) == 3.0  # (2 + 3 + 1) / 2 requests; request 3 is not asked about
    assert cpu_per_request(steps, {4}) is None
