"""The one settings object, read from the environment (and `.env.local` / `.env` when present).

Every variable the service reads is read here, once, and documented in `.env.example`.
A bad value stops the process at start with a message naming the variable; a variable
that looks like one of ours but is not (`DATABSE_URL`) is reported by
`unknown_variables`. With nothing set the service runs on its embedded defaults: SQLite
in `var/`, an in-process broker and the LLM-free engine.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from urllib.parse import quote, urlsplit

from dotenv import load_dotenv

from hint_core.errors import ConfigError
from hint_core.lifecycle import Step
from hint_core.problem_source import Execution
from hint_core.sandbox.layers import parse_layers

ROOT = Path(__file__).resolve().parent

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Later steps run first, so requests already started finish before new ones begin.
DEFAULT_PRIORITIES: Mapping[Step, int] = {
    Step.RUN_STUDENT_PROGRAM: 1,
    Step.QUERY_FOR_ENHANCED_PROGRAMS: 1,
    Step.RUN_ENHANCED_PROGRAM: 2,
    Step.ADD_REFLECTION: 2,
    Step.GENERATE_HINT: 3,
    Step.RETURN_HINT: 4,
}

# A variable starting with one of these is meant for this service: one that is not read
# is most likely a typo, and is reported at start.
OUR_PREFIXES = (
    "DATABASE_", "DB_", "HINT_", "RABBITMQ_", "QUEUE_", "TASK_", "OPENAI_", "AZURE_OPENAI_", "AI_CONFIG",
    "SANDBOX_", "BACKEND_ORCHESTRATION_", "PROBLEM_", "REFLECTION_", "REQUEST_", "SWEEP_", "STALL_", "LEASE_",
    "LOG_", "WORKER_", "PROMETHEUS_", "REMOTE_", "EXECUTION", "CALLBACK_", "MAX_PENDING",
) + tuple(f"{step.upper()}_" for step in Step)

# What the original hint backend reads and this service does not, and why: reported once at
# start, so an operator who brings the original's env file knows nothing was lost.
ORIGINAL_UNUSED = {
    "DJANGO_SECRET_KEY": "no Django here: the API keeps no sessions or signed cookies",
    "DJANGO_DEBUG": "no Django here; LOG_LEVEL=DEBUG gives detail",
    "DJANGO_ALLOWED_HOSTS": "no Django here; HOST chooses the address the API listens on",
    "DJANGO_CORS_ALLOWED_ORIGINS": "no browser calls this API (only orchestration does)",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "no browser calls this API (only orchestration does)",
    "BACKEND_ORCHESTRATION_BASE_URL": "every call to orchestration uses its own full URL",
    "MAX_TRIES": "each step has its own retries (hint_actors/pipeline.py); outages never count",
    "RETRY_PRIORITY": "a retried step keeps its own step's priority",
    "IN_DOCKER": ".env.local and .env never override the environment, in a container or not",
    "LOG_FILE_PREFIX": "logs go to standard output, for the process manager to keep",
    "APP_START_TIME": "logs go to standard output, for the process manager to keep",
}


class LogFormat(StrEnum):
    """How every process writes its log lines (logs.py, docs/operations.md "Logs")."""

    TEXT = "text"  # one human-readable line: time, level, logger, process, message
    JSON = "json"  # one JSON object per line, for log shippers (Loki, Elasticsearch, CloudWatch)


class CallbackDetail(StrEnum):
    """What `other_hint_data` of the callback holds (docs/security.md: who sees what)."""

    FULL = "full"  # every stored artifact, as the original backend sent (orchestration shows it to no student)
    SUMMARY = "summary"  # ids, engines, models, verdicts and costs: no programs, prompts, tests or explanation


# The backlog (requests accepted and not finished) beyond which add_request answers 429:
# what a default deployment (2 worker replicas x 2 processes x 32 threads, ~10 s of LLM
# per request, so ~12 requests/s) finishes in about 80 s, far inside the 600 s deadline
# (docs/security.md, "Backpressure"; docs/benchmarks.md, "flood").
DEFAULT_MAX_PENDING = 1000


class SettingsError(ConfigError):
    """A variable has a bad value; the message names it."""


class _Reader:
    """Typed access to the environment that remembers every name it was asked for."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.read: set[str] = set()

    def text(self, name: str, default: str | None = None) -> str | None:
        self.read.add(name)
        value = self.env.get(name, "").strip()
        return value or default

    def int(self, name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
        return value

    def seconds(self, name: str, default: float, zero_ok: bool = False) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            which = "zero or more" if zero_ok else "a positive number of"
            raise SettingsError(f"{name} must be {which} seconds, got {raw!r}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        for choice in choices:
            if raw.lower() == choice.lower():
                return choice
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")

    def layers(self, name: str, default: frozenset[str] = frozenset()) -> frozenset[str]:
        """Sandbox layer names (hint_core/sandbox/layers.py); "none" explicitly asks for none."""
        raw = self.text(name)
        if raw is None:
            return default
        if raw.strip().lower() == "none":
            return frozenset()
        try:
            return parse_layers(raw, name)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list."""
        return tuple(item.strip() for item in (self.text(name) or "").split(",") if item.strip())

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def networks(self, name: str) -> tuple[IPv4Network | IPv6Network, ...]:
        """Addresses and networks (`10.0.0.5`, `10.0.0.0/24`, `::1`)."""
        try:
            return tuple(ip_network(item, strict=False) for item in self.items(name))
        except ValueError as exc:
            raise SettingsError(f"{name} must list addresses or networks (10.0.0.5, 10.0.0.0/24): {exc}") from None

    def url(self, name: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
        value = self.text(name)
        if value is not None and (urlsplit(value).scheme not in schemes or not urlsplit(value).netloc):
            raise SettingsError(f"{name} must be an {' or '.join(schemes)} URL, got {value!r}")
        return value


def _database_url(r: _Reader) -> str:
    # HINT_BACKEND_DATABASE_URL is the original hint backend's name for the same thing.
    url = r.text("DATABASE_URL") or r.text("HINT_BACKEND_DATABASE_URL")
    parts = {name: r.text(name) for name in ("DB_NAME", "DB_USER", "DB_USERNAME", "DB_PASSWORD", "DB_HOST", "DB_PORT")}
    if url:
        if urlsplit(url).scheme not in ("sqlite", "postgres", "postgresql"):
            raise SettingsError(f"DATABASE_URL must start with postgresql:// or sqlite:///, got {url.split(':')[0]!r}")
        return url
    if parts["DB_NAME"]:
        user = parts["DB_USER"] or parts["DB_USERNAME"] or "postgres"
        password = parts["DB_PASSWORD"] or ""
        # Percent-encoded here, decoded again by database.make_database: a password may hold @ : /
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        port = r.int("DB_PORT", 5432, 1, 65535)
        return f"postgresql://{auth}@{parts['DB_HOST'] or '127.0.0.1'}:{port}/{quote(parts['DB_NAME'], safe='')}"
    return f"sqlite:///{ROOT / 'var' / 'hint.db'}"


CONSOLE_TOKEN_MIN_CHARS = 16


def _console_tokens(r: _Reader) -> tuple[str, ...]:
    """HINT_CONSOLE_TOKENS: comma-separated instructor tokens; none configured keeps the console closed."""
    tokens = r.items("HINT_CONSOLE_TOKENS")
    if any(len(t) < CONSOLE_TOKEN_MIN_CHARS for t in tokens):
        raise SettingsError(f"HINT_CONSOLE_TOKENS: each token needs {CONSOLE_TOKEN_MIN_CHARS}+ characters")
    # The two credentials open different doors: one token must never open both.
    if set(tokens) & set(r.items("HINT_API_TOKEN")):
        raise SettingsError("HINT_CONSOLE_TOKENS must not contain a token of HINT_API_TOKEN")
    return tokens


def _console_key(r: _Reader, name: str) -> str | None:
    key = r.text(name)
    if key and len(key) < 32:
        raise SettingsError(f"{name} needs at least 32 characters, got {len(key)}")
    return key


PRODUCTION_SANDBOX = frozenset({"landlock", "seccomp"})


def _production(r: _Reader) -> bool:
    """PostgreSQL and RabbitMQ configured: a deployment, not a laptop."""
    return _database_url(r).startswith("postgres") and _rabbitmq_url(r) is not None


def _rabbitmq_url(r: _Reader) -> str | None:
    url = r.url("RABBITMQ_URL", ("amqp", "amqps"))
    host = r.text("RABBITMQ_HOST")
    if url:
        return url
    if host:
        return f"amqp://guest:guest@{host}:5672/"
    return None


@dataclass(frozen=True)
class Settings:
    # Where things are stored and queued.
    database_url: str = field(repr=False)  # may hold a password: see `database_label`
    db_max_connections: int
    rabbitmq_url: str | None = field(repr=False)  # None: the in-process broker
    task_queue: str
    queue_max_priority: int
    priorities: Mapping[Step, int]
    worker_threads: int  # of the embedded worker
    # Metrics and probes of the worker (docs/operations.md "Metrics", "Probes").
    worker_metrics_port: int  # each worker host's /metrics, /healthz, /readyz; 0: none
    worker_metrics_host: str
    metrics_dir: Path  # prometheus_client's multiprocess files of the worker processes
    # The LLM.
    openai_api_key: str | None = field(repr=False)
    openai_base_url: str | None
    azure_openai_endpoint: str | None
    openai_api_version: str | None
    ai_config_path: Path
    # Problems, program runs, and orchestration.
    problem_bank_dir: Path
    problems_url: str | None
    save_hint_url: str | None
    callback_token: str | None = field(repr=False)  # sent to orchestration with every call
    execution: Execution
    execute_url: str | None
    execution_result_url: str | None
    remote_concurrency: int  # remote runs in flight per process; more wait in the queue
    remote_deadline_seconds: float
    sandbox_require: frozenset[str]
    sandbox_disable: frozenset[str]
    sandbox_uid_base: int
    sandbox_tmp_dir: Path | None
    # The API.
    api_tokens: tuple[str, ...] = field(repr=False)  # HINT_API_TOKEN: one, or several while rotating
    api_allow_from: tuple[IPv4Network | IPv6Network, ...]  # orchestration's addresses: its calls need no token
    api_allow_anonymous: bool  # an API listening beyond loopback with no token nor allow-list: said explicitly
    host: str
    port: int
    callback_detail: CallbackDetail
    max_pending_requests: int
    log_level: str
    log_format: LogFormat
    # Timing.
    reflection_wait_seconds: float
    request_deadline_seconds: float
    sweep_interval_seconds: float
    stall_seconds: float
    lease_seconds: float
    # Variables that look like ours and are not read (typos), with the likely intended
    # name, and the original backend's variables this service does not use: both warned
    # about at start by every process.
    # The console (hint_api/console, docs/console.md).
    console_tokens: tuple[str, ...] = field(repr=False)
    console_secret_key: str = field(repr=False)  # signs the console's session cookie
    console_pseudonym_key: str | None = field(repr=False)  # keys the export's pseudonymous ids
    unknown_variables: tuple[str, ...] = ()
    unused_variables: tuple[str, ...] = ()

    @property
    def embedded_broker(self) -> bool:
        return self.rabbitmq_url is None

    @property
    def runs_remotely(self) -> bool:
        """Programs of problems outside the local bank (or of all, EXECUTION=remote) can be
        run by orchestration's problem handler."""
        return self.execution is not Execution.LOCAL and bool(self.execute_url and self.execution_result_url)

    @property
    def database_label(self) -> str:
        """The database for a log line: scheme, host and name, never the password."""
        parts = urlsplit(self.database_url)
        if parts.scheme == "sqlite":
            return f"sqlite:{parts.path}"
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"

    def priority(self, step: Step) -> int:
        return self.priorities[step]

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line, a message or a response."""
        values = [self.openai_api_key, self.callback_token, *self.api_tokens, *self.console_tokens,
                  self.console_secret_key, self.console_pseudonym_key]
        values += [urlsplit(u).password for u in (self.database_url, self.rabbitmq_url or "")]
        return tuple(v for v in values if v)


def read_environment() -> dict[str, str]:
    """The process environment, completed by `.env.local` then `.env` (neither overrides
    what the environment already says)."""
    load_dotenv(ROOT / ".env.local")
    load_dotenv(ROOT / ".env")
    return dict(os.environ)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from a mapping (the process environment, see read_environment, by default)."""
    r = _Reader(read_environment() if env is None else env)
    max_priority = r.int("QUEUE_MAX_PRIORITY", 5, 1, 255)
    priorities = {
        step: r.int(f"{step.upper()}_PRIORITY", min(DEFAULT_PRIORITIES[step], max_priority), 0, max_priority)
        for step in Step
    }
    tmp_dir = r.text("SANDBOX_TMP_DIR")
    settings = Settings(
        database_url=_database_url(r),
        db_max_connections=r.int("DB_MAX_CONNECTIONS", 8, 1, 1000),
        rabbitmq_url=_rabbitmq_url(r),
        task_queue=r.text("TASK_QUEUE", "task_queue"),
        queue_max_priority=max_priority,
        priorities=priorities,
        worker_threads=r.int("WORKER_THREADS", 8, 1, 1024),
        worker_metrics_port=r.int("WORKER_METRICS_PORT", 9191, 0, 65535),
        worker_metrics_host=r.text("WORKER_METRICS_HOST", "0.0.0.0"),
        metrics_dir=Path(r.text("PROMETHEUS_MULTIPROC_DIR") or Path(tempfile.gettempdir()) / "hint-prometheus"),
        openai_api_key=r.text("OPENAI_API_KEY"),
        openai_base_url=r.url("OPENAI_BASE_URL"),
        azure_openai_endpoint=r.url("AZURE_OPENAI_ENDPOINT"),
        openai_api_version=r.text("OPENAI_API_VERSION"),
        ai_config_path=Path(r.text("AI_CONFIG_PATH") or ROOT / "ai_config" / "ai_config.yaml"),
        problem_bank_dir=Path(r.text("PROBLEM_BANK_DIR") or ROOT / "hint_core" / "problem_bank"),
        problems_url=r.url("BACKEND_ORCHESTRATION_GET_PROBLEMS_URL"),
        save_hint_url=r.url("BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL"),
        callback_token=r.text("BACKEND_ORCHESTRATION_TOKEN"),
        execution=Execution(r.choice("EXECUTION", Execution.AUTO.value, tuple(Execution))),
        execute_url=r.url("BACKEND_ORCHESTRATION_EXECUTE_CODE_URL"),
        execution_result_url=r.url("BACKEND_ORCHESTRATION_GET_EXECUTION_RESULT_URL"),
        remote_concurrency=r.int("REMOTE_EXECUTION_CONCURRENCY", 4, 1, 256),
        remote_deadline_seconds=r.seconds("REMOTE_EXECUTION_DEADLINE_SECONDS", 60.0),
        # In production (PostgreSQL and RabbitMQ) programs never run without Landlock and
        # seccomp unless the operator lowers it (SANDBOX_REQUIRE=none, or other layers).
        sandbox_require=r.layers("SANDBOX_REQUIRE", PRODUCTION_SANDBOX if _production(r) else frozenset()),
        sandbox_disable=r.layers("SANDBOX_DISABLE"),
        sandbox_uid_base=r.int("SANDBOX_UID_BASE", 40000, 1000, 2**31 - 100_000),
        sandbox_tmp_dir=Path(tmp_dir) if tmp_dir else None,
        api_tokens=r.items("HINT_API_TOKEN"),
        api_allow_from=r.networks("HINT_API_ALLOW_FROM"),
        api_allow_anonymous=r.flag("HINT_API_ALLOW_ANONYMOUS", False),
        host=r.text("HOST", "127.0.0.1"),
        port=r.int("PORT", 8001, 1, 65535),
        callback_detail=CallbackDetail(r.choice("CALLBACK_DETAIL", CallbackDetail.FULL.value, tuple(CallbackDetail))),
        max_pending_requests=r.int("MAX_PENDING_REQUESTS", DEFAULT_MAX_PENDING, 1, 10_000_000),
        log_level=r.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
        log_format=LogFormat(r.choice("LOG_FORMAT", LogFormat.TEXT.value, tuple(LogFormat))),
        reflection_wait_seconds=r.seconds("REFLECTION_WAIT_SECONDS", 60.0, zero_ok=True),
        request_deadline_seconds=r.seconds("REQUEST_DEADLINE_SECONDS", 600.0),
        sweep_interval_seconds=r.seconds("SWEEP_INTERVAL_SECONDS", 5.0),
        stall_seconds=r.seconds("STALL_SECONDS", 60.0),
        lease_seconds=r.seconds("LEASE_SECONDS", 15.0),
        console_tokens=_console_tokens(r),
        # Unset: random per process, so console sessions end with the process.
        console_secret_key=_console_key(r, "HINT_CONSOLE_SECRET_KEY") or secrets.token_hex(32),
        console_pseudonym_key=_console_key(r, "HINT_CONSOLE_PSEUDONYM_KEY"),
    )
    _check_execution(settings)
    _check_exposure(settings)
    if settings.database_url.startswith("postgres") and settings.embedded_broker:
        raise SettingsError(
            "DATABASE_URL (or DB_NAME) names PostgreSQL but neither RABBITMQ_URL nor RABBITMQ_HOST is set: "
            "a production database with the in-process broker would run workers inside the web process"
        )
    if settings.sandbox_require & settings.sandbox_disable:
        both = ", ".join(sorted(settings.sandbox_require & settings.sandbox_disable))
        raise SettingsError(f"SANDBOX_REQUIRE and SANDBOX_DISABLE both name {both}")
    unused = tuple(f"{name}: {why}" for name, why in ORIGINAL_UNUSED.items() if name in r.env)
    return replace(settings, unknown_variables=_unknown(r.env, r.read | set(ORIGINAL_UNUSED)), unused_variables=unused)


def _check_exposure(settings: Settings) -> None:
    """Hidden tests and other students' data must not be one misconfiguration away."""
    if _loopback(settings.host) or settings.api_tokens or settings.api_allow_from or settings.api_allow_anonymous:
        return
    raise SettingsError(
        f"HOST={settings.host} makes the API reachable from other machines, but neither HINT_API_TOKEN nor "
        "HINT_API_ALLOW_FROM is set; set one of them (or HINT_API_ALLOW_ANONYMOUS=true to accept this)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable


def _check_execution(settings: Settings) -> None:
    urls = {"BACKEND_ORCHESTRATION_EXECUTE_CODE_URL": settings.execute_url,
            "BACKEND_ORCHESTRATION_GET_EXECUTION_RESULT_URL": settings.execution_result_url}
    missing = [name for name, url in urls.items() if not url]
    if len(missing) == 1:
        raise SettingsError(f"{missing[0]} must be set too: remote execution needs both execution URLs")
    if settings.execution is Execution.REMOTE and (missing or not settings.problems_url):
        needed = missing + ([] if settings.problems_url else ["BACKEND_ORCHESTRATION_GET_PROBLEMS_URL"])
        raise SettingsError(f"EXECUTION=remote needs {', '.join(needed)}")


def _unknown(env: Mapping[str, str], known: set[str]) -> tuple[str, ...]:
    """Variables not read that look like ours: one of our prefixes, or close to a name we
    read (`DATABSE_URL`); each with the name it was probably meant to be."""
    unknown = []
    for name in sorted(env):
        if name in known:
            continue
        close = get_close_matches(name, known, n=1, cutoff=0.8)
        if close or name.startswith(OUR_PREFIXES):
            unknown.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return tuple(unknown)


def warn_unknown(settings: Settings, log: logging.Logger) -> None:
    """One line per variable that looks like ours but is not read (a typo, most likely), and
    per variable of the original backend that this service does not need."""
    for name in settings.unknown_variables:
        log.warning("environment variable %s is not used by this service; ignored", name)
    for line in settings.unused_variables:
        log.info("environment variable %s (of the original hint backend) is not used: %s", *line.split(": ", 1))
