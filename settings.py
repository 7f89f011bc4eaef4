"""The one settings object, read from the environment (and `.env.local` / `.env` when present).

Every variable is documented in `.env.example`. With nothing set the service runs on its
embedded defaults: SQLite in `var/`, an in-process broker and the LLM-free engine.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import quote

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent


class SettingsError(ValueError):
    pass


def _int(env: dict[str, str], name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _database_url(env: dict[str, str]) -> str:
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    if env.get("DB_NAME"):
        user = env.get("DB_USER") or env.get("DB_USERNAME") or "postgres"
        password = env.get("DB_PASSWORD", "")
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        host = env.get("DB_HOST", "127.0.0.1")
        port = env.get("DB_PORT", "5432")
        return f"postgresql://{auth}@{host}:{port}/{env['DB_NAME']}"
    return f"sqlite:///{ROOT / 'var' / 'hint.db'}"


def _rabbitmq_url(env: dict[str, str]) -> str | None:
    if env.get("RABBITMQ_URL"):
        return env["RABBITMQ_URL"]
    if env.get("RABBITMQ_HOST"):
        return f"amqp://guest:guest@{env['RABBITMQ_HOST']}:5672/"
    return None


CONSOLE_TOKEN_MIN_CHARS = 16


def _console_tokens(env: dict[str, str]) -> tuple[str, ...]:
    """HINT_CONSOLE_TOKENS: comma-separated instructor tokens; none configured keeps the console closed."""
    tokens = tuple(t.strip() for t in env.get("HINT_CONSOLE_TOKENS", "").split(",") if t.strip())
    if any(len(t) < CONSOLE_TOKEN_MIN_CHARS for t in tokens):
        raise SettingsError(f"HINT_CONSOLE_TOKENS: each token needs {CONSOLE_TOKEN_MIN_CHARS}+ characters")
    # The two credentials open different doors: one token must never open both.
    if env.get("HINT_API_TOKEN") and env["HINT_API_TOKEN"] in tokens:
        raise SettingsError("HINT_CONSOLE_TOKENS must not contain HINT_API_TOKEN")
    return tokens


def _console_key(env: dict[str, str], name: str) -> str | None:
    key = env.get(name, "").strip()
    if key and len(key) < 32:
        raise SettingsError(f"{name} needs at least 32 characters, got {len(key)}")
    return key or None


@dataclass(frozen=True)
class Priorities:
    """RabbitMQ message priorities per step (higher runs first, at most the queue maximum)."""

    run_student_program: int = 1
    query_for_enhanced_programs: int = 1
    run_enhanced_program: int = 2
    add_reflection: int = 2
    generate_hint: int = 3
    return_hint: int = 4


@dataclass(frozen=True)
class Settings:
    database_url: str
    db_max_connections: int
    rabbitmq_url: str | None  # None: the in-process broker
    task_queue: str
    queue_max_priority: int
    priorities: Priorities
    worker_threads: int
    openai_api_key: str | None = field(repr=False)
    openai_base_url: str | None
    azure_openai_endpoint: str | None
    openai_api_version: str | None
    ai_config_path: Path
    problem_bank_dir: Path
    problems_url: str | None
    save_hint_url: str | None
    callback_token: str | None = field(repr=False)
    hint_api_token: str | None = field(repr=False)
    reflection_wait_seconds: float
    request_deadline_seconds: float
    sweep_interval_seconds: float
    stall_seconds: float
    port: int
    log_level: str
    # The console (hint_api/console, docs/console.md).
    console_tokens: tuple[str, ...] = field(repr=False)
    console_secret_key: str = field(repr=False)  # signs the console's session cookie
    console_pseudonym_key: str | None = field(repr=False)  # keys the export's pseudonymous ids

    @property
    def embedded_broker(self) -> bool:
        return self.rabbitmq_url is None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from a mapping (the process environment by default)."""
    if env is None:
        # .env.local wins over .env; neither overrides what the environment already says.
        load_dotenv(ROOT / ".env.local")
        load_dotenv(ROOT / ".env")
        env = dict(os.environ)
    max_priority = _int(env, "QUEUE_MAX_PRIORITY", 5, 1, 255)
    defaults = Priorities()
    priorities = Priorities(
        **{
            name: _int(env, f"{name.upper()}_PRIORITY", min(getattr(defaults, name), max_priority), 0, max_priority)
            for name in Priorities.__dataclass_fields__
        }
    )
    return Settings(
        database_url=_database_url(env),
        db_max_connections=_int(env, "DB_MAX_CONNECTIONS", 8, 1),
        rabbitmq_url=_rabbitmq_url(env),
        task_queue=env.get("TASK_QUEUE") or "task_queue",
        queue_max_priority=max_priority,
        priorities=priorities,
        worker_threads=_int(env, "WORKER_THREADS", 8, 1),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        azure_openai_endpoint=env.get("AZURE_OPENAI_ENDPOINT") or None,
        openai_api_version=env.get("OPENAI_API_VERSION") or None,
        ai_config_path=Path(env.get("AI_CONFIG_PATH") or ROOT / "ai_config" / "ai_config.yaml"),
        problem_bank_dir=Path(env.get("PROBLEM_BANK_DIR") or ROOT / "hint_core" / "problem_bank"),
        problems_url=env.get("BACKEND_ORCHESTRATION_GET_PROBLEMS_URL") or None,
        save_hint_url=env.get("BACKEND_ORCHESTRATION_SAVE_AI_HINT_URL") or None,
        callback_token=env.get("BACKEND_ORCHESTRATION_TOKEN") or None,
        hint_api_token=env.get("HINT_API_TOKEN") or None,
        reflection_wait_seconds=_float(env, "REFLECTION_WAIT_SECONDS", 60.0),
        request_deadline_seconds=_float(env, "REQUEST_DEADLINE_SECONDS", 600.0),
        sweep_interval_seconds=_float(env, "SWEEP_INTERVAL_SECONDS", 5.0),
        stall_seconds=_float(env, "STALL_SECONDS", 60.0),
        port=_int(env, "PORT", 8001, 1, 65535),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        console_tokens=_console_tokens(env),
        # Unset: random per process, so console sessions end with the process.
        console_secret_key=_console_key(env, "HINT_CONSOLE_SECRET_KEY") or secrets.token_hex(32),
        console_pseudonym_key=_console_key(env, "HINT_CONSOLE_PSEUDONYM_KEY"),
    )


@cache
def get_settings() -> Settings:
    return load_settings()
