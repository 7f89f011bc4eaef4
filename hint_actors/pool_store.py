"""The solution pool in the database: add verified programs, offer entries as candidates.

The domain rules (normal form, dedup key, retrieval) live in `hint_core.pool`; this module
only reads and writes `SolutionPoolEntry` rows.

A program other than a reference solution joins only when it passes every test AND agrees
with the reference solutions on generated inputs (`hint_core.differential`); one that
disagrees stays out and is recorded as a `TestGap`, a likely missing test that
`scripts.check_problems` shows instructors.

Entries are tied to the tests version they passed. Entries of an older version are never
offered as correct: they go back into the pipeline as ordinary candidates, which runs
them against the current tests, and they leave the pool as they are offered. A program
that still passes comes back under the current version; one that fails is gone.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from peewee import fn

from hint_core import differential
from hint_core.enums import Source
from hint_core.pool import (
    PoolEntry,
    PoolIndex,
    PoolOffer,
    Verified,
    canonical_form,
    dedup_key,
    strip_comments,
    work_seconds,
)
from hint_core.problems import Problem, TestCase
from hint_core.sandbox import RunResult, SandboxError
from hint_core.sandbox.results import clip
from models import SolutionPoolEntry, TestGap

log = logging.getLogger("hint.pool")


def _private(problem: Problem, program: str, run: RunResult, source: str,
             rerun: Callable[[Problem, str], RunResult]) -> tuple[str, RunResult] | None:
    """The program as other students may see it: without its comments and docstrings (a
    student's names, a planted instruction), verified again when stripping changed it."""
    if source == Source.REFERENCE:
        return program, run  # the instructor's own text
    stripped = strip_comments(program)
    if stripped == program:
        return program, run
    again = rerun(problem, stripped)
    if not again.correct:
        log.info("problem %s: a %s program fails without its comments; kept out of the pool", problem.id, source)
        return None
    return stripped, again


# The reference solutions' answers on the generated inputs, per problem, tests version and
# references: computed once per process (a few sandboxed runs), then every check is one run.
_REFERENCE_TESTS: dict[tuple[str, str, str], tuple[TestCase, ...]] = {}
_REFERENCE_LOCK = threading.Lock()


def reference_tests(problem: Problem, rerun: Callable[[Problem, str], RunResult]) -> tuple[TestCase, ...]:
    """The generated inputs with the reference solutions' answers (`differential.reference_tests`), cached."""
    key = (problem.id, problem.tests_version, hashlib.sha256("\0".join(problem.solutions).encode()).hexdigest())
    with _REFERENCE_LOCK:
        cached = _REFERENCE_TESTS.get(key)
    if cached is None:
        cached = differential.reference_tests(problem, rerun)  # outside the lock: it runs programs
        with _REFERENCE_LOCK:
            if len(_REFERENCE_TESTS) >= 512:
                _REFERENCE_TESTS.clear()
            _REFERENCE_TESTS[key] = cached
    return cached


def _decided(problem: Problem, key: str, source: str) -> differential.Disagreement | bool:
    """What is known without running the program: True when it need not be checked (a
    reference solution, a problem without the check, a program already in the pool), its
    recorded gap when it was found to disagree before, False when it must be run."""
    if source == Source.REFERENCE or not differential.applies(problem):
        return True
    known = TestGap.get_or_none((TestGap.problem_id == problem.id) & (TestGap.tests_version == problem.tests_version)
                                & (TestGap.program_hash == key))
    if known is not None:
        return differential.Disagreement(known.input, known.reference_output, known.program_output)
    return SolutionPoolEntry.select().where(
        (SolutionPoolEntry.problem_id == problem.id) & (SolutionPoolEntry.tests_version == problem.tests_version)
        & (SolutionPoolEntry.normalized_hash == key)
    ).exists()  # checked when it joined


def _record_gap(problem: Problem, key: str, source: str, program: str, gap: differential.Disagreement,
                request_id: object) -> None:
    TestGap.insert(
        problem_id=problem.id, tests_version=problem.tests_version, program_hash=key, source=source,
        program=program, input=gap.call, reference_output=gap.reference, program_output=gap.program,
    ).on_conflict_ignore().execute()
    log.warning(
        "request %s: problem %s: a %s program passes every test but %s for %s where the reference solution "
        "returns %s; kept out of the pool (a likely missing test)",
        request_id if request_id is not None else "-", problem.id, source, clip(gap.program, 120),
        clip(gap.call, 120), clip(gap.reference, 120),
    )


@dataclass(frozen=True)
class Admission:
    """What became of one program offered to the pool: its row, or why it has none."""

    row: dict[str, object] | None
    refused: str | None = None  # why it may not join (None with no row: the same program came earlier)
    key: str | None = None  # its dedup key, when it got that far


@dataclass(frozen=True)
class _Prepared:
    program: str  # without comments
    run: RunResult
    source: str
    key: str
    tokens: list[str]


def _prepare(problem: Problem, original: str, first_run: RunResult, source: str,
             rerun: Callable[[Problem, str], RunResult]) -> _Prepared | Admission:
    if not original.strip():
        return Admission(None, "the program is empty")
    if not first_run.correct:
        return Admission(None, f"fails a test: {first_run.first_failure_text() or first_run.status}")
    kept = _private(problem, original, first_run, source, rerun)
    if kept is None:
        return Admission(None, "fails a test once its comments and docstrings are removed")
    program, run = kept
    key, tokens = canonical_form(program)
    return _Prepared(program, run, source, key, tokens)


def _compare_all(problem: Problem, programs: list[str], rerun: Callable[[Problem, str], RunResult]
                 ) -> list[differential.Disagreement | None | SandboxError]:
    """Each program's differential check, side by side (a sandbox failure in its place)."""
    if not programs:
        return []
    expected = reference_tests(problem, rerun)  # once, before the threads

    def one(program: str) -> differential.Disagreement | None | SandboxError:
        try:
            return differential.compare(problem, program, expected, rerun)
        except SandboxError as exc:
            return exc

    if len(programs) == 1:
        return [one(programs[0])]
    with ThreadPoolExecutor(max_workers=min(len(programs), 8), thread_name_prefix="differential") as pool:
        return list(pool.map(one, programs))


def admit(problem: Problem, offered: Iterable[tuple[str, RunResult, str]],
          rerun: Callable[[Problem, str], RunResult], request_id: object = None) -> list[Admission]:
    """Whether each program (its text, its run, where it came from) may join the pool: it
    passed every test, still does without its comments (`rerun` verifies it again), and
    agrees with the reference solutions on generated inputs (the differential checks of
    the batch run side by side; a disagreement is recorded as a `TestGap` and logged once
    as a WARNING). A program whose normal form came earlier in the batch gets no row and
    no reason. The database is only touched from this thread."""
    out: list[Admission | _Prepared] = []
    seen: set[str] = set()
    to_check: dict[int, _Prepared] = {}  # position in `out` -> the program to run
    for original, first_run, source in offered:
        prepared = _prepare(problem, original, first_run, source, rerun)
        if isinstance(prepared, _Prepared):
            if prepared.key in seen:
                prepared = Admission(None, key=prepared.key)
            else:
                seen.add(prepared.key)
                decided = _decided(problem, prepared.key, prepared.source)
                if decided is False:
                    to_check[len(out)] = prepared
                elif decided is not True:
                    prepared = _refused(decided, prepared.key)
        out.append(prepared)
    checks = _compare_all(problem, [p.program for p in to_check.values()], rerun)
    for (i, prepared), check in zip(to_check.items(), checks, strict=True):
        if isinstance(check, SandboxError):  # the sandbox's own failure: not vouched for this time
            log.warning("request %s: problem %s: the differential check could not run (%s); a %s program stays "
                        "out of the pool", request_id if request_id is not None else "-", problem.id, check,
                        prepared.source)
            out[i] = Admission(None, f"the differential check could not run: {check}", prepared.key)
        elif check is not None:
            _record_gap(problem, prepared.key, prepared.source, prepared.program, check, request_id)
            out[i] = _refused(check, prepared.key)
    return [a if isinstance(a, Admission) else Admission({
        "problem_id": problem.id, "tests_version": problem.tests_version, "normalized_hash": a.key,
        "program": a.program, "tokens": a.tokens, "run_time": work_seconds(a.run), "source": a.source,
    }, key=a.key) for a in out]


def _refused(gap: differential.Disagreement, key: str) -> Admission:
    return Admission(None, f"disagrees with the reference solution: {gap.call} {gap.program}, "
                           f"the reference returns {gap.reference}", key)


def recorded_gaps(problem: Problem) -> list[TestGap]:
    """The gaps found in the problem's current tests (older tests may have been fixed), oldest first."""
    return list(TestGap.select().where(
        (TestGap.problem_id == problem.id) & (TestGap.tests_version == problem.tests_version)
    ).order_by(TestGap.first_seen, TestGap.id))


def store(problem: Problem, rows: Iterable[dict[str, object]]) -> int:
    """Insert admitted rows; the number that were new (a program already known, up to
    names and layout, is not)."""
    rows = list(rows)
    if not rows:
        return 0
    # One statement; a program stored a moment ago by another worker is skipped, not an error.
    added = SolutionPoolEntry.insert_many(rows).on_conflict_ignore().as_rowcount().execute()
    log.debug("problem %s: %d new pool entries", problem.id, added)
    return added


def add_to_pool(problem: Problem, runs: Iterable[tuple[str, RunResult, str]],
                rerun: Callable[[Problem, str], RunResult], request_id: object = None) -> int:
    """Keep the programs (program, its run, where it came from) that `admit` lets in; the
    number that were new (a program already known, up to names and layout, is not)."""
    candidates = [r for r in runs if r[1].correct]
    if not candidates:
        return 0
    return store(problem, [a.row for a in admit(problem, candidates, rerun, request_id) if a.row is not None])


def _entry(row: SolutionPoolEntry) -> PoolEntry:
    return PoolEntry(row.id, row.program, tuple(row.tokens), row.run_time, row.source)


def _rows(problem: Problem, current: bool) -> list[SolutionPoolEntry]:
    same = SolutionPoolEntry.tests_version == problem.tests_version
    of_problem = SolutionPoolEntry.problem_id == problem.id
    return list(SolutionPoolEntry.select().where(of_problem & (same if current else ~same)))


def load_entries(problem: Problem, current: bool = True) -> list[PoolEntry]:
    """The pool of a problem verified against its current tests (or, with current=False,
    the entries of older test versions, waiting for re-verification)."""
    return [_entry(row) for row in _rows(problem, current)]


@lru_cache(maxsize=256)
def _solution_keys(solutions: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(dedup key, solution) of a problem's reference solutions."""
    return tuple((dedup_key(s), s) for s in solutions)


@dataclass(frozen=True)
class PoolPick:
    """What the pool offers one request, and which stale entries to drop once offered."""

    offer: PoolOffer
    stale_ids: tuple[int, ...]


def _choose(index: PoolIndex, hint_type: str, student_program: str, k: int, skip: frozenset[int]) -> list[PoolEntry]:
    if hint_type == "optimize":
        ranked = index.fastest(k + len(skip))
    else:
        ranked = [m.entry for m in index.nearest(student_program, k + len(skip))]
    return [e for e in ranked if e.key not in skip][:k]


@dataclass(frozen=True)
class _Cached:
    index: PoolIndex
    max_id: int
    count: int
    newest: object  # the latest created_at: rows deleted and re-made under reused ids still differ
    references: dict[str, PoolEntry]  # dedup key of a reference solution -> its entry


_INDEXES: dict[tuple[str, str], _Cached] = {}
_INDEXES_LOCK = threading.Lock()


def _unchanged(same: object, cached: _Cached) -> bool:
    """Whether the rows the cached index was built from are all still there, unchanged."""
    old = SolutionPoolEntry.select(fn.COUNT(SolutionPoolEntry.id), fn.MAX(SolutionPoolEntry.created_at)).where(
        same & (SolutionPoolEntry.id <= cached.max_id)
    ).scalar(as_tuple=True)
    return tuple(old) == (cached.count, cached.newest)


def current_index(problem: Problem) -> tuple[PoolIndex, dict[str, PoolEntry]]:
    """The index of the problem's current entries, and the entries of its reference
    solutions by dedup key.

    Kept per process and brought up to date with the rows added since (entries of the
    current tests version are only ever added), so a request does not reload thousands
    of rows; a count that does not add up means rows went away, and it is rebuilt.
    """
    key = (problem.id, problem.tests_version)
    same = (SolutionPoolEntry.problem_id == problem.id) & (SolutionPoolEntry.tests_version == problem.tests_version)
    max_id, count, newest = SolutionPoolEntry.select(
        fn.MAX(SolutionPoolEntry.id), fn.COUNT(SolutionPoolEntry.id), fn.MAX(SolutionPoolEntry.created_at)
    ).where(same).scalar(as_tuple=True)
    max_id, count = max_id or 0, count or 0
    references = {k for k, _ in _solution_keys(problem.solutions)}
    with _INDEXES_LOCK:
        cached = _INDEXES.get(key)
    if cached is not None and (cached.max_id, cached.count, cached.newest) == (max_id, count, newest):
        return cached.index, cached.references
    if cached is not None and count > cached.count and max_id > cached.max_id and _unchanged(same, cached):
        rows = list(SolutionPoolEntry.select().where(same & (SolutionPoolEntry.id > cached.max_id)))
        if cached.count + len(rows) == count:
            fresh = _Cached(
                cached.index.extended(_entry(r) for r in rows), max_id, count, newest,
                cached.references | {r.normalized_hash: _entry(r) for r in rows if r.normalized_hash in references},
            )
            with _INDEXES_LOCK:
                _INDEXES[key] = fresh
            return fresh.index, fresh.references
    rows = list(SolutionPoolEntry.select().where(same))
    fresh = _Cached(
        PoolIndex(_entry(r) for r in rows), max((r.id for r in rows), default=0), len(rows), newest,
        {r.normalized_hash: _entry(r) for r in rows if r.normalized_hash in references},
    )
    with _INDEXES_LOCK:
        _INDEXES[key] = fresh
    return fresh.index, fresh.references


def pick_candidates(problem: Problem, hint_type: str, student_program: str, k: int) -> PoolPick:
    """Up to `k` current entries (nearest for plan/debug, fastest for optimize) that are
    not a reference solution (those are offered anyway), plus up to `k` stale entries
    chosen the same way, to be re-verified.

    The current entries, and the reference solutions the pool holds under the current
    tests version, come with the pool's verdict: they passed these very tests, so the
    pipeline records them as correct without running them again. Stale entries and
    references not yet in the pool are run like any candidate."""
    index, references = current_index(problem)
    nearest = index.nearest(student_program, 1)
    chosen = _choose(index, hint_type, student_program, k, frozenset(e.key for e in references.values()))
    stale = _choose(PoolIndex(load_entries(problem, current=False)), hint_type, student_program, k, frozenset())
    version = problem.tests_version
    verified = {e.program: Verified(e.key, e.run_time, version) for e in chosen}
    for key, solution in _solution_keys(problem.solutions):
        if key in references:
            verified[solution] = Verified(references[key].key, references[key].run_time, version)
    if not problem.tests:
        # Judged by orchestration's handler, whose tests may change without our knowing:
        # its entries are offered, and run again like any candidate.
        verified = {}
    offer = PoolOffer(
        programs=tuple(e.program for e in chosen + stale),
        nearest_distance=nearest[0].distance if nearest else None,
        verified=verified,
    )
    return PoolPick(offer, tuple(e.key for e in stale))


def known_programs(problem: Problem) -> tuple[str, ...]:
    """Every program the pool holds as correct for the problem's current tests (the leak
    guard compares a hint with all of them)."""
    index, _ = current_index(problem)
    return tuple(entry.program for entry in index.entries)


def drop(entry_ids: Iterable[int]) -> int:
    """Remove entries (stale ones, once handed over for re-verification)."""
    ids = list(entry_ids)
    if not ids:
        return 0
    return SolutionPoolEntry.delete().where(SolutionPoolEntry.id.in_(ids)).execute()
