"""Which line of a failing program a debug hint should point at, why, and how sure we are.

Two kinds of evidence meet here.

The run says how the program fails, and that evidence holds whatever correct program is
known: a syntax error or an exception names its line (and the error often says what is
wrong there: a name that is not defined, an index past the end, None where a value was
meant); a test that never finishes points at a loop or a recursion that does not stop; a
value of the wrong type, or None from a function that can end without returning, points
at the return that produced it or at the path that has none.

The comparison with the nearest correct program says where the program departs from one
that works (`program_diff`). That evidence is only as good as the match: when the nearest
correct program is far from the student's, or differs in many places, a departure is as
likely to be a harmless difference of style as the bug. So each departure region carries
a `Confidence`: high when the programs differ in one place (or two, when they are very
close), medium when they are still close, low otherwise; the hint says less as it drops.
Departures in a branch that the failing test does not take in either program (both
programs' conditions are worked out on the test's arguments) are set aside: they cannot
explain this failure.
"""

from __future__ import annotations

import ast
import builtins
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from rapidfuzz.distance import Levenshtein

from hint_core import program_checks as checks
from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.pool import canonical_tokens
from hint_core.problems import Problem
from hint_core.program_diff import Departure, Parsed, Shapes, branches, compare_programs, departures, parse
from hint_core.run_evidence import Failure, parsed_value, unchecked_type

_BUILTINS = frozenset(dir(builtins))


class Clue(StrEnum):
    """What points at the region."""

    SYNTAX = "syntax"  # Python cannot read the line
    ERROR = "error"  # the program raised there
    LOOP = "loop"  # a loop that does not stop
    RECURSION = "recursion"  # a recursion that does not stop
    TYPE = "type"  # a return gives a value of the wrong type
    PATH = "path"  # only one return can give the wrong value: the path that leads there
    NO_RETURN = "no return"  # None or an empty value came back: no return, a print, a path without return
    RANGE = "range"  # a loop over positions that misses some of them
    DEPARTURE = "departure"  # where the program departs from the nearest correct one


class Confidence(StrEnum):
    """How specific a hint built on the region may be."""

    HIGH = "high"  # name the line and what is wrong there
    MEDIUM = "medium"  # name the line, ask what it does
    LOW = "low"  # name no line: the evidence is too weak


@dataclass(frozen=True)
class Region:
    """Where to look: a line (None when the problem is something missing, like a return)
    and what is there, with an optional second line that belongs to the same story."""

    line: int | None
    construct: str
    clue: Clue
    reason: str  # for the teacher
    also: int | None = None
    name: str | None = None  # a variable or method the story is about
    departure: Departure | None = None
    message: str | None = None  # a syntax error's message; a name that was probably meant
    confidence: Confidence = Confidence.HIGH
    error: str | None = None  # the error type, for an ERROR region
    detail: str | None = None  # the error's message (for the words of an ERROR region)


def _syntax_region(program: str, failure: Failure | None) -> Region | None:
    try:
        parse_program(program)
    except SyntaxError as exc:
        return Region(exc.lineno, "syntax", Clue.SYNTAX, "Python cannot read this line", message=exc.msg)
    except (ValueError, RecursionError, MemoryError):
        line = failure.line if failure is not None else None
        return Region(line, "syntax", Clue.SYNTAX, "Python cannot read the program",
                      message="it is too deeply nested")
    return None


def _function(parsed: Parsed, problem: Problem) -> ast.FunctionDef | None:
    return parsed.functions.get(problem.function) if problem.function else None


# --- the run's evidence: errors --------------------------------------------------------------


def _call_on_line(tree: ast.AST, line: int, name: str | None = None) -> ast.Call | None:
    calls = [n for n in checks.nodes_on_line(tree, line) if isinstance(n, ast.Call)]
    if name is not None:
        calls = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == name]
    return min(calls, key=lambda c: c.col_offset) if calls else None


def _quoted_names(message: str | None) -> list[str]:
    """Names quoted in an error message: "name 'totl' is not defined" -> ["totl"]."""
    if not message:
        return []
    parts = message.split("'")
    return [parts[i] for i in range(1, len(parts), 2)]


