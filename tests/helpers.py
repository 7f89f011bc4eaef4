"""What many tests share: programs, calls made as orchestration makes them, and waiting
that fails loudly instead of returning on a timeout."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
import pytest

from hint_core.sandbox import ForkServerExecutor, SandboxConfig
from runtime import Runtime

# One sandbox for the whole test session (its fork server starts on first use).
SANDBOX = ForkServerExecutor(SandboxConfig())

# The API token of the in-process tests (conftest.TEST_ENV); `api_client` sends it.
TEST_TOKEN = "test-api-token"

BUGGY_FACTORIAL = (
    "def factorial(n):\n"
    "    result = 0\n"
    "    for i in range(1, n + 1):\n"
    "        result *= i\n"
    "    return result\n"
)
CORRECT_FACTORIAL = (
    "def factorial(n):\n"
    "    result = 1\n"
    "    for i in range(2, n + 1):\n"
    "        result *= i\n"
    "    return result\n"
)
REFLECTION = ("What is wrong?", "The result is always zero somehow.")


def ask(client: Any, request_id: int, program: str = BUGGY_FACTORIAL, hint_type: str = "debug",
        problem_id: str = "factorial", reflection: bool = True) -> None:
    """add_request, then add_reflection, through the API; both must be accepted."""
    reply = client.post("/ai_hint/add_request/", json={
        "type": "add_request", "request_id": request_id,
        "data": {"problem_id": problem_id, "student_program": program, "hint_type": hint_type},
    })
    assert reply.status_code == 200, reply.get_json()
    if reflection:
        question, answer = REFLECTION
        reply = client.post("/ai_hint/add_reflection/", json={
            "request_id": request_id, "data": {"reflection_question": question, "reflection_answer": answer},
        })
        assert reply.status_code == 200, reply.get_json()


def api_client(app_or_runtime: Any) -> Any:
    """A Flask test client that sends the tests' API token with every call."""
    from hint_api import create_app

    app = app_or_runtime if hasattr(app_or_runtime, "test_client") else create_app(app_or_runtime)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TEST_TOKEN}"
    return client


def status(client: Any, request_id: int) -> dict[str, Any]:
    return client.get(f"/ai_hint/query_hint/?request_id={request_id}").get_json()


def join(runtime: Runtime, timeout_ms: int = 30_000) -> None:
    """Wait until the in-process broker's queue (and its delayed messages) is empty."""
    runtime.broker.join(runtime.settings.task_queue, timeout=timeout_ms, fail_fast=False)


def queued(runtime: Runtime) -> list[str]:
    """The steps waiting in the in-process broker's queue, in order."""
    return [dramatiq.Message.decode(raw).actor_name for raw in runtime.broker.queues[runtime.settings.task_queue].queue]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail the test (never return silently) on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def service_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(available: bool, message: str) -> None:
    """Under CI=true what a test needs must be there (a failure); elsewhere the test skips."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_service(name: str, host: str, port: int) -> None:
    """A server the test runs against: skipped locally when it is down, a failure in CI."""
    require(service_up(host, port), f"{name} is not reachable at {host}:{port}")


class CallbackReceiver:
    """Plays orchestration's save-hint endpoint.

    `fail_first` answers 500 that many times; `delay` holds each answer that long (for
    overlapping deliveries); every call is kept with its headers, whatever the answer.
    """

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.received: list[dict[str, Any]] = []  # bodies answered 2xx
        self.headers: list[dict[str, str]] = []  # of every call
        self.fail_first = fail_first
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.calls += 1
                    receiver.headers.append(dict(self.headers))
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                    fail = receiver.calls <= receiver.fail_first
                time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.in_flight -= 1
                    if not fail:
                        receiver.received.append(json.loads(body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/save_ai_hint/"

    def request_ids(self) -> list[int]:
        return [body["request_id"] for body in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
