"""The production stack as real processes, for end-to-end tests and benchmarks.

A fresh PostgreSQL database and a fresh RabbitMQ queue per stack, waitress serving the
API (`python -m hint_api.serve`) and `dramatiq hint_actors` workers, all configured
only through environment variables, as an operator would.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import psycopg2
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_NAME = "hint-test-probe"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database():
    """A fresh database on the local PostgreSQL; dropped afterwards."""
    name = f"hint_test_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin(sql: str) -> None:
    # A connection per statement: the server may have restarted in between (crash tests).
    admin = psycopg2.connect(PG_ADMIN)
    try:
        admin.autocommit = True
        admin.cursor().execute(sql)
    finally:
        admin.close()


def delete_queues(queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
        channel.queue_delete(queue=name)
    connection.close()


OUTAGE_LOCK = Path(tempfile.gettempdir()) / "hint-service-outages.lock"


@contextmanager
def servers_lock(exclusive: bool):
    """Keep outages out of other stacks on this machine, across test runs.

    Stacks share the local PostgreSQL and RabbitMQ with every other run here (several
    engineers test at once). A stack that stops a server holds this lock exclusively;
    every other stack holds it shared; so a restart never lands in someone's test.
    """
    with open(OUTAGE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def purge_queue(queue: str) -> None:
    """Drop every ready message of the stack's queue (as if they had never been sent)."""
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        connection.channel().queue_purge(queue=queue)
    finally:
        connection.close()


def _run(args: list[str], timeout: float = 60) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=timeout)


@contextmanager
def rabbitmq_down():
    """RabbitMQ's application stopped for the block; always started again afterwards.

    Other engineers' tests share this broker: keep the block short.
    """
    _run(["rabbitmqctl", "stop_app"])
    try:
        yield
    finally:
        _run(["rabbitmqctl", "start_app"])
        _run(["rabbitmqctl", "await_startup"])


def _pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action])


@contextmanager
def postgres_down():
    """PostgreSQL stopped for the block; always started again afterwards (keep it short)."""
    _pg_cluster("stop")
    try:
        yield
    finally:
        _pg_cluster("start")
        _wait_for_postgres()


