"""Every read the console makes, straight from the models (SQLite and PostgreSQL).

The list never reads a whole table: it pages by keyset over (created_at, id) with
indexes from migrations/0005_console_indexes.py and counts at most COUNT_CAP rows; the
dashboards aggregate in SQL over the filtered requests; the export reads in chunks of
EXPORT_CHUNK requests, each in its own short connection.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from peewee import (
    JOIN,
    SQL,
    Case,
    Expression,
    Field,
    ModelSelect,
    NodeList,
    PostgresqlDatabase,
    Tuple,
    Value,
    fn,
)

from hint_api.console.filters import Filters, Outcome, day_start
from hint_core.lifecycle import Stage
from models import (
    DailyFigure,
    EnhancedProgram,
    Hint,
    HintGenerationPhase,
    ProgramEnhancementPhase,
    Reflection,
    Request,
    SolutionPoolEntry,
    db,
)

PAGE_SIZE = 50
COUNT_CAP = 10_000  # "10,000+ requests": counting past this would read the whole table
EXPORT_CHUNK = 500
TOP = 15  # rows of the "most" tables on the dashboards
PERCENTILES = (50, 90, 95, 99)
# Money lives in the `cost` column of both phase tables (the phase's LLM calls at the
# prices of the moment; null when the model has no price: unknown, not zero).
COST_COLUMN = "cost"

# The stages of a request without its final answer (Request.stage; "finished" has one).
# Named, not "!= finished", so the list of pending requests reads the stage index.
OPEN_STAGES = (Stage.PENDING, Stage.HINT_CLAIMED)
# Conditions in SQL, not Python truth tests (hence the comparisons with True and False).
HINT_SUCCEEDED = Hint.job_finished_successfully == True  # noqa: E712
HINT_FAILED = Hint.job_finished_successfully == False  # noqa: E712
STUDENT_FAILED = Request.student_correct == False  # noqa: E712
CANDIDATE_PASSED = EnhancedProgram.correct == True  # noqa: E712


# --- SQL that differs between SQLite and PostgreSQL -----------------------------------


def _postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


def seconds_between(start: Field, end: Field) -> Expression:
    """`end - start` in seconds (fractions kept)."""
    if _postgres():
        return fn.date_part("epoch", end - start)
    return (fn.julianday(end) - fn.julianday(start)) * 86400.0


def day_of(column: Field) -> Expression:
    """The UTC day of a timestamp (a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite)."""
    return fn.date(column)


def _day(value: object) -> str:
    return str(value)[:10]


def cause_of(message: Field) -> Expression:
    """The kind of an error message: its text up to the first colon ("generate_hint
    failed: LLMError: ..." -> "generate_hint failed"), so causes group without their details."""
    if _postgres():
        return fn.split_part(message, ":", 1)
    return fn.substr(message, 1, fn.instr(message.concat(":"), ":") - 1)


def cost_field(model: type) -> Field | None:
    return model._meta.fields.get(COST_COLUMN)


# --- filters ----------------------------------------------------------------------------


def _fell_back() -> Expression:
    """The hint's LLM attempt failed or leaked and the offline engine wrote it instead."""
    failed_llm = HintGenerationPhase.select(SQL("1")).where(
        (HintGenerationPhase.request == Request.id) & HintGenerationPhase.error.is_null(False)
    )
    return (Hint.engine == "offline") & fn.EXISTS(failed_llm)


def _conditions(filters: Filters) -> list[Expression]:
    conds: list[Expression] = []
    if filters.problem:
        conds.append(Request.problem_id == filters.problem)
    if filters.hint_type:
        conds.append(Request.hint_type == filters.hint_type)
    if filters.date_from:
        conds.append(Request.created_at >= day_start(filters.date_from))
    if filters.date_to:
        conds.append(Request.created_at < day_start(filters.date_to + dt.timedelta(days=1)))
    if filters.engine:
        conds.append(Hint.engine == filters.engine)
    if filters.outcome is Outcome.PENDING:
        conds.append(Request.stage.in_(OPEN_STAGES))
    elif filters.outcome is Outcome.FAILED:
        conds.append(HINT_FAILED)
    elif filters.outcome is Outcome.FALLBACK:
        conds.append(_fell_back())
    elif filters.outcome is Outcome.HINT:
        conds.append(HINT_SUCCEEDED & ~_fell_back())
    return conds


def _needs_hint(filters: Filters) -> bool:
    return filters.engine is not None or filters.outcome not in (None, Outcome.PENDING)


def filtered(query: ModelSelect, filters: Filters, with_hint: bool = False) -> ModelSelect:
    """`query` (over Request) narrowed by the filters, joined to the request's Hint when
    the filters or `with_hint` (the caller reads Hint columns) need it."""
    if with_hint or _needs_hint(filters):
        query = query.join(Hint, JOIN.LEFT_OUTER, on=(Hint.request == Request.id))
    conds = _conditions(filters)
    return query.where(*conds) if conds else query


# --- the request list ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    request_id: int
    problem_id: str
    hint_type: str
    created_at: dt.datetime
    stage: str
    student_correct: bool | None
    engine: str | None
    outcome: Outcome
    latency_seconds: float | None


@dataclass(frozen=True)
class Cursor:
    """A position in the list, newest first: (created_at, id) of a row."""

    created_at: dt.datetime
    pk: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}_{self.pk}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this module wrote."""
        stamp, _, pk = text.rpartition("_")
        if not pk.isdigit() or len(text) > 64:
            raise ValueError(text)
        return cls(dt.datetime.fromisoformat(stamp), int(pk))


@dataclass(frozen=True)
class Page:
    rows: list[ListRow]
    newer: Cursor | None  # link to the page before (newer rows), None on the first page
    older: Cursor | None  # link to the next page (older rows), None on the last
    matching: int  # requests matching the filters, counted up to the cap
    capped: bool  # more than the cap match


def _fell_back_among(pks: list[int]) -> set[int]:
    """Which of these requests (answered by the offline engine) had a failed LLM hint first.

    Asked of the page's rows after the page is read: as a column of the page's query,
    PostgreSQL hashed every phase with an error instead of probing fifty.
    """
    if not pks:
        return set()
    query = HintGenerationPhase.select(HintGenerationPhase.request).where(
        HintGenerationPhase.request.in_(pks) & HintGenerationPhase.error.is_null(False)
    )
    return {pk for (pk,) in query.tuples()}


def outcome_of(stage: str, successful: bool | None, fell_back: bool) -> Outcome:
    """The outcome of a request from its stage, its Hint's success flag and whether the
    offline engine stood in for a failed LLM hint (the same rule as `_conditions`)."""
    if stage in OPEN_STAGES or successful is None:
        return Outcome.PENDING
    if not successful:
        return Outcome.FAILED
    return Outcome.FALLBACK if fell_back else Outcome.HINT


def list_requests(
    filters: Filters,
    older_than: Cursor | None = None,
    newer_than: Cursor | None = None,
    page_size: int = PAGE_SIZE,
    count_cap: int = COUNT_CAP,
) -> Page:
    """One page of requests, newest first, after (older_than) or before (newer_than) a cursor."""
    latency = Case(
        None, [(Hint.id.is_null(False), seconds_between(Request.created_at, Hint.created_at))], None
    )
    base = filtered(
        Request.select(
            Request.id,
            Request.request_id,
            Request.problem_id,
            Request.hint_type,
            Request.created_at,
            Request.stage,
            Request.student_correct,
            Hint.engine,
            Hint.job_finished_successfully.alias("successful"),
            latency.alias("latency"),
        ),
        filters,
        with_hint=True,
    )
    key = Tuple(Request.created_at, Request.id)
    query = base
    if newer_than is not None:
        query = query.where(key > Tuple(Value(newer_than.created_at), Value(newer_than.pk)))
        query = query.order_by(Request.created_at.asc(), Request.id.asc())
    else:
        if older_than is not None:
            query = query.where(key < Tuple(Value(older_than.created_at), Value(older_than.pk)))
        query = query.order_by(Request.created_at.desc(), Request.id.desc())
    found = list(query.limit(page_size + 1).objects())
    more = len(found) > page_size
    found = found[:page_size]
    if newer_than is not None:
        found.reverse()
    fell_back = _fell_back_among([r.id for r in found if r.engine == "offline"])
    rows = [
        ListRow(
            r.request_id,
            r.problem_id,
            r.hint_type,
            r.created_at,
            r.stage,
            r.student_correct,
            r.engine,
            outcome_of(r.stage, r.successful, r.id in fell_back),
            None if r.latency is None else float(r.latency),
        )
        for r in found
    ]
    cursors = [Cursor(r.created_at, r.id) for r in found]
    if newer_than is not None:
        newer, older = (cursors[0] if more else None), (cursors[-1] if cursors else None)
    else:
        newer = cursors[0] if older_than is not None and cursors else None
        older = cursors[-1] if more else None
    matching = filtered(Request.select(Request.id), filters).limit(count_cap + 1).count()
    return Page(rows, newer, older, min(matching, count_cap), matching > count_cap)


# --- one request's story --------------------------------------------------------------------


@dataclass
class StoredRequest:
    """Every stored row of one request, in pipeline order."""

    request: Request
    reflection: Reflection | None
    program_phases: list[ProgramEnhancementPhase]
    candidates: list[EnhancedProgram]
    hint_phases: list[HintGenerationPhase]
    hint: Hint | None


def stored_request(request_id: int) -> StoredRequest | None:
    """The request orchestration knows as `request_id`, or None."""
    request = Request.get_or_none(Request.request_id == request_id)
    if request is None:
        return None
    pk = request.id
    return StoredRequest(
        request=request,
        reflection=Reflection.get_or_none(Reflection.request == pk),
        program_phases=list(
            ProgramEnhancementPhase.select()
            .where(ProgramEnhancementPhase.request == pk)
            .order_by(ProgramEnhancementPhase.attempt)
        ),
        candidates=list(
            EnhancedProgram.select()
            .where(EnhancedProgram.request == pk)
            .order_by(EnhancedProgram.phase, EnhancedProgram.index)
        ),
        hint_phases=list(
            HintGenerationPhase.select()
            .where(HintGenerationPhase.request == pk)
            .order_by(HintGenerationPhase.attempt)
        ),
        hint=Hint.get_or_none(Hint.request == pk),
    )


# --- dashboards ---------------------------------------------------------------------------


@dataclass
class Dashboards:
    hints_per_day: list[tuple[str, str, str, int]]  # day, hint type, engine, hints
    latency: dict[int, float]  # percentile -> seconds from request to hint
    latency_hints: int
    failures: list[tuple[str, str, int]]  # "failed" or "fallback", cause, requests
    hints: int  # successful hints
    fallbacks: int
    failed: int
    pending: int
    tokens_per_day: list[tuple[str, int, int, float | None]]  # day, prompt, completion, cost
    problems: list[tuple[str, int, int]]  # problem, requests, whose student program failed
    failing_tests: list[tuple[str, str, int]]  # problem, test name, student runs that failed it
    pool: list[tuple[str, str, int]]  # problem, source, programs in the pool
    cost_recorded: bool = False
    totals: dict[str, float] = field(default_factory=dict)


def _requests(filters: Filters) -> ModelSelect:
    """The ids of the filtered requests, as a subquery."""
    return filtered(Request.select(Request.id), filters)


def _pruned(filters: Filters) -> ModelSelect | None:
    """The `daily_figure` rows (requests deleted by retention, scripts.prune) the filters
    select, so the per-day dashboards keep their history; None when a filter cannot apply
    to them (pending; fallback, which the figures count as hints)."""
    if filters.outcome in (Outcome.PENDING, Outcome.FALLBACK):
        return None
    conds = []
    if filters.problem:
        conds.append(DailyFigure.problem_id == filters.problem)
    if filters.hint_type:
        conds.append(DailyFigure.hint_type == filters.hint_type)
    if filters.engine:
        conds.append(DailyFigure.engine == filters.engine)
    if filters.outcome:
        conds.append(DailyFigure.outcome == filters.outcome.value)
    if filters.date_from:
        conds.append(DailyFigure.day >= filters.date_from)
    if filters.date_to:
        conds.append(DailyFigure.day <= filters.date_to)
    return DailyFigure.select().where(*conds) if conds else DailyFigure.select()


def _hints_per_day(filters: Filters) -> list[tuple[str, str, str, int]]:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    pruned = _pruned(filters)
    if pruned is not None:
        rows = pruned.select(DailyFigure.day, DailyFigure.hint_type, DailyFigure.engine, fn.SUM(DailyFigure.requests))
        for d, t, e, n in rows.where(DailyFigure.outcome == "hint").group_by(
                DailyFigure.day, DailyFigure.hint_type, DailyFigure.engine).tuples():
            counts[(_day(d), str(t), "" if e == "-" else e)] += int(n)
    for d, t, e, n in _stored_hints_per_day(filters):
        counts[(d, t, e)] += n
    return sorted((d, t, e, n) for (d, t, e), n in counts.items())


def _stored_hints_per_day(filters: Filters) -> list[tuple[str, str, str, int]]:
    day = day_of(Hint.created_at)
    rows = (
        filtered(
            Request.select(day.alias("day"), Request.hint_type, Hint.engine, fn.COUNT(Hint.id)),
            filters,
            with_hint=True,
        )
        .where(HINT_SUCCEEDED)
        .group_by(day, Request.hint_type, Hint.engine)
    )
    return sorted((_day(d), t, e or "", int(n)) for d, t, e, n in rows.tuples())


def _latency(filters: Filters) -> tuple[dict[int, float], int]:
    """Nearest-rank percentiles of request -> hint seconds over successful hints."""
    seconds = seconds_between(Request.created_at, Hint.created_at)
    if _postgres():
        fractions = ", ".join(str(p / 100) for p in PERCENTILES)
        # One sorted pass for every percentile (nearest rank, as the SQLite branch).
        percentiles = NodeList(
            (SQL(f"percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY"), seconds, SQL(")"))
        )
        query = filtered(Request.select(fn.COUNT(Request.id), percentiles), filters, with_hint=True)
        count, values = query.where(HINT_SUCCEEDED).tuples().get()
        if not count:
            return {}, 0
        return {p: float(v) for p, v in zip(PERCENTILES, values, strict=True)}, int(count)
    base = filtered(Request.select(seconds.alias("s")), filters, with_hint=True).where(HINT_SUCCEEDED)
    count = base.count()
    if not count:
        return {}, 0
    out = {}
    for p in PERCENTILES:
        rank = max(1, -(-p * count // 100))  # ceil(p% of count), 1-based
        out[p] = float(base.order_by(seconds).limit(1).offset(rank - 1).scalar())
    return out, count


def _outcomes(filters: Filters) -> dict[Outcome, int]:
    ended = Case(
        None,
        [(Request.stage.in_(OPEN_STAGES), Outcome.PENDING.value), (HINT_FAILED, Outcome.FAILED.value)],
        Outcome.HINT.value,
    )
    rows = filtered(Request.select(ended.alias("o"), fn.COUNT(Request.id)), filters, with_hint=True).group_by(
        ended
    )
    counts = {o: 0 for o in Outcome}
    for name, n in rows.tuples():
        counts[Outcome(name)] = int(n)
    # Counted apart: EXISTS in a WHERE is one semi-join, in a CASE it is a subquery per row.
    counts[Outcome.FALLBACK] = (
        filtered(Request.select(Request.id), filters, with_hint=True).where(_fell_back()).count()
    )
    counts[Outcome.HINT] -= counts[Outcome.FALLBACK]
    return counts


def _failures(filters: Filters) -> list[tuple[str, str, int]]:
    failed_cause = cause_of(Hint.generation_error_message)
    failed = (
        filtered(Request.select(failed_cause, fn.COUNT(Request.id)), filters, with_hint=True)
        .where(HINT_FAILED)
        .group_by(failed_cause)
    )
    fallback_cause = cause_of(HintGenerationPhase.error)
    fallbacks = (
        HintGenerationPhase.select(fallback_cause, fn.COUNT(HintGenerationPhase.id))
        .where(
            HintGenerationPhase.request.in_(_requests(filters))
            & HintGenerationPhase.error.is_null(False)
            & (HintGenerationPhase.engine == "offline")
        )
        .group_by(fallback_cause)
    )
    rows = [("failed", c or "(no message)", int(n)) for c, n in failed.tuples()]
    rows += [("fallback", c or "(no message)", int(n)) for c, n in fallbacks.tuples()]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:TOP]


def _tokens_per_day(filters: Filters) -> tuple[list[tuple[str, int, int, float | None]], bool]:
    """Tokens and cost of both LLM phases, by the day the request came in; whether any
    phase has a known cost (a model with no price in ai_config stores none: unknown, not 0)."""
    per_day: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    recorded = False
    for model in (ProgramEnhancementPhase, HintGenerationPhase):
        day = day_of(Request.created_at)
        query = filtered(
            model.select(
                day,
                fn.SUM(model.prompt_tokens),
                fn.SUM(model.completion_tokens),
                fn.SUM(model.cost),
                fn.COUNT(model.cost),
            ).join(Request, on=(model.request == Request.id)),
            filters,
        ).group_by(day)
        for d, prompt, completion, money, priced in query.tuples():
            recorded = recorded or bool(priced)
            line = per_day[_day(d)]
            line[0] += int(prompt or 0)
            line[1] += int(completion or 0)
            line[2] += float(money or 0)
    pruned = _pruned(filters)
    if pruned is not None:
        figures = pruned.select(DailyFigure.day, fn.SUM(DailyFigure.prompt_tokens),
                                fn.SUM(DailyFigure.completion_tokens), fn.SUM(DailyFigure.cost))
        for d, prompt, completion, money in figures.group_by(DailyFigure.day).tuples():
            recorded = recorded or bool(money)
            line = per_day[_day(d)]
            line[0] += int(prompt or 0)
            line[1] += int(completion or 0)
            line[2] += float(money or 0)
    rows = [(d, int(p), int(c), (m if recorded else None)) for d, (p, c, m) in sorted(per_day.items())]
    return rows, recorded


def _problems(filters: Filters) -> list[tuple[str, int, int]]:
    failing = fn.SUM(Case(None, [(STUDENT_FAILED, 1)], 0))
    rows = (
        filtered(Request.select(Request.problem_id, fn.COUNT(Request.id), failing), filters)
        .group_by(Request.problem_id)
        .order_by(fn.COUNT(Request.id).desc(), Request.problem_id)
        .limit(TOP)
    )
    return [(p, int(n), int(f or 0)) for p, n, f in rows.tuples()]


def _failing_tests(filters: Filters) -> list[tuple[str, str, int]]:
    """The tests students' own programs failed most, read from the stored run (JSON text)."""
    ids = _requests(filters).where(STUDENT_FAILED)
    sql, params = ids.sql()
    if _postgres():
        query = f"""
            SELECT r.problem_id, t->>'name' AS name, COUNT(*) AS n
            FROM request r CROSS JOIN LATERAL json_array_elements((r.student_run::json)->'tests') AS t
            WHERE r.id IN ({sql}) AND t->>'status' <> 'passed'
            GROUP BY r.problem_id, name ORDER BY n DESC, r.problem_id, name LIMIT {TOP}"""
    else:
        query = f"""
            SELECT r.problem_id, json_extract(t.value, '$.name') AS name, COUNT(*) AS n
            FROM request r, json_each(r.student_run, '$.tests') AS t
            WHERE r.id IN ({sql}) AND json_extract(t.value, '$.status') <> 'passed'
            GROUP BY r.problem_id, name ORDER BY n DESC, r.problem_id, name LIMIT {TOP}"""
    return [(p, str(name), int(n)) for p, name, n in db.execute_sql(query, params).fetchall()]


