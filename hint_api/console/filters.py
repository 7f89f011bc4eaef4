"""The filters shared by the request list, the dashboards and the exports, validated.

A bad value raises `FilterError` naming the filter; the pages answer 400 with it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum

from hint_core.enums import Engine, HintType

# The engines that write a request's final answer (Hint.engine): the LLM, the offline
# engine, and "tests" when the student's program already passes every test.
HINT_TYPES = tuple(HintType)
# The engines a final hint can come from (Engine.CACHE and Engine.POOL answer phases only).
ENGINES = (Engine.OPENAI, Engine.OFFLINE, Engine.TESTS)
MAX_PROBLEM_CHARS = 200  # Request.problem_id's length
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Outcome(StrEnum):
    """How a request ended, as the console groups it (exclusive)."""

    HINT = "hint"  # a hint, written as configured
    FALLBACK = "fallback"  # a hint by the offline engine because the LLM's failed or leaked
    FAILED = "failed"  # no hint: the request ended with an error message
    PENDING = "pending"  # not finished yet


class FilterError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass(frozen=True)
class Filters:
    problem: str | None = None
    hint_type: str | None = None
    engine: str | None = None
    outcome: Outcome | None = None
    date_from: dt.date | None = None  # requests received on or after this day (UTC)
    date_to: dt.date | None = None  # ... and on or before this day

    def query_args(self) -> dict[str, str]:
        """The filters as URL parameters (for links that keep them: paging, export)."""
        args = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                args[f.name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return args

    @property
    def any(self) -> bool:
        return bool(self.query_args())


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise FilterError(name, f"must be one of {', '.join(allowed)}")
    return value


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> dt.date:
    raise FilterError(name, "must be a date written YYYY-MM-DD")


def parse_filters(args: Mapping[str, str]) -> Filters:
    """Filters from query parameters; empty values mean "any"."""
    problem = (args.get("problem") or "").strip() or None
    if problem is not None and (len(problem) > MAX_PROBLEM_CHARS or _CONTROL.search(problem)):
        raise FilterError(
            "problem", f"must be a problem id (at most {MAX_PROBLEM_CHARS} characters, no control characters)"
        )
    outcome = _choice(args, "outcome", tuple(Outcome))
    filters = Filters(
        problem=problem,
        hint_type=_choice(args, "hint_type", HINT_TYPES),
        engine=_choice(args, "engine", ENGINES),
        outcome=Outcome(outcome) if outcome else None,
        date_from=_date(args, "date_from"),
        date_to=_date(args, "date_to"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("date_to", "must not be before date_from")
    return filters


def day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC, naive like every stored timestamp."""
    return dt.datetime.combine(day, dt.time())