def _wait_for_postgres(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(PG_ADMIN, connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.2)


def fast_ai_config(path: Path, timeout_seconds: float, deadline_seconds: float, **overrides: Any) -> Path:
    """The repository's ai_config with short LLM timeouts, written to `path` (for crash tests,
    where a claim must expire within seconds, not minutes)."""
    config = yaml.safe_load((ROOT / "ai_config" / "ai_config.yaml").read_text())
    for phase in ("program_generation", "hint_generation"):
        config[phase].update(timeout_seconds=timeout_seconds, deadline_seconds=deadline_seconds)
    for dotted, value in overrides.items():  # e.g. program_generation__n=1
        section, key = dotted.split("__")
        config[section][key] = value
    path.write_text(yaml.safe_dump(config))
    return path


class Stack:
    """Web and worker processes sharing one environment."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.port = int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        # The calls orchestration makes, with the stack's API token (the trace always needs it).
        self.auth = {"Authorization": f"Bearer {env['HINT_API_TOKEN']}"} if env.get("HINT_API_TOKEN") else {}
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        log_path = Path(self.env["HINT_TEST_LOG_DIR"]) / f"{name}-{len(self.processes)}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.processes.append(proc)
        self.logs.append(log_path)
        return proc

    def migrate(self) -> None:
        done = subprocess.run([sys.executable, "-m", "scripts.migrate"], cwd=ROOT, env=self.env, capture_output=True)
        if done.returncode:
            raise RuntimeError(f"migration failed: {done.stderr.decode()[-3000:]}")

    def start_web(self) -> subprocess.Popen:
        proc = self._spawn([sys.executable, "-m", "hint_api.serve"], "web")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).ok:
                    return proc
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("web did not start: " + self.logs[-1].read_text()[-2000:])

    def start_worker(self, processes: int = 1, threads: int = 8) -> subprocess.Popen:
        dramatiq = str(Path(sys.executable).with_name("dramatiq"))
        return self._spawn([dramatiq, "hint_actors", "-p", str(processes), "-t", str(threads)], "worker")

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL a process and everything it started (as a crashed machine would)."""
        self.stop(proc, signal.SIGKILL)

    def wait_until_consuming(self, consumers: int = 1, timeout: float = 30) -> None:
        """Wait until `consumers` worker processes consume the stack's queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
            try:
                declared = connection.channel().queue_declare(queue=self.env["TASK_QUEUE"], passive=True)
                if declared.method.consumer_count >= consumers:
                    return
            except pika.exceptions.ChannelClosedByBroker:
                pass  # not declared yet
            finally:
                if connection.is_open:
                    connection.close()
            time.sleep(0.2)
        raise TimeoutError("no worker consumes the queue\n" + self.output())

    def query(self, sql: str, *params: Any) -> list[tuple]:
        """Read the stack's database directly (what an operator would see), on a connection
        named PROBE_NAME so that counts of the service's own connections can leave it out."""
        connection = psycopg2.connect(self.env["DATABASE_URL"], application_name=PROBE_NAME)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def request_pk(self, request_id: int) -> int:
        return self.query("SELECT id FROM request WHERE request_id = %s", request_id)[0][0]

    def run_steps_then_die(self, request_pk: int, names: list[str]) -> None:
        """Run a request's steps in a fresh process whose messages go nowhere (an in-process
        broker), then kill it: a worker killed between its commit and its send."""
        code = (
            "import os, signal, sys\n"
            "from dataclasses import replace\n"
            "from hint_actors import flow\n"
            "from hint_actors.leases import Leases\n"
            "from hint_actors.pipeline import STEPS\n"
            "from hint_core.lifecycle import Step\n"
            "from runtime import build\n"
            "from settings import load_settings\n"
            "rt = build(replace(load_settings(), rabbitmq_url=None))\n"
            "pk = int(sys.argv[1])\n"
            "for name in sys.argv[2:]:\n"
            "    flow.process(rt, Leases(15), STEPS[Step(name)], pk)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        args = [sys.executable, "-c", code, str(request_pk), *names]
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, timeout=120)
        if done.returncode != -signal.SIGKILL:
            raise RuntimeError(f"steps did not run: {done.returncode}\n{done.stderr.decode()[-3000:]}")

    def queue_idle(self) -> bool:
        """No message of the stack ready, being processed, or waiting out a delay (retries)."""
        listed = subprocess.run(["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name", "messages"],
                                capture_output=True, text=True, timeout=60, check=True).stdout
        queue = self.env["TASK_QUEUE"]
        ours = {queue, f"{queue}.DQ", f"{queue}.XQ"}
        counts = [int(parts[1]) for parts in (line.split() for line in listed.splitlines())
                  if len(parts) == 2 and parts[0] in ours and not parts[0].endswith(".XQ")]
        return sum(counts) == 0

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in self.logs)

    # --- the API, as orchestration calls it -----------------------------------------
    def add_request(self, request_id: int, problem_id: str, program: str, hint_type: str) -> requests.Response:
        return requests.post(f"{self.base}/ai_hint/add_request/", headers=self.auth, json={
            "type": "add_request", "request_id": request_id,
            "data": {"problem_id": problem_id, "student_program": program, "hint_type": hint_type},
        }, timeout=10)

    def add_reflection(self, request_id: int, question: str, answer: str) -> requests.Response:
        return requests.post(f"{self.base}/ai_hint/add_reflection/", headers=self.auth, json={
            "request_id": request_id, "data": {"reflection_question": question, "reflection_answer": answer},
        }, timeout=10)

    def wait_for_hint(self, request_id: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = requests.get(f"{self.base}/ai_hint/query_hint/", params={"request_id": request_id},
                                  headers=self.auth, timeout=10).json()
            if answer.get("job_finished"):
                return answer
            time.sleep(0.05)
        raise TimeoutError(f"request {request_id} has no hint after {timeout}s\n{self.output()}")

    def trace(self, request_id: int) -> dict[str, Any]:
        return requests.get(f"{self.base}/ai_hint/trace/", params={"request_id": request_id}, headers=self.auth,
                            timeout=10).json()


def stack_environment(database_url: str, log_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the stack's processes: only what the service reads."""
    queue = f"hint_test_{uuid.uuid4().hex[:10]}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": database_url,
        "RABBITMQ_URL": RABBITMQ_URL,
        "TASK_QUEUE": queue,
        "PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),  # the worker host's probe and metrics
        "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "worker-metrics"),
        "HINT_TEST_LOG_DIR": str(log_dir),
        "HINT_API_TOKEN": f"stack-token-{uuid.uuid4().hex}",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


@contextmanager
def production_stack(log_dir: Path, workers: int = 1, threads: int = 8, exclusive: bool = False, **extra: str):
    """PostgreSQL database + RabbitMQ queue + migrated schema + web + worker processes.

    `exclusive`: the caller stops PostgreSQL or RabbitMQ (see `servers_lock`).
    """
    with servers_lock(exclusive), postgres_database() as url:
        env = stack_environment(url, log_dir, **extra)
        stack = Stack(env)
        try:
            stack.migrate()
            stack.start_web()
            for _ in range(workers):
                stack.start_worker(threads=threads)
            yield stack
        finally:
            stack.stop_all()
            delete_queues(env["TASK_QUEUE"])