def _none_source(tree: ast.AST, line: int) -> tuple[str, int, str] | None:
    """For a None met on `line`: a variable read there whose value came from an in-place
    method or print (`seen = seen.add(x)`): (name, line of that assignment, the method)."""
    for node in checks.nodes_on_line(tree, line):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            found = checks.none_assignment(tree, node.id)
            if found is not None:
                return node.id, found[0].lineno, found[1]
        if isinstance(node, ast.Call) and checks.none_maker(node) is not None:
            return "", line, str(checks.none_maker(node))
    return None


def _name_error(tree: ast.AST, failure: Failure) -> Region | None:
    quoted = _quoted_names(failure.error_message)
    undefined = checks.undefined_names(tree, set(_BUILTINS))
    name = quoted[0] if quoted else (undefined[0].id if undefined else None)
    if name is None:
        return None
    uses = checks.uses_of(tree, name)
    line = failure.line or (uses[0].lineno if uses else None)
    if line is None:
        return None
    bound = sorted(checks.bound_anywhere(tree) - {name})
    close = difflib.get_close_matches(name, bound, n=1, cutoff=0.6)
    keyword = {"null": "None", "none": "None", "nil": "None", "true": "True", "false": "False"}.get(name)
    meant = f"={keyword}" if keyword else close[0] if close else None
    return Region(line, "name", Clue.ERROR, f"`{name}` has no value here", name=name, message=meant,
                  error=failure.error_type)


def _error_lines(tree: ast.AST, kind: str | None, message: str) -> list[int]:
    """Lines that can raise this error, read from the program (for a report without a line)."""
    nodes = list(ast.walk(tree))
    quoted = _quoted_names(message)
    found: list[ast.AST] = []
    if kind == "ZeroDivisionError":
        dividing = (ast.Div, ast.FloorDiv, ast.Mod)
        found = [n for n in nodes if isinstance(n, ast.BinOp) and isinstance(n.op, dividing)
                 and not isinstance(n.right, ast.Constant)]
    elif kind in ("IndexError", "KeyError"):
        found = [n for n in nodes if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
                 and not isinstance(n.slice, ast.Constant | ast.Slice)]
    elif kind == "AttributeError" and len(quoted) >= 2:
        found = [n for n in nodes if isinstance(n, ast.Attribute) and n.attr == quoted[1]]
    elif kind == "ValueError" and "int()" in message:
        found = [n for n in nodes if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "int"]
    elif kind == "EOFError":
        found = [n for n in nodes if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "input"]
    elif kind == "TypeError" and "not callable" in message:
        found = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                 and n.func.id in _BUILTINS and checks.assignments_anywhere(tree, n.func.id)]
    elif kind == "UnboundLocalError" and quoted:
        found = checks.uses_of(tree, quoted[0])[:1]
    return sorted({n.lineno for n in found if hasattr(n, "lineno")})


