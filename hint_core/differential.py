"""Differential testing: does a program that passes every test also agree with the
reference solutions on inputs the tests do not try?

The pool (hint_actors/pool_store.py) holds programs as known-correct and builds later
hints on them, so passing weak tests is not enough: tests only for n >= 1 let a program
wrong at n = 0 through. Before a program joins the pool it is run on generated inputs
of the tests' own shapes, and compared with what the reference solutions return there.

- Inputs (`generated_tests`): derived from each test's arguments, one argument changed at
  a time, edge values first: ints 0, 1, 2 and the test's value +-1 (negatives only when
  the test's value is negative: a problem about non-negative n says nothing of -1),
  floats likewise, strings empty / one character / reversed / other case / shortened /
  lengthened, lists and tuples empty / one item / reversed / one item changed / one
  more, sets and dicts likewise, nested values changed inside. Fixed seed, at most
  `MAX_INPUTS`: the same inputs on every run and every machine.
- Expected values (`reference_tests`): every reference solution runs on the inputs (one
  sandboxed run each, through the executor: the one place that runs code). An input on
  which a reference raises, times out, or on which two references disagree is dropped:
  the problem does not say what is right there.
- The check (`compare`): the program runs once on the inputs that are left, judged by the
  sandbox's own judge with the problem's comparison options (float tolerance,
  order-insensitivity, bool/int equivalence, the test's transform). Any input where it
  returns something else, raises, or does not finish is a disagreement: a likely
  missing test, reported to instructors.

Applies to function problems with local tests and at least one reference solution;
stdin/stdout problems, problems without a reference and problems judged by
orchestration keep the plain rule (every test passed). Domain logic only: it runs
programs through the `run` callable it is given.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hint_core.problems import Problem, TestCase, _canonical
from hint_core.sandbox.results import NO_VALUE, RunResult, TransformError, apply_transform, values_equal

MAX_INPUTS = 30  # generated inputs per problem: enough to find the usual edge cases, one run
SEED = 14  # fixed: the same inputs everywhere, so a gap found once is found again
GENERATED = "generated"  # the name of a generated test (the sandbox's verdict names it)

Run = Callable[[Problem, str], RunResult]


def applies(problem: Problem) -> bool:
    """Whether programs of `problem` are checked against its reference solutions."""
    return problem.kind == "function" and bool(problem.tests) and bool(problem.solutions)


# --- inputs -----------------------------------------------------------------------------


def _int_variants(value: int) -> list[int]:
    out = [0, 1, 2, value - 1, 3]
    if abs(value) < 10:  # not beyond large values: a slow (still correct) program times out there
        out.append(value + 1)
    if value < 0:
        out += [-1, -value]
    return [v for v in out if v >= 0 or value < 0]


def _float_variants(value: float) -> list[float]:
    out = [0.0, 1.0, value + 0.5, value - 0.5, 2.5]
    if value < 0:
        out += [-1.0, -value]
    return [v for v in out if v >= 0 or value < 0]


def _str_variants(value: str, rng: random.Random) -> list[str]:
    letters = "abcxyz AEIOU,."
    out = ["", value[:1], value[::-1], value.swapcase(), value[1:], value + value[-1:], value[:-1]]
    if value:
        at = rng.randrange(len(value) + 1)
        out.append(value[:at] + rng.choice(letters) + value[at:])
    out.append(rng.choice(letters))
    return out


def variants(value: Any, rng: random.Random, depth: int = 0) -> list[Any]:
    """Values of `value`'s shape, the plainest edge cases first."""
    t = type(value)
    if t is bool:
        return [not value]
    if t is int:
        return _int_variants(value)
    if t is float:
        return _float_variants(value)
    if t is str:
        return _str_variants(value, rng)
    if depth >= 3:
        return []
    if t in (list, tuple):
        items = list(value)
        out: list[list[Any]] = [[], items[:1], items[::-1], items[1:], items + items[-1:]]
        if items:
            at = rng.randrange(len(items))
            for changed in variants(items[at], rng, depth + 1)[:3]:
                out.append(items[:at] + [changed] + items[at + 1:])
            shuffled = items[:]
            rng.shuffle(shuffled)
            out.append(shuffled)
        return [t(v) for v in out]
    if t in (set, frozenset):
        items = list(value)
        sets = [t(), t(items[:1]), t(items[1:])]
        if items:
            sets += [t(items[1:] + [v]) for v in variants(items[0], rng, depth + 1)[:3] if _hashable(v)]
        return sets
    if t is dict:
        pairs = list(value.items())
        dicts = [{}, dict(pairs[:1]), dict(pairs[1:])]
        if pairs:
            key, item = pairs[rng.randrange(len(pairs))]
            dicts += [{**value, key: v} for v in variants(item, rng, depth + 1)[:3]]
            dicts += [{**value, k: item} for k in variants(key, rng, depth + 1)[:2] if _hashable(k)]
        return dicts
    return []


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _key(test: TestCase, function: str | None) -> str:
    return json.dumps([function, _canonical(list(test.args)), _canonical(test.kwargs)], sort_keys=True, default=repr)


