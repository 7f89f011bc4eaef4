"""How fast the solution pool answers "nearest correct program": `python -m scripts.bench_pool`.

Builds a pool of thousands of distinct entries for one problem (variants of its reference
solutions: extra statements, other constants, other operators, so that every entry has
its own normal form), then times, for a set of buggy student programs:

- the index: `PoolIndex(entries).nearest(program)` (length-pruned, rapidfuzz on strings);
- the same with building the index (what one request pays when it loads the pool);
- what a request pays in `hint_actors.pool_store.pick_candidates` against SQLite: the
  first one in a process (load every row, build), later ones (a freshness check on the
  cached index), and one after a new entry joined (load that row, extend the index);
- baseline A: a scan that tokenizes every entry and compares token lists with rapidfuzz
  (what `select_candidate` does with candidates);
- baseline B: a naive pure-Python Levenshtein over the same pre-tokenized entries.

Each baseline must find the same distance as the index. Prints medians and ratios.

Then what a correct program pays to join the pool (`pool_store.add_to_pool`, issue 14):
without the differential check (a problem without reference solutions: today's rule),
with it once the reference solutions' answers are cached (one more sandboxed run), the
first time in a process (the references run too), and for a program already vouched for;
next to what the program's own run against the tests takes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from hint_core.enums import Source
from hint_core.pool import PoolEntry, PoolIndex, canonical_tokens, dedup_key
from hint_core.problems import Problem, ProblemBank
from migrations import migrate
from runtime import bind_database
from settings import load_settings

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "buggy"

_EXTRA = ["count = 0", "seen = []", "tmp = {k} * 2", "flag = False", "limit = {k}", "step = 1", "acc = []"]
_OPS = [("+", "-"), ("*", "+"), ("<", "<="), ("==", "!="), ("0", "1"), ("1", "2"), ("2", "3")]


def variants(solutions: tuple[str, ...], n: int, seed: int = 7) -> list[str]:
    """`n` programs with distinct normal forms, made from the reference solutions."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        lines = rng.choice(solutions).rstrip("\n").splitlines()
        body = [i for i, line in enumerate(lines) if line.startswith("    ")]
        for _ in range(rng.randint(1, 4)):
            if body:
                at = rng.choice(body)
                indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
                lines.insert(at, indent + rng.choice(_EXTRA).format(k=rng.randint(0, 99)))
        if rng.random() < 0.5 and body:
            at = rng.choice(body)
            old, new = rng.choice(_OPS)
            lines[at] = lines[at].replace(old, new, 1)
        program = "\n".join(lines) + "\n"
        key = dedup_key(program)
        if key not in seen:
            seen.add(key)
            out.append(program)
    return out