def _error_region(parsed: Parsed, problem: Problem, failure: Failure) -> Region | None:
    """The region of a raised error: its line, and what the error says about it. A report
    without a line (a remote run) gets the one line that can raise it, if only one can."""
    kind, message = failure.error_type, failure.error_message or ""
    tree = parsed.tree
    if failure.line is None and kind != "NameError":
        lines = _error_lines(tree, kind, message)
        failure = replace(failure, line=lines[0] if len(lines) == 1 else None)
    if kind in ("NameError", "UnboundLocalError"):
        if kind == "NameError":
            return _name_error(tree, failure)
        name = next(iter(_quoted_names(message)), None)
        made = [a.lineno for a in checks.assignments_anywhere(tree, name)] if name else []
        return Region(failure.line, "name", Clue.ERROR, "used before it has a value", name=name,
                      also=made[0] if made and made[0] != failure.line else None, error=kind, detail=message)
    line = failure.line
    region = Region(line, "statement", Clue.ERROR, "the error happens here", error=kind, detail=message)
    if line is None:
        return region  # what the error says still helps, without a line
    if "NoneType" in message:
        source = _none_source(tree, line)
        if source is not None:
            name, made, maker = source
            return Region(line, "none", Clue.ERROR, f"a value made by {maker} is None", name=name or None,
                          also=made if made != line else None, message=maker, error=kind, detail=message)
    if kind == "TypeError" and "not callable" in message:
        called = [c.func.id for c in checks.nodes_on_line(tree, line)
                  if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
        shadowed = [n for n in called if n in _BUILTINS and checks.assignments_anywhere(tree, n)]
        if shadowed:
            made = checks.assignments_anywhere(tree, shadowed[0])[0].lineno
            return Region(line, "shadowed", Clue.ERROR, f"`{shadowed[0]}` no longer names the builtin",
                          name=shadowed[0], also=made, error=kind, detail=message)
    if kind == "IndexError":
        loop = checks.enclosing_loop(tree, line)
        return Region(line, "index", Clue.ERROR, "an index past the end", also=loop.lineno if loop else None,
                      error=kind, detail=message)
    if kind == "TypeError" and "not iterable" in message:
        call = _call_on_line(tree, line)
        method = call.func.attr if call is not None and isinstance(call.func, ast.Attribute) else None
        augmented = any(isinstance(n, ast.AugAssign) for n in checks.nodes_on_line(tree, line))
        return Region(line, "iterable", Clue.ERROR, "goes through a value that is not a collection",
                      name="+=" if augmented else method, error=kind, detail=message)
    if kind == "EOFError":
        return Region(line, "input", Clue.ERROR, "reads input the tests do not give",
                      name="function" if problem.kind == "function" else "stdio", error=kind, detail=message)
    return region


# --- the run's evidence: loops and recursion that do not stop --------------------------------


def _runaway(parsed: Parsed, problem: Problem, failure: Failure) -> list[Region]:
    """A test that never finished or recursed too deep: loops and recursion that do not stop."""
    out = []
    recursion = failure.error_type == "RecursionError"
    function = _function(parsed, problem)
    if function is not None and checks.calls_itself(function):
        suspect = checks.runaway_recursion(function)
        out.append(Region(suspect.line, suspect.construct, Clue.RECURSION, suspect.reason))
    if not recursion:
        loops = sorted((n for n in ast.walk(parsed.tree) if isinstance(n, ast.While)), key=lambda n: n.lineno)
        away = [s for s in (checks.moves_away(loop) for loop in loops) if s is not None]
        for suspect in away + checks.stuck_loops(parsed.tree):
            out.append(Region(suspect.line, suspect.construct, Clue.LOOP, suspect.reason, suspect.also,
                              suspect.name))
    return out


# --- the run's evidence: a wrong value ---------------------------------------------------------


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def _control_region(node: ast.AST, why: str) -> Region:
    construct = "loop" if isinstance(node, ast.For | ast.While) else "condition"
    return Region(node.lineno, construct, Clue.PATH, why)


def _none_region(function: ast.FunctionDef) -> list[Region]:
    """None came back and the code has no `return None`: why."""
    values = checks.value_returns(function)
    last = function.body[-1]
    last_line = getattr(last, "end_lineno", None) or last.lineno
    if not values:
        dropped = checks.dropped_values(function)
        if dropped:
            node = dropped[0]
            printed = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "print"
            return [Region(node.lineno, "print" if printed else "dropped value", Clue.NO_RETURN,
                           "the value is printed, not returned" if printed else "the value is computed and "
                                                                                "dropped")]
        return [Region(None, "no return", Clue.NO_RETURN, "the function has no return statement",
                       also=last_line)]
    made_none = [r for r in values if checks.none_maker(r.value)]
    if made_none:
        r = made_none[0]
        return [Region(r.lineno, "none", Clue.NO_RETURN, "this return gives back the None of an in-place "
                                                         "method",
                       message=checks.none_maker(r.value))]
    if checks.always_ends(function.body):
        return []  # every path returns a value: the None is a variable's, a departure tells more
    if isinstance(last, ast.If) and not last.orelse and checks.always_ends(last.body):
        return [Region(None, "if without else", Clue.NO_RETURN, "the function ends without a return when "
                                                                "this is false",
                       also=last.lineno)]
    up = checks.parents(function)
    in_loops = [c for r in values for c in checks.controls(r, function, up)
                if isinstance(c, ast.For | ast.While)]
    if in_loops and all(checks.controls(r, function, up) for r in values):
        return [Region(values[0].lineno, "loop return", Clue.NO_RETURN, "returns only from inside the loop",
                       also=in_loops[-1].lineno, message=", ".join(str(r.lineno) for r in values))]
    return [Region(last_line, "path end", Clue.NO_RETURN, "a path reaches the end without a return")]


def _unfilled(function: ast.FunctionDef) -> list[Region]:
    """A returned variable that keeps its empty starting value (printing instead of adding
    to it, say): the return line, and a print that stands where the adding should be."""
    for r in checks.value_returns(function):
        if isinstance(r.value, ast.Name) and (start := checks.never_filled(function, r.value.id)) is not None:
            prints = [n for n in checks.dropped_values(function) if isinstance(n.value, ast.Call)
                      and getattr(n.value.func, "id", None) == "print"]
            return [Region(r.lineno, "unfilled", Clue.NO_RETURN, "the returned value keeps its starting "
                                                                 "value",
                           also=prints[0].lineno if prints else start.lineno, name=r.value.id,
                           message="print" if prints else None)]
    return []


def _first_pass(function: ast.FunctionDef) -> list[Region]:
    """A loop whose body returns whatever happens: it never gets past its first item."""
    for loop in (n for n in checks.own_nodes(function) if isinstance(n, ast.For | ast.While)):
        ends = [s for s in loop.body if isinstance(s, ast.Return)]
        if ends:
            return [Region(ends[0].lineno, "first pass", Clue.NO_RETURN, "the loop returns on its first pass",
                           also=loop.lineno)]
    return []


def _skewed(owner: ast.AST) -> list[Region]:
    return [Region(s.line, "loop", Clue.RANGE, s.reason, also=s.also, name=s.name)
            for s in checks.skewed_ranges(owner)]


def _wrong_value(parsed: Parsed, problem: Problem, failure: Failure) -> list[Region]:
    """A wrong result of a function: which statement can have produced it."""
    function = _function(parsed, problem)
    ok_actual, actual = parsed_value(failure.actual)
    ok_expected, expected = parsed_value(failure.expected)
    if function is not None and not ok_actual and ok_expected and unchecked_type(failure.actual):
        # The sandbox could not show the value, only its type: a type the tests never expect.
        last = checks.value_returns(function)
        return [Region(last[-1].lineno, "return", Clue.TYPE, "this return gives a value of the wrong type")] \
            if last else []
    if function is None or not (ok_actual and ok_expected):
        return []
    returns = checks.returns(function)
    up = checks.parents(function)

    def constant_returns(value: object) -> list[ast.Return]:
        return [r for r in returns if isinstance(r.value, ast.Constant | type(None))
                and _same(r.value.value if r.value is not None else None, value)]

    if actual is None and (not constant_returns(None) or not checks.always_ends(function.body)):
        # No `return None` in the code, or a path that ends without any return: why None came back.
        regions = _none_region(function)
        if regions or not constant_returns(None):
            return regions

    unfilled = _unfilled(function) or _first_pass(function)
    if unfilled:
        return unfilled
    produced = constant_returns(actual)
    if produced:
        wanted = constant_returns(expected)
        if wanted or actual is None:
            # The right value exists elsewhere (or None means "no answer"): the wrong path ran.
            target = wanted[0] if wanted else produced[0]
            return [_control_region(c, "the test takes the wrong path")
                    for c in checks.controls(target, function, up)]
        if type(actual) is not type(expected):
            return [Region(produced[0].lineno, "return", Clue.TYPE, "this return gives a value of the wrong "
                                                                    "type")]
        return []

    if type(actual) is type(expected):
        return _skewed(function)
    if type(actual) is not type(expected):
        typed = [r for r in returns if checks.static_type(r.value, function) is type(actual)]
        unknown = [r for r in returns if checks.static_type(r.value, function) is None]
        for r in typed + unknown:
            origin = None
            if isinstance(r.value, ast.Name):
                made = checks.assignments(function, r.value.id)
                origin = made[0].lineno if made else None
            return [Region(r.lineno, "return", Clue.TYPE, "this return gives a value of the wrong type",
                           also=origin if origin != r.lineno else None,
                           name=r.value.id if isinstance(r.value, ast.Name) else None)]
    return []


def evidence_regions(parsed: Parsed, problem: Problem, failure: Failure | None) -> list[Region]:
    """What the run says about where the fault is (empty: the run does not say)."""
    if failure is None:
        return []
    if failure.status in ("timeout", "crashed") or failure.error_type == "RecursionError":
        return _runaway(parsed, problem, failure)
    if failure.status == "exception" and failure.error_type is not None:
        region = _error_region(parsed, problem, failure)
        return [region] if region is not None else []
    if failure.status == "wrong_answer" and problem.kind == "function":
        return _wrong_value(parsed, problem, failure)
    if failure.status == "wrong_answer":
        return _skewed(parsed.tree)
    return []


# --- departures: which ones matter for this failure -------------------------------------------


def _truth(test: ast.AST, env: dict[str, object]) -> bool | None:
    try:
        return bool(checks.evaluate(test, env, checks.LITERALS))
    except (checks.NotEvaluable, ZeroDivisionError, RecursionError):
        return None


def _arguments(function: ast.FunctionDef | None, failure: Failure | None) -> dict[str, object] | None:
    """The failing test's arguments by parameter name, for the parameters the function
    never changes (None: unknown)."""
    if function is None or failure is None or not failure.call or not failure.call.endswith(")"):
        return None
    start = failure.call.find("(")
    ok, args = parsed_value(f"({failure.call[start + 1:-1]},)") if start > 0 else (False, None)
    if not ok or not isinstance(args, tuple) or len(args) != len(function.args.args):
        return None
    changed = checks.changed_names(function)
    return {a.arg: v for a, v in zip(function.args.args, args, strict=True) if a.arg not in changed}


def _runs(chain: list[ast.If], position: int, env: dict[str, object]) -> bool | None:
    """Whether branch `position` of an if/elif chain runs (len(chain): the else)."""
    for i, branch in enumerate(chain[: position + 1]):
        truth = _truth(branch.test, env)
        if truth is None:
            return None
        if truth != (i == position):
            return False
    return True


def _reached(function: ast.FunctionDef, env: dict[str, object]) -> int:
    """The index of the last top-level statement these arguments reach: a top-level if
    whose taken branch always returns ends the way."""
    for index, statement in enumerate(function.body):
        if not isinstance(statement, ast.If):
            continue
        chain, orelse = branches(statement)
        for position in range(len(chain) + 1):
            taken = _runs(chain, position, env)
            if taken is None:
                return len(function.body) - 1
            body = chain[position].body if position < len(chain) else orelse
            if taken and checks.always_ends(body):
                return index
    return len(function.body) - 1


def _answers_directly(function: ast.FunctionDef, env: dict[str, object]) -> bool:
    """Whether, for these arguments, a recursive function returns from one of its top-level
    ifs without calling itself (a base case): then no other arguments are met."""
    for head in (n for n in function.body if isinstance(n, ast.If)):
        chain, orelse = branches(head)
        for position, branch in enumerate([*chain, None]):
            body = branch.body if branch is not None else orelse
            taken = _runs(chain, position, env)
            if taken is None:
                return False
            if taken:
                ends = checks.always_ends(body)
                recurses = any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == function.name
                               for statement in body for n in ast.walk(statement))
                if ends:
                    return not recurses
                break
    return False


