"""The verdict of a run, from what the worker collected and nothing the child claims.

A test passes only if exactly one well-formed record arrived for it and its value equals
the expected one, which never left the worker. The exit status and the server's kill
reason only say *why* a test has no answer; they never make one pass.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from hint_core.problems import Problem
from hint_core.sandbox import wire
from hint_core.sandbox.channel import Collected
from hint_core.sandbox.config import SandboxError
from hint_core.sandbox.results import NO_VALUE, RunResult, Status, TestResult, error_text, judge
from hint_core.sandbox.static import TOO_DEEP

_MALFORMED: dict[str, Any] = {"malformed": True}
PROGRAM_ERRORS = ("compile_error", "load_error")


def _valid_error(err: Any) -> bool:
    return (type(err) is dict and set(err) == {"type", "message", "line"} and type(err["type"]) is str
            and type(err["message"]) is str and (err["line"] is None or type(err["line"]) is int))


def _test_record(record: dict[str, Any]) -> dict[str, Any]:
    """A test's record, validated (a malformed one still counts, so that it fails its test)."""
    if "value" in record:
        try:
            return {"value": wire.decode(record["value"])}
        except wire.BadValue:
            return _MALFORMED
    if "error" in record and _valid_error(record["error"]):
        return {"error": record["error"]}
    if type(record.get("unsupported")) is str:
        return {"unsupported": record["unsupported"]}
    if record.get("limit") == "output":
        return {"limit": "output"}
    return _MALFORMED


@dataclass
class Records:
    """What the child sent, sorted: each test's records (a malformed one counts, so that
    it fails its test), the program-level error, and the two records trusted only first
    on the channel, before any code of the program ran."""

    per_test: dict[int, list[dict]] = field(default_factory=dict)
    program_error: dict[str, Any] | None = None
    setup_error: str | None = None  # the sandbox failed before the program was loaded
    static: dict[str, Any] | None = None  # static.check's answer: too_complex, or forbidden


def _static(record: dict[str, Any]) -> dict[str, Any] | None:
    body = record.get("static")
    if type(body) is not dict or len(body) != 1:
        return None
    if type(body.get("too_complex")) is str:
        return body
    forbidden = body.get("forbidden")
    if type(forbidden) is list and all(type(f) is str for f in forbidden):
        return body
    return None


def parse_records(raw: bytes, count: int) -> Records:
    found = Records()
    lines = raw.split(b"\n")
    if raw and not raw.endswith(b"\n"):
        lines[-1] = b"\x00"  # a record cut off mid-way is no record
    for position, line in enumerate(lines):
        if not line:
            continue
        try:
            record = wire.loads_record(line)
        except wire.BadValue:
            continue
        if type(record) is not dict:
            continue
        if position == 0 and set(record) == {"setup_error"}:
            # First on the channel: only the sandbox's own code had run.
            return Records(setup_error=str(record["setup_error"]))
        if position == 0 and set(record) == {"static"}:
            found.static = _static(record)
            continue
        for key in PROGRAM_ERRORS:
            if set(record) == {key} and _valid_error(record[key]) and found.program_error is None:
                found.program_error = {"kind": key, **record[key]}
        i = record.get("i")
        if type(i) is int and 0 <= i < count and len(record) == 2:
            found.per_test.setdefault(i, []).append(_test_record(record))
    return found


