"""The schema's versions, and `migrate()`, which applies them (`python -m scripts.migrate`).

Versioned and idempotent: each numbered file here runs once, recorded in the
`schema_migration` table; running it again applies nothing. On PostgreSQL an advisory
lock keeps two simultaneous releases from migrating at the same time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playhouse.migrations import Runner

from database import is_sqlite, make_database

MIGRATIONS_DIR = Path(__file__).resolve().parent
LOCK_ID = 715_002  # arbitrary, constant: "the hint service is migrating"


@contextmanager
def _runner(database_url: str, lock: bool) -> Iterator[Runner]:
    """peewee's migration runner on its own connection (not the application's pool)."""
    sqlite = is_sqlite(database_url)
    if sqlite:
        Path(database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    database = make_database(database_url, max_connections=1)
    database.connect(reuse_if_open=True)
    locked = lock and not sqlite
    try:
        if locked:
            database.execute_sql("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        yield Runner(database, str(MIGRATIONS_DIR))
    finally:
        if locked:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
        database.close()


def migrate(database_url: str, command: str = "up") -> list[str]:
    """Run `command` (up, status, down); the names applied or reverted, or for status one
    line per migration (`[x] name` applied, `[ ] name` pending)."""
    with _runner(database_url, lock=command != "status") as runner:
        if command == "status":
            return [f"[{'x' if m.applied else ' '}] {m.name}" for m in runner.status()]
        if command == "down":
            return runner.down()
        return runner.up()


def pending(database_url: str) -> list[str]:
    """The migrations not applied yet: the schema is behind the code until they are."""
    with _runner(database_url, lock=False) as runner:
        return [m.name for m in runner.status() if not m.applied]
