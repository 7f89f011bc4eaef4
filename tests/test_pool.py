"""The solution pool's domain rules: normal form, dedup key and retrieval (no database)."""

from __future__ import annotations

import random

import pytest
from rapidfuzz.distance import Levenshtein

from hint_core.ai_config import AIConfigError, PoolConfig, load_ai_config
from hint_core.pool import PoolEntry, PoolIndex, canonical_source, canonical_tokens, dedup_key, work_seconds
from hint_core.problems import ProblemBank
from hint_core.sandbox import RunResult

LOOP = "def total(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n"


@pytest.mark.parametrize(
    "variant",
    [
        "def total(xs):\n    # add them up\n    s = 0\n    for x in xs:\n        s = s + x  # running sum\n    return s\n",
        "def total(items):\n    acc = 0\n    for item in items:\n        acc = acc + item\n    return acc\n",
        'def total(xs):\n    """Sum of xs."""\n    s=0\n\n    for x in xs: s = (s + x)\n    return s\n',
    ],
    ids=["comments", "names", "docstring-and-layout"],
)
def test_comments_layout_and_names_do_not_make_a_new_entry(variant):
    assert dedup_key(variant) == dedup_key(LOOP)
    assert canonical_tokens(variant) == canonical_tokens(LOOP)


@pytest.mark.parametrize(
    "different",
    [
        LOOP.replace("s + x", "s - x"),  # another operator
        LOOP.replace("s = 0", "s = 1"),  # another constant
        LOOP.replace("def total", "def summe"),  # the function name is the interface
        "def total(xs):\n    return sum(xs)\n",
        "def total(xs):\n    return xs.count(0)\n",
    ],
)
def test_what_a_program_does_makes_a_new_entry(different):
    assert dedup_key(different) != dedup_key(LOOP)


def test_attributes_imports_and_builtins_keep_their_names():
    program = "import math\n\ndef f(values):\n    return math.prod(sorted(values)).bit_length()\n"
    source = canonical_source(program)
    assert "math.prod(sorted(v0)).bit_length()" in source
    assert dedup_key(program) != dedup_key(program.replace("sorted", "reversed"))


def test_a_program_that_does_not_parse_still_has_tokens_and_a_key():
    broken = "def total(xs)\n    return sum(xs)\n"
    assert canonical_source(broken) is None
    assert "return" in canonical_tokens(broken)
    assert dedup_key(broken) == dedup_key(broken.replace("xs", "values"))


def _entries(programs: list[str]) -> list[PoolEntry]:
    return [PoolEntry(i, p, tuple(canonical_tokens(p)), 0.01 * (len(programs) - i), "test") for i, p in enumerate(programs)]


def _random_programs(n: int, seed: int) -> list[str]:
    """Distinct loop programs of varied length: what a pool of student programs looks like."""
    rng = random.Random(seed)
    statements = ["s = s + x", "s = s * x", "s += 1", "c = c + 1", "s = s - x // 2", "m = max(m, x)", "t.append(x)"]
    out = []
    for _ in range(n):
        body = "\n".join("        " + rng.choice(statements) for _ in range(rng.randint(1, 6)))
        guard = rng.choice(["", "    if not xs:\n        return 0\n"])
        out.append(f"def total(xs):\n{guard}    s, c, m, t = 0, 0, 0, []\n    for x in xs:\n{body}\n    return s\n")
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nearest_agrees_with_a_full_scan(seed):
    programs = _random_programs(300, seed)
    entries = _entries(programs)
    index = PoolIndex(entries)
    for student in _random_programs(10, seed + 100):
        student_tokens = canonical_tokens(student)
        full = sorted((Levenshtein.distance(student_tokens, list(e.tokens)), e.key) for e in entries)
        got = index.nearest(student, k=3)
        assert [(m.distance, m.entry.key) for m in got] == full[:3]


def test_nearest_finds_the_program_with_the_smallest_edit():
    entries = _entries([LOOP.replace("s + x", "s * x + 1"), "def total(xs):\n    return sum(xs)\n", LOOP])
    student = LOOP.replace("s = s + x", "s = s - x").replace("xs", "numbers")  # renamed: no distance
    best = PoolIndex(entries).nearest(student)[0]
    assert (best.entry.key, best.distance) == (2, 1)


def test_equally_near_entries_come_in_key_order():
    entries = _entries([LOOP.replace("s + x", "s * x"), LOOP.replace("s + x", "s / x")])
    assert [m.entry.key for m in PoolIndex(entries).nearest(LOOP, k=2)] == [0, 1]


def test_nearest_on_an_empty_pool_is_empty():
    assert PoolIndex([]).nearest(LOOP) == []


def test_fastest_orders_by_run_time():
    entries = [PoolEntry(1, "a", ("a",), 0.5, "t"), PoolEntry(2, "b", ("b",), 0.1, "t"), PoolEntry(3, "c", ("c",), 0.3, "t")]
    assert [e.key for e in PoolIndex(entries).fastest(2)] == [2, 3]


def test_reference_solutions_of_the_bank_are_distinct_entries():
    bank = ProblemBank()
    for problem_id in bank.ids():
        solutions = bank.get(problem_id).solutions
        assert len({dedup_key(s) for s in solutions}) == len(solutions), problem_id


def test_work_seconds_prefers_the_measured_cpu_time():
    run = RunResult(correct=True, status="passed", run_time=0.08)
    assert work_seconds(run) == 0.08
    run.cpu_time = 0.002  # the sandbox measures CPU time where it can
    assert work_seconds(run) == 0.002


@pytest.mark.parametrize("value", [-1, "3", 2.5, True])
def test_a_bad_skip_threshold_stops_the_service_with_the_key_named(tmp_path, value):
    path = tmp_path / "ai_config.yaml"
    path.write_text(f"pool:\n  skip_llm_when_distance_at_most: {value!r}\n")
    with pytest.raises(AIConfigError, match="'pool.skip_llm_when_distance_at_most'"):
        load_ai_config(path)


def test_the_skip_threshold_may_be_zero_or_null(tmp_path):
    path = tmp_path / "ai_config.yaml"
    path.write_text("pool:\n  candidates: 5\n  skip_llm_when_distance_at_most: 0\n")
    assert load_ai_config(path).pool == PoolConfig(candidates=5, skip_llm_when_distance_at_most=0)
    path.write_text("pool:\n  skip_llm_when_distance_at_most: null\n")
    assert load_ai_config(path).pool.skip_llm_when_distance_at_most is None


def test_an_extended_index_answers_like_one_built_from_scratch():
    programs = _random_programs(200, 9)
    first, later = _entries(programs[:120]), _entries(programs)[120:]
    grown = PoolIndex(first).extended(later)
    fresh = PoolIndex(first + later)
    for student in _random_programs(5, 99):
        assert [(m.distance, m.entry.key) for m in grown.nearest(student, 3)] == \
            [(m.distance, m.entry.key) for m in fresh.nearest(student, 3)]
    assert len(grown) == 200 and [e.key for e in grown.fastest(3)] == [e.key for e in fresh.fastest(3)]
