"""Which line of a failing program a debug hint should point at, and why.

Two kinds of evidence meet here. The run says how the program fails: a syntax error (the
line is known), a test that never finishes (a loop or recursion that does not stop), a
value of the wrong type, a value that only one `return` can have produced, nothing
returned at all. The comparison with the nearest correct program says where the program
departs from one that works (`program_diff`). A line both point at is the answer; when
they disagree the run's evidence wins, and without it the most telling departure does:
changed or missing code before extra code, and code that no correct program contains
before code that some correct program has too.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from hint_core import program_checks as checks
from hint_core.pool import canonical_tokens
from hint_core.problems import Problem
from hint_core.program_diff import Departure, Parsed, Shapes, departures, parse
from hint_core.sandbox import RunResult, TestResult


@dataclass(frozen=True)
class Region:
    """Where to look: a line (None when the problem is something missing, like a return)
    and what is there, with an optional second line that belongs to the same story."""

    line: int | None
    construct: str
    evidence: str  # "syntax", "loop", "recursion", "type", "path", "no return", "departure", "exception"
    reason: str  # for the teacher
    also: int | None = None
    name: str | None = None  # a variable the story is about
    departure: Departure | None = None
    message: str | None = None  # a syntax error's message


def _literal(text: str | None) -> tuple[bool, object]:
    if text is None:
        return False, None
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _syntax_region(program: str) -> Region | None:
    try:
        ast.parse(program)
    except SyntaxError as exc:
        return Region(exc.lineno, "syntax", "syntax", "Python cannot read this line", message=exc.msg)
    except ValueError:
        return None
    return None


def _function(parsed: Parsed, problem: Problem) -> ast.FunctionDef | None:
    return parsed.functions.get(problem.function) if problem.function else None


def _runaway(parsed: Parsed, problem: Problem, failure: TestResult) -> list[Region]:
    """A test that never finished or recursed too deep: loops and recursion that do not stop."""
    out = []
    recursion = failure.status == "exception" and (failure.error or "").startswith("RecursionError")
    function = _function(parsed, problem)
    if function is not None and checks.calls_itself(function):
        suspect = checks.runaway_recursion(function)
        out.append(Region(suspect.line, suspect.construct, "recursion", suspect.reason))
    if not recursion:
        for suspect in checks.stuck_loops(parsed.tree):
            out.append(Region(suspect.line, suspect.construct, "loop", suspect.reason, suspect.also, suspect.name))
    return out


def _control_region(node: ast.AST, why: str) -> Region:
    construct = "loop" if isinstance(node, ast.For | ast.While) else "condition"
    return Region(node.lineno, construct, "path", why)


def _wrong_value(parsed: Parsed, problem: Problem, failure: TestResult) -> list[Region]:
    """A wrong result of a function: which statement can have produced it."""
    function = _function(parsed, problem)
    ok_actual, actual = _literal(failure.actual)
    ok_expected, expected = _literal(failure.expected)
    if function is None or not (ok_actual and ok_expected):
        return []
    returns = checks.returns(function)
    up = checks.parents(function)

    def constant_returns(value: object) -> list[ast.Return]:
        return [r for r in returns if isinstance(r.value, ast.Constant | type(None))
                and _same(r.value.value if r.value is not None else None, value)]

    if actual is None and not constant_returns(None):
        dropped = checks.dropped_values(function)
        if dropped:
            node = dropped[0]
            printed = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "print"
            return [Region(node.lineno, "print" if printed else "dropped value", "no return",
                           "the value is printed, not returned" if printed else "the value is computed and dropped")]
        if not returns:
            return [Region(None, "return", "no return", "the function has no return statement")]
        return [Region(None, "return", "no return", "a path through the function ends without a return",
                       also=_open_path_line(function, up))]

    produced = constant_returns(actual)
    if produced:
        wanted = constant_returns(expected)
        if wanted or actual is None:
            # The right value exists elsewhere (or None means "no answer"): the wrong path ran.
            target = wanted[0] if wanted else produced[0]
            return [_control_region(c, "the test takes the wrong path") for c in checks.controls(target, function, up)]
        if type(actual) is not type(expected):
            return [Region(produced[0].lineno, "return", "type", "this return gives a value of the wrong type")]
        return []

    if type(actual) is not type(expected):
        typed = [r for r in returns if checks.static_type(r.value, function) is type(actual)]
        unknown = [r for r in returns if checks.static_type(r.value, function) is None]
        for r in typed + unknown:
            origin = None
            if isinstance(r.value, ast.Name):
                made = checks.assignments(function, r.value.id)
                origin = made[0].lineno if made else None
            return [Region(r.lineno, "return", "type", "this return gives a value of the wrong type",
                           also=origin if origin != r.lineno else None,
                           name=r.value.id if isinstance(r.value, ast.Name) else None)]
    return []


def _open_path_line(function: ast.FunctionDef, up: dict[int, ast.AST]) -> int | None:
    """The `if` after which a function can fall off its end (an if that returns, no else)."""
    last = function.body[-1] if function.body else None
    if isinstance(last, ast.If) and not last.orelse:
        return last.lineno
    return None


def evidence_regions(parsed: Parsed, problem: Problem, run: RunResult | None) -> list[Region]:
    """What the run says about where the fault is (empty: the run does not say)."""
    failure = run.first_failure if run else None
    if failure is None:
        return []
    timed_out = failure.status in ("timeout", "crashed") or (failure.error or "").startswith("RecursionError")
    if timed_out:
        return _runaway(parsed, problem, failure)
    if failure.status == "wrong_answer" and problem.kind == "function":
        return _wrong_value(parsed, problem, failure)
    return []


# --- departures ranked ---------------------------------------------------------------


def _fragment(d: Departure) -> ast.AST | None:
    """The part of the student's statement that differs, widened to a meaningful unit."""
    s = d.student
    if s is None:
        return None
    if isinstance(s, ast.For):
        return s.iter
    if isinstance(s, ast.If | ast.While):
        return s.test
    if isinstance(s, ast.Return | ast.Assign | ast.Expr) and s.value is not None:
        return s.value
    return s


