"""The web process (real waitress) against hostile clients: a flood of idle connections
with half-sent bodies, descriptors above 1023 included, and a body announced far larger
than it is. It must stay up, answer its probes and new calls, and let go of the stallers."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.helpers import require, wait_until
from tests.production import ROOT, free_port

FLOOD = 1100  # more than select() can watch: descriptors above 1023


@pytest.fixture
def web(tmp_path):
    """The API in its embedded mode, in its own process, with the production waitress setup."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard >= FLOOD + 200, f"the open-files limit ({hard}) is below what the flood needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process opens the flood
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'hint.db'}",
           "LOG_LEVEL": "WARNING", "HINT_API_TOKEN": "t"}
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "hint_api.serve"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, timeout=60, what="the web process")
        yield base, port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_flood_of_idle_half_sent_requests_leaves_the_api_answering(web):
    base, port, proc = web
    stallers = []
    try:
        for _ in range(FLOOD):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /ai_hint/add_request/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 500\r\n\r\n{\"request_id\": ")
            stallers.append(s)
        assert requests.get(f"{base}/healthz", timeout=10).ok
        reply = requests.post(f"{base}/ai_hint/add_request/", timeout=10, headers={"Authorization": "Bearer t"},
                              json={"request_id": 1, "data": {"problem_id": "factorial",
                                                              "student_program": "x = 1\n", "hint_type": "plan"}})
        assert reply.status_code == 200, reply.text
        assert proc.poll() is None  # still up
        # The stalled connections are closed by the server (channel_timeout), not kept forever.
        stallers[0].settimeout(60)
        started = time.monotonic()
        try:
            assert stallers[0].recv(1) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 60
    finally:
        for s in stallers:
            s.close()


def test_a_body_announced_far_larger_than_the_api_takes_is_refused_at_once(web):
    base, port, _ = web
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(b"POST /ai_hint/add_request/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000000\r\n\r\n0123456789abcdef")
        answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5