def _candidates(problem: Problem, rng: random.Random) -> Iterator[TestCase]:
    """Every test with one argument changed, round by round: the first variant of every
    argument of every test, then the second, ... (edge values come first)."""
    per_slot: list[tuple[TestCase, str | int, list[Any]]] = []
    for test in problem.tests:
        for position, arg in enumerate(test.args):
            per_slot.append((test, position, variants(arg, rng)))
        for name, arg in test.kwargs.items():
            per_slot.append((test, name, variants(arg, rng)))
    longest = max((len(v) for _, _, v in per_slot), default=0)
    for round_ in range(longest):
        for test, slot, values in per_slot:
            if round_ >= len(values):
                continue
            if isinstance(slot, int):
                args = test.args[:slot] + (values[round_],) + test.args[slot + 1:]
                kwargs = test.kwargs
            else:
                args, kwargs = test.args, {**test.kwargs, slot: values[round_]}
            yield TestCase(name=GENERATED, args=args, kwargs=dict(kwargs), function=test.function,
                           transform=test.transform)


def generated_tests(problem: Problem, limit: int = MAX_INPUTS, seed: int = SEED) -> tuple[TestCase, ...]:
    """Up to `limit` inputs no test tries, of the tests' shapes (expected values unknown)."""
    rng = random.Random(seed)
    seen = {_key(t, problem.test_function(t)) for t in problem.tests}
    out: list[TestCase] = []
    for test in _candidates(problem, rng):
        key = _key(test, problem.test_function(test))
        if key in seen:
            continue
        seen.add(key)
        out.append(test)
        if len(out) >= limit:
            break
    return tuple(out)


# --- expected values --------------------------------------------------------------------


def _same(a: Any, b: Any, problem: Problem) -> bool:
    return values_equal(a, b, problem.compare) and values_equal(b, a, problem.compare)


def reference_tests(problem: Problem, run: Run, limit: int = MAX_INPUTS) -> tuple[TestCase, ...]:
    """The generated inputs with the value every reference solution agrees on as expected
    (inputs where one raises, runs out of time, or two disagree are dropped)."""
    probe = generated_tests(problem, limit)
    if not probe or not problem.solutions:
        return ()
    asked = dataclasses.replace(problem, tests=probe)
    answers = [run(asked, solution).returned for solution in problem.solutions]
    kept = []
    for i, test in enumerate(probe):
        values = [a[i] if i < len(a) else NO_VALUE for a in answers]
        if any(v is NO_VALUE for v in values):
            continue
        try:
            values = [apply_transform(v, test.transform) for v in values]
        except TransformError:
            continue
        if all(_same(values[0], v, problem) for v in values[1:]):
            kept.append(dataclasses.replace(test, name=f"{GENERATED} {i + 1}", expected=values[0]))
    return tuple(kept)


# --- the check --------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """The first generated input where a program and the reference solutions part."""

    call: str  # factorial(0)
    reference: str  # repr of what the reference solutions return
    program: str  # what the program did: a repr, or "raised ValueError: ..."


def compare(problem: Problem, program: str, expected: tuple[TestCase, ...], run: Run) -> Disagreement | None:
    """None when `program` returns what the references return on every input of
    `expected` (from `reference_tests`), else where it first does not. One run."""
    if not expected:
        return None
    result = run(dataclasses.replace(problem, tests=expected), program)
    if result.correct:
        return None
    failure = result.first_failure
    if failure is None:  # refused before any test: say why
        return Disagreement("the program", "", result.error or result.status)
    if failure.status == "wrong_answer":
        did = f"returned {failure.actual}"
    elif failure.status == "exception":
        did = f"raised {failure.error}"
    else:
        did = failure.describe().removeprefix(failure.call).strip()
        did = did.split(" (expected")[0]
    return Disagreement(failure.call, failure.expected, did)