def _matters(d: Departure, student: ast.FunctionDef | None, reference: ast.FunctionDef | None,
             failure: Failure | None) -> bool:
    """False when the failing test takes the same way past the departure in both programs:
    a branch it skips, or a condition both programs answer alike for it, cannot explain
    the failure. Only the function's top-level ifs are worked out (the arguments are
    known there); a recursive function meets other arguments, so for it everything
    matters unless these arguments are answered by a base case."""
    if student is None or d.student is None:
        return True
    env = _arguments(student, failure)
    if not env or (checks.calls_itself(student) and not _answers_directly(student, env)):
        return True
    reached = _reached(student, env)
    if any(n is d.student for statement in student.body[reached + 1:] for n in ast.walk(statement)):
        return False  # the function has returned before this statement
    for head in (n for n in student.body if isinstance(n, ast.If)):
        chain, orelse = branches(head)
        for position, branch in enumerate(chain):
            if d.student is branch:
                ref_env = _arguments(reference, failure)
                if not isinstance(d.reference, ast.If) or not ref_env:
                    return True
                mine, theirs = _truth(branch.test, env), _truth(d.reference.test, ref_env)
                return mine is None or theirs is None or mine != theirs
            if any(n is d.student for statement in branch.body for n in ast.walk(statement)):
                return _runs(chain, position, env) is not False
        if any(n is d.student for statement in orelse for n in ast.walk(statement)):
            return _runs(chain, len(chain), env) is not False
    return True


