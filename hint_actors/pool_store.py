"""The solution pool in the database: add verified programs, offer entries as candidates.

The domain rules (normal form, dedup key, retrieval) live in `hint_core.pool`; this module
only reads and writes `SolutionPoolEntry` rows.

Entries are tied to the tests version they passed. Entries of an older version are never
offered as correct: they go back into the pipeline as ordinary candidates, which runs
them against the current tests, and they leave the pool as they are offered. A program
that still passes comes back under the current version; one that fails is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from peewee import IntegrityError

from hint_core.pool import PoolEntry, PoolIndex, PoolOffer, canonical_tokens, dedup_key, work_seconds
from hint_core.problems import Problem
from hint_core.sandbox import RunResult
from models import SolutionPoolEntry, write_transaction

log = logging.getLogger("hint.pool")


def add_to_pool(problem: Problem, program: str, run: RunResult, source: str) -> bool:
    """Keep a program that passed every test; False when it failed or is known already."""
    if not run.correct or not program.strip():
        return False
    key = dedup_key(program)
    version = problem.tests_version
    exists = SolutionPoolEntry.select().where(
        (SolutionPoolEntry.problem_id == problem.id)
        & (SolutionPoolEntry.tests_version == version)
        & (SolutionPoolEntry.normalized_hash == key)
    )
    if exists.exists():
        return False
    try:
        with write_transaction():
            SolutionPoolEntry.create(
                problem_id=problem.id, tests_version=version, normalized_hash=key, program=program,
                tokens=canonical_tokens(program), run_time=work_seconds(run), source=source,
            )
    except IntegrityError:  # the same program, stored a moment ago by another worker
        return False
    log.info("problem %s: pool entry added from %s", problem.id, source)
    return True


def _entry(row: SolutionPoolEntry) -> PoolEntry:
    return PoolEntry(row.id, row.program, tuple(row.tokens), row.run_time, row.source)


def _rows(problem: Problem, current: bool) -> list[SolutionPoolEntry]:
    same = SolutionPoolEntry.tests_version == problem.tests_version
    return list(SolutionPoolEntry.select().where((SolutionPoolEntry.problem_id == problem.id) & (same if current else ~same)))


def load_entries(problem: Problem, current: bool = True) -> list[PoolEntry]:
    """The pool of a problem verified against its current tests (or, with current=False,
    the entries of older test versions, waiting for re-verification)."""
    return [_entry(row) for row in _rows(problem, current)]


@lru_cache(maxsize=256)
def _reference_keys(solutions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(dedup_key(s) for s in solutions)


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


def pick_candidates(problem: Problem, hint_type: str, student_program: str, k: int) -> PoolPick:
    """Up to `k` current entries (nearest for plan/debug, fastest for optimize) that are
    not a reference solution (those are offered anyway), plus up to `k` stale entries
    chosen the same way, to be re-verified."""
    references = _reference_keys(problem.solutions)
    rows = _rows(problem, current=True)
    index = PoolIndex(_entry(r) for r in rows)
    nearest = index.nearest(student_program, 1)
    chosen = _choose(index, hint_type, student_program, k, frozenset(r.id for r in rows if r.normalized_hash in references))
    stale = _choose(PoolIndex(load_entries(problem, current=False)), hint_type, student_program, k, frozenset())
    offer = PoolOffer(
        programs=tuple(e.program for e in chosen + stale),
        nearest_distance=nearest[0].distance if nearest else None,
    )
    return PoolPick(offer, tuple(e.key for e in stale))


def drop(entry_ids: Iterable[int]) -> int:
    """Remove entries (stale ones, once handed over for re-verification)."""
    ids = list(entry_ids)
    if not ids:
        return 0
    return SolutionPoolEntry.delete().where(SolutionPoolEntry.id.in_(ids)).execute()