def _pool() -> list[tuple[str, str, int]]:
    rows = (
        SolutionPoolEntry.select(
            SolutionPoolEntry.problem_id, SolutionPoolEntry.source, fn.COUNT(SolutionPoolEntry.id)
        )
        .group_by(SolutionPoolEntry.problem_id, SolutionPoolEntry.source)
        .order_by(SolutionPoolEntry.problem_id, SolutionPoolEntry.source)
    )
    return [(p, s, int(n)) for p, s, n in rows.tuples()]


def dashboards(filters: Filters) -> Dashboards:
    outcomes = _outcomes(filters)
    latency, latency_hints = _latency(filters)
    tokens, recorded = _tokens_per_day(filters)
    hints = outcomes[Outcome.HINT] + outcomes[Outcome.FALLBACK]
    prompt, completion = sum(t[1] for t in tokens), sum(t[2] for t in tokens)
    totals: dict[str, float] = {
        "tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
    }
    if hints:
        totals["tokens_per_hint"] = (prompt + completion) / hints
    if recorded:
        totals["cost"] = sum(t[3] or 0.0 for t in tokens)
        if hints:
            totals["cost_per_hint"] = totals["cost"] / hints
    return Dashboards(
        hints_per_day=_hints_per_day(filters),
        latency=latency,
        latency_hints=latency_hints,
        failures=_failures(filters),
        hints=hints,
        fallbacks=outcomes[Outcome.FALLBACK],
        failed=outcomes[Outcome.FAILED],
        pending=outcomes[Outcome.PENDING],
        tokens_per_day=tokens,
        problems=_problems(filters),
        failing_tests=_failing_tests(filters),
        pool=_pool(),
        cost_recorded=recorded,
        totals=totals,
    )


