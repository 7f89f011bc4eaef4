"""Retention: `python -m scripts.prune --older-than DAYS [--dry-run] [--batch N]`.

Deletes finished requests created more than DAYS days ago with every row that references
them (candidates, phases with their prompts and responses, hint, reflection, claims, kept
attempts), in short transactions of N requests; requests still running are never deleted
and the pool of known-correct programs is not touched. Their counts, latency, tokens and
cost are first added to `daily_figure` (per day, problem, hint type, engine, outcome), so
cost reports and dashboards keep their history. `--dry-run` prints what would be deleted
and deletes nothing. See docs/maintenance.md (with a cron example).
"""

from __future__ import annotations

import argparse
import sys
import time

from maintenance import PRUNE_BATCH, MaintenanceError, prune
from runtime import bind_database
from settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--older-than", type=float, required=True, metavar="DAYS",
                        help="delete finished requests created more than DAYS days ago")
    parser.add_argument("--dry-run", action="store_true", help="print what would be deleted; delete nothing")
    parser.add_argument("--batch", type=int, default=PRUNE_BATCH, help="requests per transaction")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be 1 or more")
    bind_database(load_settings())
    started = time.monotonic()
    try:
        report = prune(args.older_than, dry_run=args.dry_run, batch=args.batch)
    except MaintenanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "would delete" if report.dry_run else "deleted"
    print(f"{verb} {report.requests} finished request(s) created before {report.cutoff.isoformat()} "
          f"({time.monotonic() - started:.2f} s, {report.batches} batch(es))")
    for table, rows in sorted(report.rows.items()):
        print(f"  {table:<28} {rows:>10}")
    if report.days:
        print(f"days: {report.days[0]} .. {report.days[-1]} ({len(report.days)})")
    if not report.dry_run:
        print(f"daily_figure rows added to: {report.figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