# --- departures: ranked, and how far to trust them ----------------------------------------------


def iterable_shapes(programs: Sequence[Parsed]) -> set[str]:
    """Shapes of every expression of some correct programs, for telling a harmless loop
    range (`range(1, n + 1)` where a solution has `range(2, n + 1)`) from a wrong one."""
    shapes = set()
    for program in programs:
        shape = Shapes(program.bound)
        shapes.update(shape(n) for n in ast.walk(program.tree)
                      if isinstance(n, ast.expr) and sum(1 for _ in ast.walk(n)) >= 3)
    return shapes


def _familiar(d: Departure, shape: Shapes, elsewhere: set[int], iterables: set[str]) -> bool:
    """Code that another correct program also has, at the same place (`elsewhere`: the
    student's lines some other correct program has exactly), or a loop over a range some
    correct program also uses: likely a harmless difference of style."""
    if d.kind not in ("changed", "extra") or d.line is None:
        return False
    if d.line in elsewhere:
        return True
    return isinstance(d.student, ast.For) and d.aspect in ("bounds", "iterable") \
        and shape(d.student.iter) in iterables


def rank(found: list[Departure], familiar: Callable[[Departure], bool]) -> list[Departure]:
    """Changed, missing and reordered code first, then extra compound statements, then
    extra simple ones; within each, code that some correct program also has comes last."""

    def key(d: Departure) -> tuple[int, int, int]:
        tier = 0 if d.kind in ("changed", "missing", "order", "moved") else 1 if d.compound else 2
        return (1 if familiar(d) else 0, tier, d.line or 0)

    return sorted(found, key=key)


