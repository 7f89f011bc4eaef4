"""A fake of the course's orchestration service on loopback, for tests and benchmarks.

Real sockets, real HTTP (threaded, keep-alive). It implements what this service calls:

    GET  /problems/programming_problems/?problem_id=ID
         -> {"id", "title", "task_description", "template_code"}; 404 {"error"} for an unknown id
    POST /execution/execute_program/  {"problem_id", "student_program"} -> {"execution_id"}
    GET  /execution/get_execution_result/?execution_id=N -> {"job_finished": false} on the first
         poll of every job and until the handler is done; then {"job_finished": true,
         "correctness", "buggy_output", "elapsed_time"}, or {"job_finished": true, "error"}
    POST /ai_hint/save_hint/  (the callback: recorded in ``callbacks``)

Judging is script-style, like the original problem handler: the student's program and
the problem's test script run together in a subprocess (in a fresh folder holding the
problem's files, with a timeout); any text on stderr means failure, and ``buggy_output``
is the last stderr line, e.g. ``Test failed: reverse_words('hello world') should be
'world hello', got 'dlrow olleh'``.

For tests: ``fail_next(endpoint, n, status=502 | drop=True | stall=s | body=...)`` makes
the next n calls of an endpoint fail; ``latency[endpoint]`` delays every answer;
``pause(seconds)`` refuses connections for a while; ``forget_jobs()`` loses every
execution id (as a reset database would); ``calls[endpoint]`` records what arrived.
``handler_seconds`` / ``handler_workers`` model a slow problem handler with a fixed number
of workers (jobs queue for a free one); ``judge`` replaces the subprocess (benchmarks).
``with FakeOrchestration() as fake:`` starts it and stops it.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Endpoint(StrEnum):
    PROBLEMS = "problems"
    EXECUTE = "execute"
    RESULT = "result"
    SAVE_HINT = "save_hint"


PATHS = {
    "/problems/programming_problems/": Endpoint.PROBLEMS,
    "/execution/execute_program/": Endpoint.EXECUTE,
    "/execution/get_execution_result/": Endpoint.RESULT,
    "/ai_hint/save_hint/": Endpoint.SAVE_HINT,
}


def check_script(function: str, cases: list[tuple[tuple[Any, ...], Any]]) -> str:
    """A test script in the original's style: call, compare, complain on stderr, exit(1)."""
    lines = ["import sys"]
    for args, expected in cases:
        call = f"{function}({', '.join(repr(a) for a in args)})"
        lines += [
            f"_r = {call}",
            f"if _r != {expected!r}:",
            f"    print('Test failed: ' + {call!r} + ' should be ' + {repr(expected)!r}"
            " + ', got ' + repr(_r), file=sys.stderr)",
            "    sys.exit(1)",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class FakeProblem:
    description: str
    template: str
    tests: str  # script run after the student's program; stderr text means failure
    title: str = ""
    files: dict[str, str] = field(default_factory=dict)  # the execution box: path -> text
    timeout: float = 5.0


def default_problems() -> dict[str, FakeProblem]:
    """reverse_words only this fake knows; the others exist in the local bank too
    (read_file as the original has it: no argument)."""
    return {
        "reverse_words": FakeProblem(
            title="Reverse the words",
            description="Write a function `reverse_words(text)` that returns the words of `text` in reverse "
                        "order, separated by single spaces.\n\nExample: reverse_words('hello world') returns "
                        "'world hello'.",
            template="def reverse_words(text):\n    # your code here\n    pass\n",
            tests=check_script("reverse_words", [
                (("hello world",), "world hello"),
                (("a",), "a"),
                (("one two three",), "three two one"),
                (("",), ""),
            ]),
        ),
        "factorial": FakeProblem(
            title="Factorial",
            description="Write a function `factorial(n)` that returns n! for a non-negative integer n.",
            template="def factorial(n):\n    # your code here\n    pass\n",
            tests=check_script("factorial", [((0,), 1), ((1,), 1), ((3,), 6), ((5,), 120), ((10,), 3628800)]),
        ),
        "sum_two_numbers": FakeProblem(
            title="Sum of two numbers",
            description="Write a function `foo(a, b)` that returns the sum of a and b.",
            template="def foo(a, b):\n    # return the sum of a and b\n    pass\n",
            tests=check_script("foo", [((1, 2), 3), ((-5, 3), -2), ((0, 0), 0)]),
        ),
        "read_file": FakeProblem(
            title="Read a file",
            description="Write a function `read_file()` that returns the text of the file assets/data.txt.",
            template="def read_file():\n    # return the content of assets/data.txt\n    pass\n",
            tests=check_script("read_file", [((), "This is the data to read.")]),
            files={"assets/data.txt": "This is the data to read."},
        ),
    }


def run_script_style(problem: FakeProblem, program: str) -> tuple[bool, str]:
    """(correct, buggy_output): the program then the tests in a subprocess; stderr means failure."""
    with tempfile.TemporaryDirectory(prefix="fake-orch-") as folder:
        for name, text in problem.files.items():
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        Path(folder, "main.py").write_text(program + "\n\n" + problem.tests, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-X", "utf8", "main.py"], cwd=folder, env={}, stdin=subprocess.DEVNULL,
                capture_output=True, timeout=problem.timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            return False, f"Timeout: the program took longer than {problem.timeout:g} seconds"
    lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return (not lines, lines[-1] if lines else "")


@dataclass
class Fault:
    status: int = 502
    body: Any = None  # dict (sent as JSON) or bytes; default {"error": "fake <status>"}
    drop: bool = False  # close the connection without answering
    stall: float = 0.0  # wait this long first (past the client's timeout: a timeout)


@dataclass
class Call:
    endpoint: Endpoint
    method: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    at: float  # time.monotonic() on arrival


@dataclass
class Job:
    id: int
    problem_id: str
    program: str
    ready_at: float  # monotonic time the handler is done with it
    polls: int = 0
    verdict: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection the fake dropped on purpose (or a client gone): not news


class FakeOrchestration:
    def __init__(
        self,
        problems: dict[str, FakeProblem] | None = None,
        *,
        token: str | None = None,
        handler_seconds: float = 0.0,
        handler_workers: int | None = None,
        judge: Callable[[str, str], tuple[bool, str]] | None = None,
        unknown_as_error_body: bool = False,
    ) -> None:
        self.problems = default_problems() if problems is None else problems
        self.token = token
        self.handler_seconds = handler_seconds
        self.handler_workers = handler_workers
        self.judge = judge  # (problem_id, program) -> (correct, buggy_output), instead of a subprocess
        self.unknown_as_error_body = unknown_as_error_body  # 200 {"error"} rather than 404
        self.latency: dict[Endpoint, float] = {}
        self.calls: dict[Endpoint, list[Call]] = {e: [] for e in Endpoint}
        self.callbacks: list[Any] = []
        self.jobs: dict[int, Job] = {}
        self._faults: dict[Endpoint, deque[Fault]] = {e: deque() for e in Endpoint}
        self._worker_free: list[float] = [0.0] * (handler_workers or 0)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()
        self.port = 0

    # --- life cycle ------------------------------------------------------------------------
    def start(self, port: int | None = None) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._open.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._open.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # http.server's naming
                fake._serve(self, None)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                fake._serve(self, body)

        self._server = _Server(("127.0.0.1", self.port if port is None else port), Handler)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() (and so every test using the fake) fast.
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        serve.daemon = True
        serve.start()
        return self.base_url

    def stop(self) -> None:
        """Stop listening and cut open connections: clients now see refused connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def __enter__(self) -> FakeOrchestration:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pause(self, seconds: float) -> None:
        """Refuse connections for ``seconds``, then listen again on the same port."""
        self.stop()
        threading.Timer(seconds, self.start).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def problems_url(self) -> str:
        return self.base_url + "/problems/programming_problems/"

    @property
    def execute_url(self) -> str:
        return self.base_url + "/execution/execute_program/"

    @property
    def result_url(self) -> str:
        return self.base_url + "/execution/get_execution_result/"

    @property
    def save_hint_url(self) -> str:
        return self.base_url + "/ai_hint/save_hint/"

    # --- control and records --------------------------------------------------------------------
    def fail_next(self, endpoint: Endpoint | str, times: int = 1, *, status: int = 502, body: Any = None,
                  drop: bool = False, stall: float = 0.0) -> None:
        with self._lock:
            self._faults[Endpoint(endpoint)].extend(Fault(status, body, drop, stall) for _ in range(times))

    def forget_jobs(self) -> None:
        with self._lock:
            self.jobs.clear()

    def executed(self) -> list[tuple[str, str]]:
        """(problem_id, program) of every execution submitted, in order."""
        with self._lock:
            return [(j.problem_id, j.program) for j in sorted(self.jobs.values(), key=lambda j: j.id)]

    def poll_times(self, execution_id: int | str) -> list[float]:
        with self._lock:
            polls = self.calls[Endpoint.RESULT]
            return [c.at for c in polls if c.query.get("execution_id") == str(execution_id)]

    # --- answering ---------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        url = urlsplit(handler.path)
        endpoint = PATHS.get(url.path)
        if endpoint is None:
            return self._send(handler, 404, {"error": f"no route {url.path}"})
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        authorization = handler.headers.get("Authorization")
        with self._lock:
            call = Call(endpoint, handler.command, query, body, authorization, time.monotonic())
            self.calls[endpoint].append(call)
            fault = self._faults[endpoint].popleft() if self._faults[endpoint] else None
        time.sleep(self.latency.get(endpoint, 0.0) + (fault.stall if fault else 0.0))
        if fault is not None and fault.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        if fault is not None:
            return self._send(handler, fault.status, fault.body if fault.body is not None else
                              {"error": f"fake {fault.status}"})
        if self.token and authorization != f"Bearer {self.token}":
            return self._send(handler, 401, {"error": "Unauthorized"})
        status, answer = {
            Endpoint.PROBLEMS: self._problem, Endpoint.EXECUTE: self._execute,
            Endpoint.RESULT: self._result, Endpoint.SAVE_HINT: self._save_hint,
        }[endpoint](query, body)
        return self._send(handler, status, answer)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _problem(self, query: dict[str, str], _body: Any) -> tuple[int, Any]:
        problem_id = query.get("problem_id")
        if not problem_id:
            return 400, {"error": "Missing field: problem_id"}
        problem = self.problems.get(problem_id)
        if problem is None:
            return (200 if self.unknown_as_error_body else 404), {"error": "Problem not found"}
        return 200, {"id": problem_id, "title": problem.title or problem_id,
                     "task_description": problem.description, "template_code": problem.template}

    def _execute(self, _query: dict[str, str], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("problem_id"):
            return 400, {"error": "Missing field: problem_id"}
        if not isinstance(body.get("student_program"), str):
            return 400, {"error": "Missing field: student_program"}
        now = time.monotonic()
        with self._lock:
            ready = now + self.handler_seconds
            if self._worker_free:  # the job waits for the first free worker of the handler
                slot = min(range(len(self._worker_free)), key=self._worker_free.__getitem__)
                ready = max(now, self._worker_free[slot]) + self.handler_seconds
                self._worker_free[slot] = ready
            job = Job(next(self._ids), str(body["problem_id"]), body["student_program"], ready)
            self.jobs[job.id] = job
        return 200, {"execution_id": job.id}

    def _result(self, query: dict[str, str], _body: Any) -> tuple[int, Any]:
        try:
            execution_id = int(query.get("execution_id", ""))
        except ValueError:
            return 400, {"error": "Invalid execution_id"}
        with self._lock:
            job = self.jobs.get(execution_id)
        if job is None:
            return 404, {"error": "Execution record not found", "execution_id": execution_id}
        with job.lock:
            job.polls += 1
            if job.polls == 1 or time.monotonic() < job.ready_at:
                return 200, {"job_finished": False, "execution_id": execution_id}
            if job.verdict is None:
                job.verdict = self._judge(job)
        return 200, {"job_finished": True, "execution_id": execution_id, **job.verdict}

    def _judge(self, job: Job) -> dict[str, Any]:
        problem = self.problems.get(job.problem_id)
        if problem is None:
            return {"error": f"Task '{job.problem_id}' not found"}
        started = time.monotonic()
        if self.judge is not None:
            correct, output = self.judge(job.problem_id, job.program)
        else:
            correct, output = run_script_style(problem, job.program)
        return {"correctness": correct, "buggy_output": output,
                "elapsed_time": round(time.monotonic() - started, 6)}

    def _save_hint(self, _query: dict[str, str], body: Any) -> tuple[int, Any]:
        with self._lock:
            self.callbacks.append(body)
        return 200, {"ok": True}
