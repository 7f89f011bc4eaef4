"""Apply pending schema migrations: `python -m scripts.migrate [status|up|down]`.

Versioned and idempotent: each file in `migrations/` runs once, recorded in the
`schema_migration` table; running it again applies nothing (see migrations/__init__.py).
"""

from __future__ import annotations

import argparse
import logging
import sys

from logs import configure_logging
from migrations import migrate
from settings import load_settings, warn_unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="up", choices=["up", "status", "down"])
    args = parser.parse_args(argv)
    settings = load_settings()  # the release step refuses a bad configuration too
    configure_logging(settings)
    warn_unknown(settings, logging.getLogger("hint.migrate"))
    names = migrate(settings.database_url, args.command)
    if args.command == "status":
        print("\n".join(names))
    else:
        print(f"{args.command}: " + (", ".join(names) if names else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