@dataclass(frozen=True)
class Comparison:
    """The departures from the nearest correct program, and how close that program is."""

    ranked: list[Departure]
    reference: Parsed  # the nearest correct program
    distance: float  # edited tokens over the longer program's tokens (0: same, 1: nothing in common)
    unexplained: int  # departures that no correct program shares and that may explain the failure

    @property
    def confidence(self) -> Confidence:
        if self.unexplained == 0:
            return Confidence.LOW
        if self.unexplained == 1 and self.distance <= 0.35:
            return Confidence.HIGH
        one_close, two_close = self.unexplained == 1 and self.distance <= 0.5, \
            self.unexplained == 2 and self.distance <= 0.35
        if one_close or two_close:
            return Confidence.MEDIUM  # close, but not enough to say what is wrong (or which of two)
        return Confidence.LOW


def compare(problem: Problem, student_program: str, student: Parsed, reference: str | None,
            known_correct: Sequence[str], failure: Failure | None) -> Comparison | None:
    """Departures from the correct program nearest to the student's in normalized tokens
    (variable names do not count), among the selected reference and the other known-correct
    programs; ties keep the selected reference."""
    programs = [s for s in dict.fromkeys([reference or "", *known_correct]) if s]
    parsed = {s: p for s in programs if (p := parse(s)) is not None}
    if not parsed:
        return None
    mine = canonical_tokens(student_program)
    distances = {s: Levenshtein.distance(mine, canonical_tokens(s)) for s in parsed}
    nearest = min(parsed, key=lambda s: distances[s])
    theirs = parsed[nearest]
    longest = max(len(mine), len(canonical_tokens(nearest)), 1)
    function = problem.function
    mine_f = student.functions.get(function) if function else None
    theirs_f = theirs.functions.get(function) if function else None
    found = [d for d in departures(student, theirs) if _matters(d, mine_f, theirs_f, failure)]
    elsewhere = {line for s, other in parsed.items() if s != nearest
                 for line in compare_programs(student, other)[1]}
    iterables = iterable_shapes(list(parsed.values()))
    shape = Shapes(student.bound)

    def familiar(d: Departure) -> bool:
        return _familiar(d, shape, elsewhere, iterables)

    ranked = rank(found, familiar)
    unexplained = sum(1 for d in ranked if not familiar(d))
    return Comparison(ranked, theirs, distances[nearest] / longest, unexplained)


