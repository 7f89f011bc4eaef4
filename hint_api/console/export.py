"""The research export: one row per request, as CSV or JSON Lines, streamed.

COLUMNS is the one list of columns (docs/console.md documents each). Options:
`pseudonymise` replaces request ids with a keyed hash (HMAC-SHA256 under
HINT_CONSOLE_PSEUDONYM_KEY: the same id gives the same pseudonym in every export of a
deployment, and no one without the key can go back); `strip_comments` removes `#`
comments from the programs.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hint_api.console.queries import COST_COLUMN, ExportRecord, outcome_of
from hint_api.console.text import strip_comments

COLUMNS: tuple[str, ...] = (
    "request_id",
    "problem_id",
    "hint_type",
    "outcome",
    "received_at",
    "student_run_at",
    "hint_at",
    "reported_at",
    "latency_seconds",
    "student_program",
    "student_verdict",
    "student_correct",
    "first_failing_test",
    "first_failure",
    "candidates",
    "correct_candidates",
    "selected_program",
    "selected_source",
    "hint",
    "explanation",
    "engine",
    "program_models",
    "hint_model",
    "prompt_tokens",
    "completion_tokens",
    "llm_calls",
    "cost",
    "leak_guard",
    "error",
)
# Text a spreadsheet would run as a formula when the CSV is opened (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportOptions:
    pseudonym_key: str | None = None  # set: request ids are replaced by pseudonyms
    strip_comments: bool = False


def pseudonym(key: str, request_id: int) -> str:
    """A stable pseudonym for a request id: 20 hex digits of HMAC-SHA256(key, id)."""
    return "p" + hmac.new(key.encode(), str(request_id).encode(), hashlib.sha256).hexdigest()[:20]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _first_failing_test(run: dict[str, Any]) -> str | None:
    for test in run.get("tests") or []:
        if isinstance(test, dict) and test.get("status") != "passed":
            return str(test.get("name"))
    return None


def row(record: ExportRecord, options: ExportOptions) -> dict[str, Any]:
    """One request as a dict of COLUMNS, with JSON types (None for what is unknown)."""
    r, phase = record.request, record.hint_phase
    run = r.student_run if isinstance(r.student_run, dict) else {}
    phases = [*record.program_phases, *([phase] if phase is not None else [])]
    costs = [getattr(p, COST_COLUMN, None) for p in phases]
    costs = [float(c) for c in costs if c is not None]
    program = r.student_program
    selected = record.selected.program if record.selected is not None else None
    if options.strip_comments:
        program = strip_comments(program) if program else program
        selected = strip_comments(selected) if selected else selected
    notes = phase.notes if phase is not None and isinstance(phase.notes, dict) else {}
    guard = notes.get("leak_guard") if isinstance(notes.get("leak_guard"), dict) else {}
    fell_back = r.hint_engine == "offline" and phase is not None and phase.error is not None
    latency = (r.hint_created_at - r.created_at).total_seconds() if r.hint_created_at is not None else None
    values = {
        "request_id": pseudonym(options.pseudonym_key, r.request_id)
        if options.pseudonym_key
        else r.request_id,
        "problem_id": r.problem_id,
        "hint_type": r.hint_type,
        "outcome": outcome_of(r.stage, r.hint_successful, fell_back).value,
        "received_at": _iso(r.created_at),
        "student_run_at": _iso(r.student_run_at),
        "hint_at": _iso(r.hint_created_at),
        "reported_at": _iso(r.hint_reported_at),
        "latency_seconds": round(latency, 3) if latency is not None else None,
        "student_program": program,
        "student_verdict": run.get("status"),
        "student_correct": r.student_correct,
        "first_failing_test": _first_failing_test(run),
        "first_failure": run.get("first_failure"),
        "candidates": record.candidates,
        "correct_candidates": record.correct_candidates,
        "selected_program": selected,
        "selected_source": record.selected.source if record.selected is not None else None,
        "hint": r.hint_text,
        "explanation": r.hint_explanation,
        "engine": r.hint_engine,
        "program_models": " ".join(p.model for p in record.program_phases if p.model) or None,
        "hint_model": phase.model if phase is not None else None,
        "prompt_tokens": sum(p.prompt_tokens or 0 for p in phases),
        "completion_tokens": sum(p.completion_tokens or 0 for p in phases),
        "llm_calls": sum(p.llm_calls or 0 for p in phases),
        "cost": sum(costs) if costs else None,
        "leak_guard": guard.get("action") if guard.get("fired") else None,
        "error": r.hint_error or (phase.error if phase is not None else None),
    }
    return values


def jsonl(records: Iterable[ExportRecord], options: ExportOptions) -> Iterator[str]:
    for record in records:
        yield json.dumps(row(record, options), ensure_ascii=False, allow_nan=False) + "\n"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text by spreadsheets; docs/console.md says so
    return value


def csv_lines(
    records: Iterable[ExportRecord], options: ExportOptions, rows_per_chunk: int = 100
) -> Iterator[str]:
    """The header, then the rows, a few at a time (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    pending = 1
    for record in records:
        values = row(record, options)
        writer.writerow([_cell(values[c]) for c in COLUMNS])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()