def missing_cause(problem: Problem, got: Collected) -> tuple[Status, str]:
    """Why a test has no record: from what the server and the worker saw, never from
    anything the child claimed."""
    limits = problem.limits
    exit_info = got.exit
    reason = exit_info.get("reason")
    status = int(exit_info.get("status", 0))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if got.output_total > limits.output_bytes or reason == "output_limit":
        return Status.OUTPUT_LIMIT, f"printed more than {limits.output_bytes} bytes"
    if reason == "timeout":
        return Status.TIMEOUT, f"time limit exceeded ({limits.wall_seconds:g} s of wall time)"
    if got.records_overflow or reason == "record_limit":
        return Status.CRASHED, "sent too much result data"
    if sig and int(exit_info.get("maxrss_kb", 0)) * 1024 >= 0.8 * (limits.memory_mb << 20):
        return Status.MEMORY_LIMIT, f"memory limit exceeded ({limits.memory_mb} MB)"
    # Nobody here sent that SIGKILL: the kernel did, at the CPU limit (whole seconds). The
    # CPU time that wait4 reports can fall a little short of what the limit counted.
    cpu_limit = max(1, -(-limits.cpu_seconds // 1))
    if sig in (signal.SIGKILL, signal.SIGXCPU) and float(exit_info.get("cpu", 0)) >= 0.75 * cpu_limit:
        return Status.TIMEOUT, f"time limit exceeded ({limits.cpu_seconds:g} s of CPU time)"
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return Status.CRASHED, f"the program was killed by signal {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return Status.CRASHED, f"the program ended (exit status {code}) before answering this test"


def _unanswered(problem: Problem, index: int, records: list[dict], program_error: dict[str, Any] | None,
                got: Collected) -> TestResult:
    result = judge(problem.tests[index], problem, None)
    if records:
        result.error = "the program interfered with the test harness (duplicate or malformed result)"
    elif program_error is not None:
        result.status = Status.MEMORY_LIMIT if program_error["type"] == "MemoryError" else Status.EXCEPTION
        result.error, result.line = error_text(program_error), program_error["line"]
    else:
        result.status, result.error = missing_cause(problem, got)
    return result


def build_result(problem: Problem, got: Collected, run_time: float) -> RunResult:
    records = parse_records(got.records, len(problem.tests))
    if records.setup_error is not None:
        raise SandboxError(f"the sandbox failed to set up the run: {records.setup_error}")
    static = records.static or {}
    if "too_complex" in static:
        return not_run(problem, Status.TOO_COMPLEX, static["too_complex"])
    output = got.output.decode("utf-8", "replace")
    if got.output_total > problem.limits.output_bytes:
        limit = problem.limits.output_bytes
        output += f"\n[output truncated: {got.output_total} bytes printed, limit {limit}]"
    program_error = records.program_error
    if program_error is not None and program_error["kind"] == "compile_error" \
            and program_error["type"] in ("RecursionError", "MemoryError"):
        return not_run(problem, Status.TOO_COMPLEX, TOO_DEEP)  # Python's compiler gave up on its depth
    tests: list[TestResult] = []
    returned: list[Any] = []
    for i, test in enumerate(problem.tests):
        answers = records.per_test.get(i, [])
        if len(answers) == 1 and answers[0] is not _MALFORMED:
            tests.append(judge(test, problem, answers[0]))
            returned.append(answers[0].get("value", NO_VALUE))
        else:
            tests.append(_unanswered(problem, i, answers, program_error, got))
            returned.append(NO_VALUE)
    correct = bool(tests) and all(t.passed for t in tests)
    if correct:
        status = Status.PASSED
    elif program_error is not None and program_error["kind"] == "compile_error":
        status = Status.COMPILE_ERROR
    else:
        status = Status(next(t.status for t in tests if not t.passed))
    result = RunResult(
        correct=correct, status=status, tests=tests, output=output,
        error=error_text(program_error) if program_error else None,
        run_time=run_time, cpu_time=float(got.exit.get("cpu", 0.0)), returned=tuple(returned),
    )
    return forbidden(result, tuple(static["forbidden"])) if static.get("forbidden") else result


def not_run(problem: Problem, status: Status, message: str) -> RunResult:
    """The verdict for a program refused before it ran: every test fails with `message`."""
    tests = []
    for test in problem.tests:
        result = judge(test, problem, None)
        result.status, result.error = Status.EXCEPTION, message
        tests.append(result)
    return RunResult(correct=False, status=status, tests=tests, error=message)


def forbidden(result: RunResult, violations: tuple[str, ...]) -> RunResult:
    """`result` of a program that uses forbidden constructs: not correct, whatever the
    tests said (they keep their verdicts as evidence), and `error` says what and where."""
    result.correct = False
    result.status = Status.FORBIDDEN
    result.error = "; ".join(violations)
    return result
