"""A small HTTP load generator for the benchmark: loopback only, bounded in count and time.

Two shapes: `saturate` (closed loop: every client sends its next call as soon as the last
one answered, for the throughput ceiling) and `fixed_rate` (open loop: calls are due at
a fixed pace and latency counts from when a call was due, so a stalled server cannot
hide its queueing by slowing the generator down).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
Body = Callable[[int], dict[str, Any]]  # call number -> JSON body


@dataclass
class LoadResult:
    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return (self.sent - self.errors) / self.seconds if self.seconds else 0.0


def loopback(url: str) -> tuple[str, int, str]:
    """(host, port, path) of a loopback URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ValueError(f"the load generator only targets loopback http URLs, not {url!r}")
    return parts.hostname, parts.port or 80, parts.path or "/"


class Client:
    """One keep-alive connection; reconnects once if the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.last_headers: dict[str, str] = {}  # the last answer's headers (lower-case names)
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    @classmethod
    def to(cls, base_url: str) -> Client:
        host, port, _ = loopback(base_url)
        return cls(host, port)

    def post(self, path: str, body: dict[str, Any]) -> int:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, data, headers)
                response = self.conn.getresponse()
                response.read()
                self.last_headers = {k.lower(): v for k, v in response.getheaders()}
                return response.status
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.result = LoadResult()

    def record(self, status: int | None, latency_ms: float) -> None:
        with self.lock:
            self.result.sent += 1
            if status is None or not 200 <= status < 300:
                self.result.errors += 1
            else:
                self.result.latencies_ms.append(latency_ms)
            key = status if status is not None else 0
            self.result.statuses[key] = self.result.statuses.get(key, 0) + 1


def _send(client: Client, path: str, body: dict[str, Any]) -> int | None:
    try:
        return client.post(path, body)
    except (OSError, http.client.HTTPException):
        return None


def saturate(url: str, body: Body, clients: int, max_requests: int, max_seconds: float) -> LoadResult:
    """`clients` closed-loop senders until `max_requests` calls or `max_seconds`, whichever first."""
    host, port, path = loopback(url)
    recorder = _Recorder()
    counter = iter(range(max_requests))
    take = threading.Lock()
    started = time.monotonic()
    stop_at = started + max_seconds

    def run() -> None:
        client = Client(host, port)
        try:
            while time.monotonic() < stop_at:
                with take:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                status = _send(client, path, body(i))
                recorder.record(status, (time.perf_counter() - t0) * 1000)
        finally:
            client.close()

    _run_all(run, clients, max_seconds)
    recorder.result.seconds = time.monotonic() - started
    return recorder.result


def fixed_rate(url: str, body: Body, rate: float, count: int, max_seconds: float, senders: int = 32) -> LoadResult:
    """`count` calls due `1/rate` apart; latency counts from the due time, not the send time."""
    host, port, path = loopback(url)
    recorder = _Recorder()
    counter = iter(range(count))
    take = threading.Lock()
    started = time.monotonic() + 0.05  # let every sender start before the first call is due
    stop_at = started + max_seconds

    def run() -> None:
        client = Client(host, port)
        try:
            while True:
                with take:
                    i = next(counter, None)
                if i is None:
                    return
                due = started + i / rate
                if due > stop_at:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                status = _send(client, path, body(i))
                recorder.record(status, (time.monotonic() - due) * 1000)
        finally:
            client.close()

    _run_all(run, senders, max_seconds)
    recorder.result.seconds = time.monotonic() - started
    return recorder.result


def _run_all(run: Callable[[], None], threads: int, max_seconds: float) -> None:
    """`threads` threads running `run`, joined with a bound so a stuck sender cannot hang the bench."""
    started = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(max_seconds + 60)
