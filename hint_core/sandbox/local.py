"""Local executor: one fresh child process per run, with limits, in a throwaway directory."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hint_core.problems import Problem
from hint_core.sandbox.results import RunResult, TestResult, judge

CHILD = str(Path(__file__).with_name("child.py"))


def _limits(problem: Problem):
    lim = problem.limits

    def apply() -> None:
        os.setsid()
        cpu = max(1, int(lim.cpu_seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        mem = lim.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        fsize = lim.file_size_kb * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _payload(problem: Problem, program: str) -> bytes:
    if problem.kind == "function":
        inputs = [{"args": list(t.args), "kwargs": t.kwargs} for t in problem.tests]
    else:
        inputs = [{"stdin": t.stdin} for t in problem.tests]
    return json.dumps(
        {"program": program, "kind": problem.kind, "function": problem.function, "inputs": inputs}
    ).encode()


class LocalExecutor:
    """Runs a program in a separate interpreter with rlimits and a wall-clock kill."""

    def run(self, problem: Problem, program: str) -> RunResult:
        workdir = tempfile.mkdtemp(prefix="hint-run-")
        os.chmod(workdir, 0o700)
        try:
            for rel, content in problem.assets.items():
                target = Path(workdir, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            return self._run_in(workdir, problem, program)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_in(self, workdir: str, problem: Problem, program: str) -> RunResult:
        control_r, control_w = os.pipe()
        record_r, record_w = os.pipe()
        started = time.monotonic()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", CHILD, str(control_r), str(record_w)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(control_r, record_w), cwd=workdir, env={},
                preexec_fn=_limits(problem),
            )
            os.close(control_r)
            os.close(record_w)
            with os.fdopen(control_w, "wb") as control:
                try:
                    control.write(_payload(problem, program))
                except BrokenPipeError:
                    pass
            timed_out = False
            try:
                proc.wait(timeout=problem.limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with os.fdopen(record_r, "rb") as records:
                raw = records.read(4 * 1024 * 1024)
            run_time = time.monotonic() - started
            out.seek(0)
            output = out.read(problem.limits.output_bytes + 1)
        text = output[: problem.limits.output_bytes].decode("utf-8", "replace")
        if len(output) > problem.limits.output_bytes:
            text += "\n[output truncated]"
        return _verdict(problem, raw, timed_out, proc.returncode, text, run_time)


def _verdict(problem: Problem, raw: bytes, timed_out: bool, returncode: int, output: str, run_time: float) -> RunResult:
    by_index: dict[int, list[dict]] = {}
    error = None
    for line in raw.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for key in ("compile_error", "load_error"):
            if key in record and isinstance(record[key], dict):
                err = record[key]
                error = f"{err.get('type')}: {err.get('message')}" + (f" (line {err['line']})" if err.get("line") else "")
        if isinstance(record.get("i"), int):
            by_index.setdefault(record["i"], []).append(record)

    tests: list[TestResult] = []
    for i, test in enumerate(problem.tests):
        got = by_index.get(i, [])
        result = judge(test, problem, got[0] if len(got) == 1 else None)
        if not got and error:
            result.status, result.error = "exception", error
        elif not got and timed_out:
            result.status, result.error = "timeout", "time limit exceeded"
        elif not got and returncode and returncode < 0:
            result.error = f"killed by signal {-returncode}"
        tests.append(result)
    correct = bool(tests) and all(t.passed for t in tests)
    if correct:
        status = "passed"
    elif error and "SyntaxError" in error and not by_index:
        status = "compile_error"
    else:
        status = next(t.status for t in tests if not t.passed)
    return RunResult(correct=correct, status=status, tests=tests, output=output, error=error, run_time=run_time)
