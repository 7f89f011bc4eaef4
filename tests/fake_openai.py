"""A scriptable OpenAI-compatible server on loopback, for tests and benchmarks.

Real sockets, real HTTP: the real `openai` client talks to it. By default it answers
program-generation prompts with `program_answers` (cycled, one per choice) and hint
prompts with `hint_answer`. `push()` queues one-shot behaviours for the next calls:
HTTP errors with headers, stalls, malformed bodies, fewer choices, dropped connections.
Every request is recorded as received (`requests`: JSON bodies, `headers`, `paths`), so a
test can assert what the client sent. `reject_response_format` makes it answer 400 to a
request carrying `response_format`, as some OpenAI-compatible servers do.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # a dict to send as JSON, raw bytes, or None for the default answer
    contents: list[str] | None = None  # choice contents, instead of the default answer
    stall: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering


def status(code: int, retry_after: float | None = None) -> Behaviour:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Behaviour(
        status=code, headers=headers, body={"error": {"message": f"fake {code}", "type": "fake"}}
    )


def contents(*texts: str) -> Behaviour:
    return Behaviour(contents=list(texts))


def stall(seconds: float) -> Behaviour:
    return Behaviour(stall=seconds)


def malformed() -> Behaviour:
    return Behaviour(body=b'{"id": "x", "choices": [ this is not json')


def drop() -> Behaviour:
    return Behaviour(drop=True)


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connection attempts when a benchmark opens
    # hundreds at once, and each dropped SYN costs the client a one-second retransmit.
    request_queue_size = 1024


class FakeOpenAI:
    def __init__(self, latency: float = 0.0):
        self.latency = latency
        self.program_answers: list[str] = ['{"fixed_program": "def f():\\n    return 1\\n"}']
        self.hint_answer = json.dumps(
            {
                "explanation": "The loop starts from the wrong value.",
                "hint": "What is the value of your result before the loop runs?",
            }
        )
        self.ignore_n = False  # behave like servers that always answer one choice
        self.reject_response_format = False  # behave like servers that refuse the parameter
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # request headers, lower-case names
        self.paths: list[str] = []  # request paths with their query, in arrival order
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._server: ThreadingHTTPServer | None = None

    # --- control -------------------------------------------------------------------
    def push(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                fake._answer(self, body, self.path, {k.lower(): v for k, v in self.headers.items()})

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (and so every test using the fake) fast.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- what was asked ------------------------------------------------------------
    def prompts(self, kind: str | None = None) -> list[str]:
        """The user messages received (kind: 'program' or 'hint' to filter)."""
        out = []
        for body in self.requests:
            text = "\n".join(m.get("content", "") for m in body.get("messages", []))
            if kind is None or self._kind(body) == kind:
                out.append(text)
        return out

    @staticmethod
    def _kind(body: dict[str, Any]) -> str:
        system = (body.get("messages") or [{}])[0].get("content", "")
        return "program" if ("fixed_program" in system or "optimized_program" in system) else "hint"

    # --- answering -----------------------------------------------------------------
    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        path: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            self.headers.append(headers or {})
            behaviour = self._script.popleft() if self._script else Behaviour()
        if self.reject_response_format and "response_format" in body and behaviour == Behaviour():
            behaviour = status(400)
        time.sleep(self.latency + behaviour.stall)
        if behaviour.drop:
            handler.close_connection = True
            handler.connection.close()
            return
        if behaviour.body is not None:
            payload = (
                behaviour.body if isinstance(behaviour.body, bytes) else json.dumps(behaviour.body).encode()
            )
        else:
            payload = json.dumps(self._completion(body, behaviour.contents)).encode()
        handler.send_response(behaviour.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in behaviour.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _completion(self, body: dict[str, Any], texts: list[str] | None) -> dict[str, Any]:
        n = 1 if self.ignore_n else int(body.get("n") or 1)
        if texts is None:
            if self._kind(body) == "program":
                cycle = itertools.cycle(self.program_answers)
                texts = [next(cycle) for _ in range(n)]
            else:
                texts = [self.hint_answer] * n
        return {
            "id": f"chatcmpl-fake-{next(self._counter)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                for i, t in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20 * len(texts),
                "total_tokens": 100 + 20 * len(texts),
            },
        }
