"""Apply pending schema migrations: `python -m scripts.migrate [status|up|down]`.

Versioned and idempotent: each file in `migrations/` runs once, recorded in the
`schema_migration` table; running it again applies nothing. On PostgreSQL an advisory
lock keeps two simultaneous releases from migrating at the same time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playhouse.migrations import Runner

from models import make_database
from settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LOCK_ID = 715_002  # arbitrary, constant: "the hint service is migrating"


def migrate(database_url: str, command: str = "up") -> list[str]:
    """Run `command` against the database; returns the names applied or reverted."""
    sqlite = database_url.startswith("sqlite")
    if sqlite:
        Path(database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    database = make_database(database_url, max_connections=1)
    database.connect(reuse_if_open=True)
    try:
        if not sqlite:
            database.execute_sql("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        runner = Runner(database, str(MIGRATIONS_DIR))
        if command == "status":
            return [f"[{'x' if m.applied else ' '}] {m.name}" for m in runner.status()]
        if command == "down":
            return runner.down()
        return runner.up()
    finally:
        if not sqlite:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
        database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="up", choices=["up", "status", "down"])
    args = parser.parse_args(argv)
    names = migrate(get_settings().database_url, args.command)
    if args.command == "status":
        print("\n".join(names))
    else:
        print(f"{args.command}: " + (", ".join(names) if names else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
