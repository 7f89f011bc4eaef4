"""Helpers shared by the console's fixtures and its scripts (screenshots, benchmark):
explicit settings, an application on a chosen database, a loopback server, the browser."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from waitress.server import create_server

from database import make_database
from hint_api import create_app
from migrations import migrate
from models import db
from settings import Settings, load_settings
from tests.helpers import require

CONSOLE_TOKEN = "console-token-0123456789abcdef"
SECOND_CONSOLE_TOKEN = "console-token-second-abcdef0123"
API_TOKEN = "api-token-0123456789abcdef-xyz"
PSEUDONYM_KEY = "pseudonym-key-0123456789abcdef-0123456789"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def bound_to(url: str) -> Iterator[None]:
    """Bind the models to `url` (migrated) for a while, then back to what they were bound to."""
    previous = db.obj
    migrate(url)
    database = make_database(url)
    db.initialize(database)
    try:
        yield
    finally:
        if not database.is_closed():
            database.close()
        db.initialize(previous)


def make_settings(database_url: str, **env: str) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "HINT_CONSOLE_TOKENS": f"{CONSOLE_TOKEN},{SECOND_CONSOLE_TOKEN}",
            "HINT_API_TOKEN": API_TOKEN,
            "HINT_CONSOLE_PSEUDONYM_KEY": PSEUDONYM_KEY,
            **env,
        }
    )


def make_app(database_url: str, **env: str) -> Flask:
    app = create_app(make_settings(database_url, **env))
    app.config["TESTING"] = True
    return app


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` with waitress on a free loopback port, in a thread; yields the base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


def chromium_or_skip() -> None:
    require(
        Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make install` installs Debian's chromium as root"
    )


def postgres_or_skip() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        require(False, "PostgreSQL is not reachable at 127.0.0.1:5432")
