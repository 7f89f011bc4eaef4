"""The console's SQL gives the same answers on PostgreSQL as on SQLite (dialect branches:
seconds between timestamps, percentiles, error causes, JSON of the stored runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hint_api.console import queries
from hint_api.console.export import ExportOptions, row
from hint_api.console.filters import Filters, Outcome
from hint_api.console.story import build_story
from models import db
from tests.console.sample_data import populate
from tests.console.support import bound_to, postgres_or_skip
from tests.production import postgres_database, servers_lock

NOW = dt.datetime(2026, 6, 15, 12, 0, 0, 250000)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def snapshot(url: str) -> dict[str, Any]:
    """Everything the console computes over the sample, as plain data."""
    with bound_to(url), db.connection_context():
        sample = populate(NOW)
        since = Filters(date_from=sample.first_day)
        board = queries.dashboards(since)
        pages = {
            str(f): [
                (r.request_id, r.outcome.value, r.latency_seconds) for r in queries.list_requests(f).rows
            ]
            for f in (
                Filters(),
                Filters(problem="factorial"),
                Filters(outcome=Outcome.FALLBACK),
                Filters(engine="offline", hint_type="optimize"),
                Filters(date_to=sample.first_day),
            )
        }
        cursor = queries.list_requests(Filters(), page_size=3).older
        second = [r.request_id for r in queries.list_requests(Filters(), older_than=cursor, page_size=3).rows]
        exported = [
            row(r, ExportOptions(strip_comments=True)) for r in queries.export_records(Filters(), chunk=2)
        ]
        story = build_story(queries.stored_request(1001))
        return _rounded(
            {
                "dashboards": {k: v for k, v in vars(board).items()},
                "pages": pages,
                "second_page": second,
                "export": exported,
                "timeline": [(e.label, e.since_start) for e in story.timeline],
                "selection": story.selection,
                "backend": type(db.obj).__name__,
            }
        )


def test_postgresql_and_sqlite_agree(tmp_path):
    postgres_or_skip()
    expected = snapshot(f"sqlite:///{tmp_path / 'same.db'}")
    with servers_lock(exclusive=False), postgres_database() as url:
        got = snapshot(url)
    assert (expected.pop("backend"), got.pop("backend")) == ("SqliteDatabase", "PooledPostgres")
    assert got["dashboards"]["latency"] == {50: 9.0, 90: 40.0, 95: 40.0, 99: 40.0}
    for key in expected:
        assert got[key] == expected[key], key
