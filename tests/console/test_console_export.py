"""The research export: columns, filters, pseudonyms, comment stripping, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
from pathlib import Path

import pytest

from hint_api.console import queries
from hint_api.console.export import COLUMNS
from hint_api.console.filters import Filters
from models import Hint, Request, db
from tests.console.sample_data import BUGGY_FACTORIAL, FIXED_FACTORIAL
from tests.console.support import PSEUDONYM_KEY, bound_to, make_app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console.md"


def read_csv(answer) -> list[dict[str, str]]:
    text = answer.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]


def read_jsonl(answer) -> list[dict]:
    return [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]


def test_csv_has_one_row_per_request_with_the_documented_columns(client, bearer):
    answer = client.get("/console/export.csv", headers=bearer)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.is_streamed
    assert re.match(
        r'attachment; filename="hint-requests-\d{8}-\d{6}\.csv"', answer.headers["Content-Disposition"]
    )
    rows = {int(r["request_id"]): r for r in read_csv(answer)}
    assert sorted(rows) == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    first = rows[1001]
    assert first["problem_id"] == "factorial" and first["hint_type"] == "debug" and first["outcome"] == "hint"
    assert first["student_program"] == BUGGY_FACTORIAL and first["selected_program"] == FIXED_FACTORIAL
    assert (first["student_verdict"], first["student_correct"], first["first_failing_test"]) == (
        "wrong_answer",
        "false",
        "zero",
    )
    assert first["first_failure"] == "factorial(0) returned 0, expected 1"
    assert (first["candidates"], first["correct_candidates"], first["selected_source"]) == ("4", "2", "llm")
    assert first["hint"].startswith("What value does result hold") and first["explanation"].startswith(
        "result starts"
    )
    assert (first["engine"], first["program_models"], first["hint_model"]) == (
        "openai",
        "gpt-4.1-mini",
        "gpt-4.1",
    )
    assert (first["prompt_tokens"], first["completion_tokens"], first["llm_calls"]) == ("3292", "915", "3")
    assert first["cost"] == "" and first["leak_guard"] == "regenerated" and first["latency_seconds"] == "9.0"
    assert dt.datetime.fromisoformat(first["hint_at"]) - dt.datetime.fromisoformat(
        first["received_at"]
    ) == dt.timedelta(seconds=9)
    assert rows[1002]["outcome"] == "fallback" and rows[1002]["error"].startswith("LLM hint failed")
    assert rows[1003]["outcome"] == "failed" and rows[1003]["error"].startswith("generate_hint failed")
    assert (
        rows[1004]["outcome"] == "pending"
        and rows[1004]["hint_at"] == ""
        and rows[1004]["latency_seconds"] == ""
    )


def test_jsonl_has_the_same_rows_with_json_types(client, bearer):
    rows = {r["request_id"]: r for r in read_jsonl(client.get("/console/export.jsonl", headers=bearer))}
    assert sorted(rows) == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    assert all(tuple(r) == COLUMNS for r in rows.values())
    first = rows[1001]
    assert first["student_correct"] is False and first["cost"] is None and first["prompt_tokens"] == 3292
    assert first["latency_seconds"] == 9.0 and rows[1004]["hint"] is None


def test_exports_take_the_lists_filters(client, bearer, sample):
    failed = read_csv(client.get("/console/export.csv?outcome=failed", headers=bearer))
    assert [r["request_id"] for r in failed] == ["1003"]
    rows = read_jsonl(
        client.get(f"/console/export.jsonl?problem=factorial&date_to={sample.first_day}", headers=bearer)
    )
    assert [r["request_id"] for r in rows] == [1001]


def test_pseudonymised_ids_are_a_keyed_hash_stable_across_exports(client, bearer):
    first = read_jsonl(client.get("/console/export.jsonl?pseudonymise=1", headers=bearer))
    again = read_csv(client.get("/console/export.csv?pseudonymise=1", headers=bearer))
    ids = [r["request_id"] for r in first]
    assert ids == [r["request_id"] for r in again]
    expected = "p" + hmac.new(PSEUDONYM_KEY.encode(), b"1001", hashlib.sha256).hexdigest()[:20]
    assert ids[0] == expected and len(set(ids)) == 7
    text = client.get("/console/export.csv?pseudonymise=1", headers=bearer).get_data(as_text=True)
    assert not re.search(r"(^|\n)100[1-7],", text)


def test_pseudonyms_need_a_configured_key(database_url, bearer):
    app = make_app(database_url, HINT_CONSOLE_PSEUDONYM_KEY="")
    answer = app.test_client().get("/console/export.csv?pseudonymise=1", headers=bearer)
    assert answer.status_code == 400 and "HINT_CONSOLE_PSEUDONYM_KEY" in answer.get_data(as_text=True)


def test_comments_can_be_stripped_from_the_programs(client, bearer):
    rows = {
        r["request_id"]: r
        for r in read_jsonl(client.get("/console/export.jsonl?strip_comments=1", headers=bearer))
    }
    first = rows[1001]
    assert "Jane Doe" not in first["student_program"] and "Jane Doe" not in first["selected_program"]
    assert first["student_program"] == BUGGY_FACTORIAL.replace(
        "    # multiply every number up to n  (Jane Doe, student 4711)\n", ""
    )
    plain = {r["request_id"]: r for r in read_jsonl(client.get("/console/export.jsonl", headers=bearer))}
    assert "Jane Doe" in plain[1001]["student_program"]


@pytest.mark.parametrize("option", ["pseudonymise=maybe", "strip_comments=2"])
def test_bad_export_options_are_refused(client, bearer, option):
    answer = client.get(f"/console/export.csv?{option}", headers=bearer)
    assert answer.status_code == 400 and f"Bad option {option.split('=')[0]}" in answer.get_data(as_text=True)


def test_every_column_is_documented():
    documented = set(re.findall(r"^\| `(\w+)` \|", DOCS.read_text(), flags=re.M))
    assert set(COLUMNS) <= documented


@pytest.fixture
def own_database(tmp_path):
    """A database of this test's own (the shared sample stays as it is)."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    with bound_to(url):
        yield url


