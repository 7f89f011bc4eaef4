"""Shared fixtures, and one marker per kind of test (the folder a test lives in):

- `unit`: domain logic, called directly (no database, no broker);
- `pipeline`: the whole service in this process: a runtime built from explicit settings
  (a throwaway SQLite file, the in-process broker), the Flask test client and a
  Dramatiq worker in this process;
- `stack`: the production stack as real processes (waitress, `dramatiq hint_actors`,
  PostgreSQL, RabbitMQ), see tests/production.py;
- `crash`: the production stack while workers are killed and servers restart;
- `tools`: the command-line scripts;
- `console`: the instructors' console, its pages in a real browser included.

Nothing here reads or changes the environment: every runtime is built from settings the
test states, and what a test replaces (the LLM, the executor) it hands to `build()`.
Under CI=true a missing PostgreSQL or RabbitMQ is a failure, never a silent skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hint_actors import worker as hint_worker
from hint_api import create_app
from hint_core.engines import Services
from hint_core.sandbox import ForkServerExecutor
from migrations import migrate
from runtime import Runtime, build, make_services
from settings import Settings, load_settings
from tests.fake_openai import FakeOpenAI
from tests.helpers import SANDBOX, TEST_TOKEN, CallbackReceiver, api_client, require_service

KINDS = ("unit", "pipeline", "stack", "crash", "tools", "console")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        kind = Path(str(item.fspath)).parent.name
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))


# Defaults of the in-process tests: the sweep runs only when a test calls it, and the
# reflection wait is long enough that no test races it by accident.
TEST_ENV = {
    "REFLECTION_WAIT_SECONDS": "30",
    "REQUEST_DEADLINE_SECONDS": "120",
    "SWEEP_INTERVAL_SECONDS": "3600",
    "LEASE_SECONDS": "3",
    "HINT_API_TOKEN": TEST_TOKEN,  # a redelivery that waits for a lease looks again within about a second
    "LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "hint.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    path = tmp_path / "hint.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings of an in-process test: TEST_ENV, its own database, and what the test adds."""

    def make(**env: str) -> Settings:
        return load_settings({"DATABASE_URL": database_url, **TEST_ENV, **env})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def executor() -> ForkServerExecutor:
    """The session's one sandbox (its fork server starts on first use)."""
    return SANDBOX


def services_for(llm_base_url: str | None = None, **env: str) -> Services:
    """The repository's problems and ai_config, as the runtime builds them; the LLM at
    `llm_base_url`, or offline; `env` adds settings (orchestration's URLs, say)."""
    llm = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": llm_base_url} if llm_base_url else {}
    svc = make_services(load_settings({**llm, **env}))
    if svc.llm is not None:
        svc.llm.backoff_initial, svc.llm.backoff_max = 0.01, 0.2  # fast retries in tests
    return svc


@pytest.fixture(scope="session")
def offline_services() -> Services:
    return services_for(None)


@pytest.fixture
def services(offline_services: Services) -> Services:
    """The services of `runtime`: offline by default; a module overrides this fixture."""
    return offline_services


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def llm_services(fake_llm: FakeOpenAI) -> Services:
    """Services whose LLM is the fake server on loopback."""
    return services_for(fake_llm.base_url)


@pytest.fixture
def runtime(settings: Settings, services: Services, executor: ForkServerExecutor) -> Runtime:
    return build(settings, services=services, executor=executor)


@pytest.fixture
def app(runtime: Runtime):
    app = create_app(runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    """The API as orchestration calls it, with the tests' token."""
    return api_client(app)


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[object]:
    """A Dramatiq worker in this process; `helpers.join(runtime)` waits for the pipeline."""
    started = hint_worker.start(runtime, threads=4)
    yield started
    started.stop()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """A fake orchestration that records the callbacks it receives (answers 200)."""
    receiver = CallbackReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def production_servers() -> None:
    """The local PostgreSQL and RabbitMQ the production-stack tests run on (a failure with
    CI=true, a skip elsewhere: tests/helpers.require_service)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("RabbitMQ", "127.0.0.1", 5672)