def known_shapes(programs: Sequence[Parsed]) -> set[str]:
    """Shapes of every statement and expression of some correct programs."""
    shapes = set()
    for program in programs:
        shape = Shapes(program.bound)
        shapes.update(shape(n) for n in ast.walk(program.tree) if isinstance(n, ast.stmt | ast.expr))
    return shapes


def rank(found: list[Departure], student: Parsed, known: set[str]) -> list[Departure]:
    """Changed, missing and reordered code first, then extra compound statements, then
    extra simple ones; within each, code that some correct program also has comes last."""
    shape = Shapes(student.bound)

    def key(d: Departure) -> tuple[int, int, int]:
        fragment = _fragment(d)
        familiar = d.kind in ("changed", "extra") and fragment is not None and shape(fragment) in known
        tier = 0 if d.kind in ("changed", "missing", "order") else 1 if d.compound else 2
        return (1 if familiar else 0, tier, d.line or 0)

    return sorted(found, key=key)


def _closest_departures(student_program: str, student: Parsed, reference: str | None,
                        known_correct: Sequence[str]) -> list[Departure]:
    """Ranked departures from the correct program nearest to the student's in normalized
    tokens (variable names do not count), among the selected reference and the other
    known-correct programs; ties keep the selected reference."""
    programs = [s for s in dict.fromkeys([reference or "", *known_correct]) if s]
    parsed = {s: p for s in programs if (p := parse(s)) is not None}
    if not parsed:
        return []
    mine = canonical_tokens(student_program)
    nearest = min(parsed, key=lambda s: Levenshtein.distance(mine, canonical_tokens(s)))
    return rank(departures(student, parsed[nearest]), student, known_shapes(list(parsed.values())))


def _effect_line(d: Departure) -> int | None:
    """For a loop that goes over the wrong thing: the first line that uses what it yields."""
    s = d.student
    if isinstance(s, ast.For) and d.aspect in ("iterable", "bounds") and isinstance(s.target, ast.Name):
        line = checks.first_use(s.body, s.target.id)
        return line if line != s.lineno else None
    return None


def _from_departure(d: Departure) -> Region:
    return Region(d.line, d.construct, "departure", f"{d.kind} {d.aspect}", also=_effect_line(d), departure=d)


def locate(
    problem: Problem,
    student_program: str,
    run: RunResult | None,
    reference: str | None,
    known_correct: Sequence[str] = (),
) -> Region | None:
    """The region a debug hint points at, or None when nothing can be said."""
    syntax = _syntax_region(student_program)
    if syntax is not None:
        return syntax
    student = parse(student_program)
    if student is None:
        return None
    evidence = evidence_regions(student, problem, run)
    ranked = _closest_departures(student_program, student, reference, known_correct)
    if evidence:
        lines = {r.line for r in evidence}
        for d in ranked:
            if d.line in lines and d.kind != "missing":
                region = next((r for r in evidence if r.line == d.line), None)
                return region or _from_departure(d)
        return evidence[0]
    if ranked:
        return _from_departure(ranked[0])
    failure = run.first_failure if run else None
    if failure is not None and failure.line:
        return Region(failure.line, "statement", "exception", "the error happens here")
    return None
