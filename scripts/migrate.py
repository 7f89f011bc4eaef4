"""Apply pending schema migrations: `python -m scripts.migrate [status|up|down]`.

Versioned and idempotent: each file in `migrations/` runs once, recorded in the
`schema_migration` table; running it again applies nothing (see migrations/__init__.py).
"""

from __future__ import annotations

import argparse
import sys

from migrations import migrate
from settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="up", choices=["up", "status", "down"])
    args = parser.parse_args(argv)
    names = migrate(load_settings().database_url, args.command)
    if args.command == "status":
        print("\n".join(names))
    else:
        print(f"{args.command}: " + (", ".join(names) if names else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