def _add(request_id: int, hint: str | None = None, at: dt.datetime | None = None) -> None:
    at = at or dt.datetime(2026, 3, 2, 10, 0, 0)
    request = Request.create(
        request_id=request_id,
        problem_id="factorial",
        hint_type="plan",
        student_program="=cmd|' /C calc'!A0\n",
        payload_hash="0" * 64,
        created_at=at,
        updated_at=at,
        deadline_at=at,
        reflection_deadline_at=at,
        stage="finished" if hint else "pending",
    )
    if hint:
        Hint.create(
            request=request, hint=hint, engine="offline", job_finished_successfully=True, created_at=at
        )


def test_the_export_reads_in_chunks_as_it_goes(own_database):
    with db.connection_context():
        for n in range(1, 8):
            _add(n)
    records = queries.export_records(Filters(), chunk=3)
    taken = [next(records).request.request_id for _ in range(3)]
    with db.connection_context():
        _add(100)  # written after the export started: a later chunk still finds it
    assert taken + [r.request.request_id for r in records] == [1, 2, 3, 4, 5, 6, 7, 100]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(own_database, bearer):
    with db.connection_context():
        _add(1, hint='=HYPERLINK("http://evil.example", "click")')
        _add(2, hint="+1 is wrong")
    client = make_app(own_database).test_client()
    rows = read_csv(client.get("/console/export.csv", headers=bearer))
    assert rows[0]["hint"] == '\'=HYPERLINK("http://evil.example", "click")'
    assert rows[0]["student_program"].startswith("'=cmd") and rows[1]["hint"] == "'+1 is wrong"
    exact = read_jsonl(client.get("/console/export.jsonl", headers=bearer))
    assert exact[0]["hint"].startswith("=HYPERLINK")  # JSON Lines keep the text exactly