# --- export ---------------------------------------------------------------------------------


@dataclass
class ExportRecord:
    """What the export needs of one request (export.py turns it into a row)."""

    request: Any  # a Request row with the Hint's columns attached (hint_*)
    hint_phase: HintGenerationPhase | None
    program_phases: list[ProgramEnhancementPhase]
    selected: EnhancedProgram | None
    candidates: int
    correct_candidates: int


def export_records(filters: Filters, chunk: int = EXPORT_CHUNK) -> Iterator[ExportRecord]:
    """Every filtered request in id order, read `chunk` requests at a time.

    Each chunk takes a connection and gives it back, so a slow download holds none while
    the client reads, and memory holds one chunk whatever the export's size.
    """
    last = 0
    while True:
        with db.connection_context():
            records = _export_chunk(filters, last, chunk)
        yield from records
        if len(records) < chunk:
            return
        last = records[-1].request.id


def _export_chunk(filters: Filters, after_pk: int, chunk: int) -> list[ExportRecord]:
    requests = list(
        filtered(
            Request.select(
                Request.id,
                Request.request_id,
                Request.problem_id,
                Request.hint_type,
                Request.created_at,
                Request.student_run_at,
                Request.stage,
                Request.student_program,
                Request.student_run,
                Request.student_correct,
                Hint.hint.alias("hint_text"),
                Hint.explanation.alias("hint_explanation"),
                Hint.engine.alias("hint_engine"),
                Hint.job_finished_successfully.alias("hint_successful"),
                Hint.generation_error_message.alias("hint_error"),
                Hint.created_at.alias("hint_created_at"),
                Hint.reported_at.alias("hint_reported_at"),
            ),
            filters,
            with_hint=True,
        )
        .where(Request.id > after_pk)
        .order_by(Request.id)
        .limit(chunk)
        .objects()
    )
    if not requests:
        return []
    pks = [r.id for r in requests]
    hint_phases: dict[int, HintGenerationPhase] = {}
    for phase in (
        HintGenerationPhase.select(
            HintGenerationPhase.id,
            HintGenerationPhase.request,
            HintGenerationPhase.attempt,
            HintGenerationPhase.engine,
            HintGenerationPhase.model,
            HintGenerationPhase.selected_program,
            HintGenerationPhase.prompt_tokens,
            HintGenerationPhase.completion_tokens,
            HintGenerationPhase.llm_calls,
            HintGenerationPhase.error,
            HintGenerationPhase.notes,
            *([cost_field(HintGenerationPhase)] if cost_field(HintGenerationPhase) else []),
        )
        .where(HintGenerationPhase.request.in_(pks))
        .order_by(HintGenerationPhase.attempt)
    ):
        hint_phases[phase.request_id] = phase  # the last attempt wins
    program_phases: dict[int, list[ProgramEnhancementPhase]] = defaultdict(list)
    for phase in (
        ProgramEnhancementPhase.select(
            ProgramEnhancementPhase.id,
            ProgramEnhancementPhase.request,
            ProgramEnhancementPhase.attempt,
            ProgramEnhancementPhase.engine,
            ProgramEnhancementPhase.model,
            ProgramEnhancementPhase.prompt_tokens,
            ProgramEnhancementPhase.completion_tokens,
            ProgramEnhancementPhase.llm_calls,
            *([cost_field(ProgramEnhancementPhase)] if cost_field(ProgramEnhancementPhase) else []),
        )
        .where(ProgramEnhancementPhase.request.in_(pks))
        .order_by(ProgramEnhancementPhase.attempt)
    ):
        program_phases[phase.request_id].append(phase)
    selected_ids = [p.selected_program_id for p in hint_phases.values() if p.selected_program_id]
    selected = (
        {
            p.id: p
            for p in EnhancedProgram.select(
                EnhancedProgram.id, EnhancedProgram.program, EnhancedProgram.source
            ).where(EnhancedProgram.id.in_(selected_ids))
        }
        if selected_ids
        else {}
    )
    counts = {
        pk: (int(total), int(correct or 0))
        for pk, total, correct in EnhancedProgram.select(
            EnhancedProgram.request,
            fn.COUNT(EnhancedProgram.id),
            fn.SUM(Case(None, [(CANDIDATE_PASSED, 1)], 0)),
        )
        .where(EnhancedProgram.request.in_(pks))
        .group_by(EnhancedProgram.request)
        .tuples()
    }
    out = []
    for r in requests:
        phase = hint_phases.get(r.id)
        total, correct = counts.get(r.id, (0, 0))
        out.append(
            ExportRecord(
                request=r,
                hint_phase=phase,
                program_phases=program_phases.get(r.id, []),
                selected=selected.get(phase.selected_program_id)
                if phase and phase.selected_program_id
                else None,
                candidates=total,
                correct_candidates=correct,
            )
        )
    return out