def naive_levenshtein(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def fill_database(programs: list[str]) -> None:
    """A throwaway SQLite database, bound for the models, to hold the pools measured."""
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-pool-')) / 'pool.db'}"
    migrate(url)
    bind_database(load_settings({"DATABASE_URL": url}))


def request_costs(problem: Problem, programs: list[str], query: str, repeat: int) -> tuple[float, float, float]:
    """(first request: load + build + query, later request: cache check + query, one added
    entry: cache check + the new row + query), in ms, through hint_actors.pool_store."""
    from hint_actors import pool_store
    from models import SolutionPoolEntry, db

    with db.atomic():
        for program in programs:
            SolutionPoolEntry.create(
                problem_id=problem.id, tests_version=problem.tests_version, normalized_hash=dedup_key(program),
                program=program, tokens=canonical_tokens(program), run_time=0.001, source=Source.POOL,
            )

    def pick() -> None:
        pool_store.pick_candidates(problem, "debug", query, k=3)

    def cold() -> None:
        pool_store._INDEXES.clear()
        pick()

    def one_more() -> None:
        extra = variants(problem.solutions, 1, seed=random.randrange(10**9))[0] + f"# {random.random()}\n"
        SolutionPoolEntry.create(
            problem_id=problem.id, tests_version=problem.tests_version, normalized_hash=f"{random.random()}",
            program=extra, tokens=canonical_tokens(extra), run_time=0.001, source=Source.POOL,
        )
        started = time.perf_counter()
        pick()
        times.append(time.perf_counter() - started)

    first = median_ms(cold, repeat)
    pick()
    later = median_ms(pick, repeat)
    times: list[float] = []
    for _ in range(repeat):
        one_more()
    return first, later, statistics.median(times) * 1000


def join_costs(problem: Problem, repeat: int) -> dict[str, float]:
    """Median ms of add_to_pool for distinct correct programs (each run against the tests
    first, untimed), in the cases the docstring lists; and the run itself."""
    import dataclasses

    from hint_actors import pool_store
    from hint_core.sandbox import ForkServerExecutor, SandboxConfig

    executor = ForkServerExecutor(SandboxConfig())
    base = problem.solutions[0].rstrip("\n").splitlines()
    at = next(i for i, line in enumerate(base) if line.startswith("    "))
    counter = iter(range(1, 10**6))

    def fresh() -> str:  # a correct program with a normal form of its own
        n = next(counter)
        return "\n".join(base[:at] + ["    _pad = 0"] * n + base[at:]) + "\n"

    def timed(target: Problem, before: Callable[[], None] = lambda: None, program: str | None = None) -> float:
        times = []
        for _ in range(repeat):
            text = program or fresh()
            run = executor.run(target, text)
            assert run.correct, run.first_failure_text()
            before()
            started = time.perf_counter()
            pool_store.add_to_pool(target, [(text, run, Source.STUDENT)], executor.run)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    executor.run(problem, problem.solutions[0])  # the sandbox server is up
    own = median_ms(lambda: executor.run(problem, fresh()), repeat)
    plain = timed(dataclasses.replace(problem, solutions=()))
    first = timed(problem, before=pool_store._REFERENCE_TESTS.clear)
    cached = timed(problem)
    known = fresh()
    pool_store.add_to_pool(problem, [(known, executor.run(problem, known), Source.STUDENT)], executor.run)
    again = timed(problem, program=known)
    executor.close()
    return {"own": own, "plain": plain, "first": first, "cached": cached, "known": again,
            "inputs": len(pool_store.reference_tests(problem, executor.run))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="word_frequencies")
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument("--naive-queries", type=int, default=2, help="queries for the slow pure-Python baseline")
    args = parser.parse_args(argv)

    fill_database([])
    problem = ProblemBank().get(args.problem)
    started = time.perf_counter()
    programs = variants(problem.solutions, args.entries)
    entries = [PoolEntry(i, p, tuple(canonical_tokens(p)), 0.001, "bench") for i, p in enumerate(programs)]
    built = time.perf_counter() - started
    queries = [p.read_text() for p in sorted((FIXTURES / args.problem).glob("*.py"))] or list(problem.solutions)
    sizes = [len(e.tokens) for e in entries]
    print(f"problem {args.problem}: {len(entries)} distinct entries ({min(sizes)}-{max(sizes)} tokens, "
          f"median {statistics.median(sizes):.0f}), built in {built:.1f}s; {len(queries)} student programs")

    index = PoolIndex(entries)
    tokens = [canonical_tokens(q) for q in queries]
    index_ms, build_ms, scan_ms, naive_ms = [], [], [], []
    for query, query_tokens in zip(queries, tokens, strict=True):
        best = index.nearest(query)[0].distance
        scan_best = min(Levenshtein.distance(query_tokens, canonical_tokens(e.program)) for e in entries)
        assert scan_best == best, "the index and the full scan disagree"
        index_ms.append(median_ms(lambda q=query: index.nearest(q, k=3), args.repeat))
        build_ms.append(median_ms(lambda q=query: PoolIndex(entries).nearest(q, k=3), args.repeat))
        scan_ms.append(median_ms(
            lambda t=query_tokens: min(Levenshtein.distance(t, canonical_tokens(e.program)) for e in entries), 1
        ))
    for query_tokens in tokens[: args.naive_queries]:
        started = time.perf_counter()
        naive_best = min(naive_levenshtein(query_tokens, list(e.tokens)) for e in entries)
        naive_ms.append((time.perf_counter() - started) * 1000)
        assert naive_best == index.nearest_tokens(query_tokens)[0].distance

    first, later, grown = request_costs(problem, programs, queries[0], args.repeat)

    def show(label: str, values: list[float]) -> float:
        value = statistics.median(values)
        print(f"  {label:<58} {value:10.2f} ms")
        return value

    print("median time per query (nearest 3 entries):")
    fast = show("pool index, built once", index_ms)
    show("pool index, built for the query", build_ms)
    show("request, first in this process: SQLite load + build + query", [first])
    show("request, index cached: freshness check + query", [later])
    show("request after one new entry: check + load it + extend + query", [grown])
    scan = show("baseline A: tokenize every entry + rapidfuzz scan", scan_ms)
    naive = show("baseline B: pure-Python Levenshtein, pre-tokenized", naive_ms)
    print(f"speed-up of the index: {scan / fast:,.0f}x over baseline A, {naive / fast:,.0f}x over baseline B")

    joins = join_costs(problem, args.repeat)
    print(f"median time for a correct program to join the pool ({joins['inputs']:.0f} generated inputs):")
    show("the program's own run against the tests (for scale)", [joins["own"]])
    show("join without the differential check (no reference)", [joins["plain"]])
    show("join with it, reference answers cached: one more run", [joins["cached"]])
    show("join with it, first in this process: the references run", [joins["first"]])
    show("join of a program already vouched for", [joins["known"]])
    print(f"added by the differential check: {joins['cached'] - joins['plain']:.1f} ms per new correct program "
          f"({(joins['cached'] - joins['plain']) / joins['own']:.1f}x the program's own run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
