"""Shared fixtures.

In-process tests run on the embedded defaults: a throwaway SQLite file, the in-process
broker and a Dramatiq worker in this process. The environment is set here, before any
project module reads it. Tests of the production stack (`tests/stack.py`) start real
processes against PostgreSQL and RabbitMQ; under CI=true those servers must be up.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="hint-tests-"))
for _name in list(os.environ):
    # The developer's own configuration must not leak into tests.
    if _name.startswith(("OPENAI_", "RABBITMQ_", "DB_", "BACKEND_ORCHESTRATION_")) or _name in (
        "DATABASE_URL", "HINT_API_TOKEN", "TASK_QUEUE", "AI_CONFIG_PATH", "PROBLEM_BANK_DIR",
    ):
        del os.environ[_name]
os.environ.update(
    DATABASE_URL=f"sqlite:///{_TMP / 'test.db'}",
    REFLECTION_WAIT_SECONDS="30",
    REQUEST_DEADLINE_SECONDS="120",
    SWEEP_INTERVAL_SECONDS="3600",  # tests call the sweep themselves
    LOG_LEVEL="INFO",
)

import dramatiq  # noqa: E402

from hint_actors import steps  # noqa: E402
from hint_core.engines import Services  # noqa: E402
from models import ALL_MODELS, db  # noqa: E402
from scripts.migrate import migrate  # noqa: E402
from settings import get_settings  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
migrate(os.environ["DATABASE_URL"])


def service_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip locally when a server is down; under CI=true a missing server is a failure."""
    if service_up(host, port):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not reachable at {host}:{port}; CI must run against the real server")
    pytest.skip(f"{name} is not running at {host}:{port}")


@pytest.fixture(autouse=True)
def clean_database():
    """Every test starts with empty tables."""
    db.connect(reuse_if_open=True)
    with db.atomic():
        for model in reversed(ALL_MODELS):
            model.delete().execute()
    yield
    if not db.is_closed():
        db.close()


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker):
    """A Dramatiq worker in this process; `broker.join(queue)` waits for the pipeline."""
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


def join(broker, timeout_ms: int = 30_000) -> None:
    broker.join(get_settings().task_queue, timeout=timeout_ms, fail_fast=False)


@pytest.fixture
def offline_services(monkeypatch):
    """Services with the LLM-free engine, whatever the environment says."""
    s = get_settings()
    svc = Services.build(s.ai_config_path, s.problem_bank_dir, None, None, None)
    monkeypatch.setattr(steps, "get_services", lambda: svc)
    return svc


@pytest.fixture
def fake_llm():
    fake = FakeOpenAI()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def llm_services(monkeypatch, fake_llm):
    """Services whose LLM is the fake server on loopback (fast backoff for tests)."""
    s = get_settings()
    svc = Services.build(s.ai_config_path, s.problem_bank_dir, None, "test-key", fake_llm.base_url)
    svc.llm.backoff_initial, svc.llm.backoff_max = 0.01, 0.2
    monkeypatch.setattr(steps, "get_services", lambda: svc)
    return svc


@pytest.fixture
def app(offline_services):
    from hint_api import create_app

    app = create_app(get_settings())
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()