def _effect_line(d: Departure) -> int | None:
    """For a loop that goes over the wrong thing: the first line that uses what it yields."""
    s = d.student
    if isinstance(s, ast.For) and d.aspect in ("iterable", "bounds") and isinstance(s.target, ast.Name):
        line = checks.first_use(s.body, s.target.id)
        return line if line != s.lineno else None
    return None


def _claimable(d: Departure, student: Parsed, reference: Parsed | None, problem: Problem,
               found: Sequence[Departure] = ()) -> bool:
    """Whether the program really lacks what a "missing" departure would say it lacks (a
    loop only when it goes through nothing at all, a return only when it has none, a
    condition only when it tests fewer than the correct program), and has too much what an
    "extra" one would say (a condition only when it tests more)."""
    function = student.functions.get(problem.function) if problem.function else None
    owner: ast.AST = function if function is not None else student.tree
    theirs = reference.functions.get(problem.function) if reference is not None and problem.function else None
    their_owner = theirs if theirs is not None else reference.tree if reference is not None else None
    if d.kind == "extra" and isinstance(d.student, ast.If) and their_owner is not None:
        # An extra check only when the student has more of them: it may stand for one of theirs.
        return _checks(owner) > _checks(their_owner)
    if d.kind != "missing":
        return True
    if d.name and not d.compound and any(e.kind == "extra" and e.student is not None
                                         and d.name in checks.changed_names(e.student) for e in found):
        return False  # the student changes that variable otherwise: a changed step, not a missing one
    if d.construct == "loop":
        return not (checks.iterates(function) if function is not None else
                    any(isinstance(n, ast.For | ast.While | ast.comprehension) for n in ast.walk(owner)))
    if d.construct == "return" and function is not None:
        return not checks.value_returns(function)
    if d.construct == "condition" and their_owner is not None:
        # Another check only when the student has fewer of them: theirs may be written otherwise.
        return _checks(owner) < _checks(their_owner)
    return True


def _checks(owner: ast.AST) -> int:
    """How many conditions a function tests: every if and elif, and the if of a comprehension."""
    return sum(1 for n in checks.own_nodes(owner) if isinstance(n, ast.If)) + sum(
        len(n.ifs) for n in checks.own_nodes(owner) if isinstance(n, ast.comprehension))


def _from_departure(d: Departure, confidence: Confidence) -> Region:
    return Region(d.line, d.construct, Clue.DEPARTURE, f"{d.kind} {d.aspect}", also=_effect_line(d),
                  departure=d,
                  confidence=confidence)


def locate(
    problem: Problem,
    student_program: str,
    failure: Failure | None,
    reference: str | None,
    known_correct: Sequence[str] = (),
) -> Region | None:
    """The region a debug hint points at, or None when nothing can be said."""
    syntax = _syntax_region(student_program, failure)
    if syntax is not None:
        return syntax
    student = parse(student_program)
    if student is None:
        return None
    evidence = evidence_regions(student, problem, failure)
    comparison = compare(problem, student_program, student, reference, known_correct, failure)
    ranked = [] if comparison is None else [
        d for d in comparison.ranked
        if _claimable(d, student, comparison.reference, problem, comparison.ranked)]
    if evidence:
        if evidence[0].clue == Clue.ERROR:
            return evidence[0]  # the line it raised on is a fact; what the error says comes first
        lines = {r.line for r in evidence}
        for d in ranked:
            if d.line in lines and d.kind != "missing":
                same = next((r for r in evidence if r.line == d.line), None)
                return same or _from_departure(d, Confidence.HIGH)
        return evidence[0]
    if ranked and comparison is not None:
        region = _from_departure(ranked[0], comparison.confidence)
        second = ranked[1].line if len(ranked) > 1 else None
        if comparison.unexplained == 2 and second and second != region.line:
            region = replace(region, also=second, reason=f"{region.reason}, and a second departure")
        return region
    return None
