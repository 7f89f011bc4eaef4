"""Facts about one program read from its syntax tree: why a loop may never end, which
return statement produced a value, what type an expression has.

Nothing here runs the program; every answer is a best effort that the caller combines
with the evidence of the test run.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "add", "discard", "update", "popitem",
             "setdefault", "sort", "reverse", "readline", "read", "readlines"}


@dataclass(frozen=True)
class Suspect:
    """A line the evidence points at, with the reason in words for the teacher."""

    line: int
    construct: str  # "loop", "update", "exit condition", "base case", "return", ...
    reason: str
    also: int | None = None  # a second line that belongs to the story (a loop, a condition)
    name: str | None = None  # the variable the story is about, when there is one


def parents(tree: ast.AST) -> dict[int, ast.AST]:
    """id(node) -> its parent node."""
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function or block, without those of nested functions and classes."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def changed_names(node: ast.AST) -> dict[str, list[ast.AST]]:
    """Variable name -> statements or calls in `node` that change it."""
    out: dict[str, list[ast.AST]] = {}
    for n in ast.walk(node):
        targets: list[ast.AST] = []
        if isinstance(n, ast.Assign):
            targets = n.targets
        elif isinstance(n, ast.AugAssign | ast.AnnAssign):
            targets = [n.target]
        elif isinstance(n, ast.For):
            targets = [n.target]
        elif isinstance(n, ast.NamedExpr):
            targets = [n.target]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS \
                and isinstance(n.func.value, ast.Name):
            out.setdefault(n.func.value.id, []).append(n)
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Name):
                    out.setdefault(t.id, []).append(n)
                elif isinstance(t, ast.Subscript | ast.Attribute) and isinstance(t.value, ast.Name):
                    out.setdefault(t.value.id, []).append(n)
    return out


def _is_true(test: ast.AST) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value) and test.value is not Ellipsis


def _exits(loop: ast.While) -> list[ast.AST]:
    """break/return statements that leave `loop` (not those of loops nested in it)."""
    found = []
    stack = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break | ast.Return):
            found.append(node)
        elif isinstance(node, ast.Raise):
            found.append(node)
        if not isinstance(node, ast.For | ast.While | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda n: n.lineno)


def _enclosing_if(node: ast.AST, stop: ast.AST, up: dict[int, ast.AST]) -> ast.If | None:
    current = up.get(id(node))
    while current is not None and current is not stop:
        if isinstance(current, ast.If):
            return current
        current = up.get(id(current))
    return None


def _following(statement: ast.AST, up: dict[int, ast.AST]) -> list[ast.stmt]:
    parent = up.get(id(statement))
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and any(s is statement for s in block):
            index = next(i for i, s in enumerate(block) if s is statement)
            return block[index + 1:]
    return []


def stuck_loops(tree: ast.Module) -> list[Suspect]:
    """Why each `while` loop might never end, in line order."""
    up = parents(tree)
    out = []
    for loop in sorted((n for n in ast.walk(tree) if isinstance(n, ast.While)), key=lambda n: n.lineno):
        if _is_true(loop.test):
            exits = _exits(loop)
            if not exits:
                out.append(Suspect(loop.lineno, "loop", "nothing inside the loop ever stops it"))
                continue
            guard = _enclosing_if(exits[0], loop, up)
            if guard is not None:
                out.append(Suspect(guard.lineno, "exit condition", "the loop stops only when this condition "
                                                                   "holds",
                                   also=loop.lineno))
            continue
        watched = sorted({n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name)})
        changes = changed_names(ast.Module(body=loop.body, type_ignores=[]))
        changed = [c for name in watched for c in changes.get(name, [])]
        if not changed:
            later = [s for s in _following(loop, up) if any(n in changed_names(s) for n in watched)]
            name = next((n for n in watched if later and n in changed_names(later[0])),
                        watched[0] if watched else None)
            if later:
                out.append(Suspect(later[0].lineno, "update", "the variable the loop tests changes only "
                                                              "after the loop",
                                   also=loop.lineno, name=name))
            else:
                out.append(Suspect(loop.lineno, "loop condition", "nothing inside the loop changes what it "
                                                                  "tests",
                                   name=name))
            continue
        conditional = [c for c in changed if _enclosing_if(c, loop, up) is not None]
        if len(conditional) == len(changed):
            first = min(conditional, key=lambda c: c.lineno)
            guard = _enclosing_if(first, loop, up)
            name = next(n for n in watched if changes.get(n) and any(c is first for c in changes[n]))
            out.append(Suspect(first.lineno, "update", "the loop variable changes only when a condition "
                                                       "holds",
                               also=guard.lineno if guard else None, name=name))
    return out


def calls_itself(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function.name
        for n in own_nodes(function)
    )


def base_cases(function: ast.FunctionDef) -> list[ast.If]:
    """The ifs of a recursive function that return without calling it again."""
    out = []
    for node in own_nodes(function):
        if isinstance(node, ast.If) and any(isinstance(s, ast.Return) for s in node.body):
            returns = [s for s in node.body if isinstance(s, ast.Return)]
            if not any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function.name
                for r in returns for n in ast.walk(r)
            ):
                out.append(node)
    return sorted(out, key=lambda n: n.lineno)


def runaway_recursion(function: ast.FunctionDef) -> Suspect:
    """Where to look when a recursive function never stops."""
    params = [a.arg for a in function.args.args]
    calls = [n for n in own_nodes(function)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function.name]
    for call in sorted(calls, key=lambda n: n.lineno):
        passed = [a.id if isinstance(a, ast.Name) else None for a in call.args]
        if params and passed == params:
            return Suspect(call.lineno, "recursive call", "the recursive call passes the same input again")
    cases = base_cases(function)
    if not cases:
        return Suspect(function.lineno, "base case", "the function calls itself and has no base case")
    return Suspect(cases[0].lineno, "base case", "this input never reaches the base case")


def returns(function: ast.FunctionDef) -> list[ast.Return]:
    return sorted((n for n in own_nodes(function) if isinstance(n, ast.Return)), key=lambda n: n.lineno)


_CALL_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict, "set": set,
               "tuple": tuple, "sorted": list, "len": int, "repr": str, "frozenset": frozenset, "round": int,
               "abs": None, "sum": None, "max": None, "min": None}
_STR_METHODS = {"join", "lower", "upper", "strip", "lstrip", "rstrip", "replace", "format", "title",
                "capitalize"}


def static_type(node: ast.AST | None, function: ast.FunctionDef, depth: int = 0) -> type | None:
    """The type an expression surely has, when the tree tells it (None: unknown)."""
    if node is None:
        return type(None)
    if depth > 5:
        return None
    if isinstance(node, ast.Constant):
        return type(node.value)
    if isinstance(node, ast.List | ast.ListComp):
        return list
    if isinstance(node, ast.Dict | ast.DictComp):
        return dict
    if isinstance(node, ast.Set | ast.SetComp):
        return set
    if isinstance(node, ast.Tuple):
        return tuple
    if isinstance(node, ast.JoinedStr):
        return str
    if isinstance(node, ast.Compare) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return bool
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return _CALL_TYPES.get(node.func.id)
        if isinstance(node.func, ast.Attribute) and node.func.attr in _STR_METHODS:
            return str
        return None
    if isinstance(node, ast.BinOp):
        left = static_type(node.left, function, depth + 1)
        right = static_type(node.right, function, depth + 1)
        if isinstance(node.op, ast.Div) and left in (int, float) and right in (int, float):
            return float
        if left is not None and left == right:
            return left
        if {left, right} == {int, float}:
            return float
        return None
    if isinstance(node, ast.Name):
        kinds = {static_type(a.value, function, depth + 1) for a in assignments(function, node.id)}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def assignments(function: ast.FunctionDef, name: str) -> list[ast.Assign]:
    """Plain assignments to `name` in the function, in line order."""
    found = [
        n for n in own_nodes(function)
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
    ]
    return sorted(found, key=lambda n: n.lineno)


def controls(node: ast.AST, function: ast.AST, up: dict[int, ast.AST]) -> list[ast.AST]:
    """The loops and ifs a statement sits in, innermost first."""
    out = []
    current = up.get(id(node))
    while current is not None and current is not function:
        if isinstance(current, ast.If | ast.For | ast.While):
            out.append(current)
        current = up.get(id(current))
    return out


def dropped_values(function: ast.FunctionDef) -> list[ast.Expr]:
    """Statements that compute a value and throw it away, or print it: where a missing
    `return` most likely belongs."""
    out = []
    for node in own_nodes(function):
        if not isinstance(node, ast.Expr):
            continue
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
            out.append(node)
        elif isinstance(value, ast.BinOp | ast.BoolOp | ast.Compare | ast.Name | ast.Subscript):
            out.append(node)
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                and value.func.id == function.name:
            out.append(node)
    return sorted(out, key=lambda n: n.lineno)


def first_use(body: list[ast.stmt], name: str) -> int | None:
    """The line of the first statement in `body` that reads `name`."""
    for statement in body:
        for n in ast.walk(statement):
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
                return statement.lineno
    return None


# --- what a function returns, and where it can end without returning ------------------------

# Methods that change their object in place and give back None (a classic: `x = x.sort()`).
NONE_METHODS = frozenset({"sort", "append", "extend", "insert", "remove", "clear", "reverse", "add",
                          "discard", "update"})


def value_returns(function: ast.FunctionDef) -> list[ast.Return]:
    """The returns that give back a value (not a bare `return` or `return None`)."""
    return [r for r in returns(function)
            if r.value is not None and not (isinstance(r.value, ast.Constant) and r.value.value is None)]


def _has_break(loop: ast.While) -> bool:
    stack = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if not isinstance(node, ast.For | ast.While | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return False


def always_ends(body: list[ast.stmt]) -> bool:
    """Whether every path through `body` ends in a return or a raise (or never ends)."""
    for statement in body:
        if isinstance(statement, ast.Return | ast.Raise):
            return True
        if isinstance(statement, ast.If) and always_ends(statement.body) and always_ends(statement.orelse):
            return True
        if isinstance(statement, ast.While) and _is_true(statement.test) and not _has_break(statement):
            return True
        if isinstance(statement, ast.With | ast.AsyncWith) and always_ends(statement.body):
            return True
        if isinstance(statement, ast.Try):
            if always_ends(statement.finalbody):
                return True
            handlers_end = all(always_ends(h.body) for h in statement.handlers)
            if (always_ends(statement.body) or always_ends(statement.orelse)) and handlers_end:
                return True
    return False


def iterates(function: ast.FunctionDef) -> bool:
    """Whether the function goes through anything: a loop, a comprehension or a call to itself."""
    return calls_itself(function) or any(
        isinstance(n, ast.For | ast.AsyncFor | ast.While | ast.comprehension) for n in own_nodes(function)
    )


def none_maker(node: ast.AST | None) -> str | None:
    """What makes this expression None, in code words (`print()`, `.sort()`), or None."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name) and node.func.id == "print":
        return "print()"
    if isinstance(node.func, ast.Attribute) and node.func.attr in NONE_METHODS:
        return f".{node.func.attr}()"
    return None


def none_assignment(owner: ast.AST, name: str) -> tuple[ast.Assign, str] | None:
    """The first assignment that gives `name` the None of an in-place method or print."""
    for node in sorted((n for n in ast.walk(owner) if isinstance(n, ast.Assign)), key=lambda n: n.lineno):
        maker = none_maker(node.value)
        if maker and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node, maker
    return None


# --- names ------------------------------------------------------------------------------------


def bound_anywhere(tree: ast.AST) -> set[str]:
    """Every name the program gives a value somewhere (any scope)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names


def uses_of(tree: ast.AST, name: str) -> list[ast.Name]:
    """Where `name` is read, in line order."""
    return sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name
                   and isinstance(n.ctx, ast.Load)), key=lambda n: (n.lineno, n.col_offset))


def undefined_names(tree: ast.AST, known: set[str]) -> list[ast.Name]:
    """Names read but never given a value and not in `known` (the builtins), in line order."""
    bound = bound_anywhere(tree) | known
    return sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                   and n.id not in bound), key=lambda n: (n.lineno, n.col_offset))


# --- where a statement sits ---------------------------------------------------------------------


def statements_at(tree: ast.AST, line: int) -> list[ast.stmt]:
    """The statements that span `line`, outermost first."""
    found = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)
             and n.lineno <= line <= (getattr(n, "end_lineno", None) or n.lineno)]
    return sorted(found, key=lambda n: (n.lineno, -(getattr(n, "end_lineno", None) or n.lineno)))


def enclosing_loop(tree: ast.AST, line: int) -> ast.For | ast.While | None:
    """The innermost loop whose body holds `line` (not the loop header itself)."""
    loops = [s for s in statements_at(tree, line) if isinstance(s, ast.For | ast.While) and s.lineno != line]
    return loops[-1] if loops else None


def nodes_on_line(tree: ast.AST, line: int) -> list[ast.AST]:
    return [n for n in ast.walk(tree) if getattr(n, "lineno", None) == line]


def moves_away(loop: ast.While) -> Suspect | None:
    """A `while i < n` whose `i` only ever moves away from `n` (`i -= 1`), or the mirror."""
    test = loop.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE)):
        return None
    left_must_grow = isinstance(test.ops[0], ast.Lt | ast.LtE)  # `i < n` ends when i grows
    changes = changed_names(ast.Module(body=loop.body, type_ignores=[]))
    sides = ((test.left, test.comparators[0], left_must_grow),
             (test.comparators[0], test.left, not left_must_grow))
    for side, other, must_grow in sides:
        other_changes = any(isinstance(n, ast.Name) and n.id in changes for n in ast.walk(other))
        if not isinstance(side, ast.Name) or other_changes:
            continue
        made = changes.get(side.id, [])
        steps = [_step(n) if isinstance(n, ast.AugAssign) else None for n in made]
        if made and all(step is not None and (step < 0 if must_grow else step > 0) for step in steps):
            first = min(made, key=lambda n: n.lineno)
            return Suspect(first.lineno, "update", "the variable the loop tests moves away from its end",
                           also=loop.lineno, name=side.id)
    return None


def _step(update: ast.AugAssign) -> int | None:
    """How much an update changes its variable each time (+1, -1), when it is a constant."""
    value = update.value
    if not (isinstance(value, ast.Constant) and type(value.value) is int):
        return None
    if isinstance(update.op, ast.Add):
        return value.value
    if isinstance(update.op, ast.Sub):
        return -value.value
    return None


def assignments_anywhere(tree: ast.AST, name: str | None) -> list[ast.stmt]:
    """Statements anywhere in `tree` that give `name` a value (=, +=, for), in line order."""
    if name is None:
        return []
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.For)
             and any(m is n for m in changed_names(n).get(name, []))]
    return sorted(found, key=lambda n: n.lineno)


# --- loops over positions -----------------------------------------------------------------------


def _const(node: ast.AST) -> int | None:
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _length_of(node: ast.AST) -> str | None:
    """`x` for `len(x)`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
        return node.args[0].id
    return None


def skewed_ranges(owner: ast.AST) -> list[Suspect]:
    """Loops `for i in range(...)` whose variable is only ever used as a position `x[i]` of
    one sequence, over a range that is not every position of it: `range(len(x) - 1)` skips
    the last item, `range(1, len(x))` the first (the classic off-by-one)."""
    out = []
    for loop in (n for n in own_nodes(owner) if isinstance(n, ast.For)):
        if not (isinstance(loop.target, ast.Name) and isinstance(loop.iter, ast.Call)
                and isinstance(loop.iter.func, ast.Name) and loop.iter.func.id == "range"):
            continue
        args, name = loop.iter.args, loop.target.id
        if len(args) not in (1, 2):
            continue
        start, stop = (args[0], args[1]) if len(args) == 2 else (None, args[0])
        stop_of, stop_shift = _length_of(stop), 0
        if stop_of is None and isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Sub | ast.Add):
            stop_of, shift = _length_of(stop.left), _const(stop.right)
            if shift is None:
                stop_of = None
            else:
                stop_shift = -shift if isinstance(stop.op, ast.Sub) else shift
        first = _const(start) if start is not None else 0
        if stop_of is None or first is None or (first == 0 and stop_shift == 0):
            continue
        body = [n for statement in loop.body for n in ast.walk(statement)]
        uses = [n for n in body if isinstance(n, ast.Name) and n.id == name]
        as_position = [n for n in body if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                       and n.value.id == stop_of and isinstance(n.slice, ast.Name) and n.slice.id == name]
        if uses and len(uses) == len(as_position):
            use = min(as_position, key=lambda n: n.lineno)
            out.append(Suspect(loop.lineno, "loop", "the range misses positions of the sequence it indexes",
                               also=use.lineno if use.lineno != loop.lineno else None, name=stop_of))
    return sorted(out, key=lambda s: s.line)


def _empty(node: ast.AST) -> bool:
    if isinstance(node, ast.List | ast.Set | ast.Tuple):
        return not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    if isinstance(node, ast.Constant):
        return node.value in ("", 0) and type(node.value) in (str, int)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and node.func.id in ("list", "dict", "set") and not node.args


def never_filled(function: ast.FunctionDef, name: str) -> ast.Assign | None:
    """The assignment that gives `name` an empty starting value, when nothing else in the
    function ever changes it (no other assignment, no method call on it)."""
    changes = changed_names(function).get(name, [])
    if len(changes) == 1 and isinstance(changes[0], ast.Assign) and _empty(changes[0].value):
        return changes[0]
    return None


# --- working out a simple expression ------------------------------------------------------------


class NotEvaluable(Exception):
    """The expression uses something `evaluate` does not work out."""


INTEGERS = (int, bool)
LITERALS = (int, bool, float, str, type(None))
_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_LARGEST = 10**9  # operands beyond this are not multiplied out (a student's program is hostile)


def evaluate(node: ast.AST, env: dict[str, Any], constants: tuple[type, ...] = INTEGERS) -> Any:
    """An expression worked out on known values by a tiny evaluator of our own (nothing of
    the student's runs here): constants of the given types, names in `env`, an empty list or
    tuple, len(), comparisons, and/or/not, unary minus, + - * // % on numbers, and indexing
    with a constant. Anything else raises NotEvaluable; dividing by zero raises as in Python."""
    if isinstance(node, ast.Constant) and type(node.value) in constants:
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.List | ast.Tuple) and not node.elts and str in constants:
        return [] if isinstance(node, ast.List) else ()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" \
            and len(node.args) == 1:
        value = evaluate(node.args[0], env, constants)
        if isinstance(value, str | list | tuple | dict | set):
            return len(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not evaluate(node.operand, env, constants)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = evaluate(node.operand, env, constants)
        if isinstance(value, int | float):
            return -value
    if isinstance(node, ast.BoolOp):
        values = [evaluate(v, env, constants) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARISONS for op in node.ops):
        left = evaluate(node.left, env, constants)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = evaluate(right_node, env, constants)
            try:
                if not _COMPARISONS[type(op)](left, right):
                    return False
            except TypeError:
                raise NotEvaluable from None
            left = right
        return True
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = evaluate(node.left, env, constants), evaluate(node.right, env, constants)
        if all(isinstance(v, int | float) and abs(v) < _LARGEST for v in (left, right)):
            return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
            and type(node.slice.value) is int:
        value = evaluate(node.value, env, constants)
        if isinstance(value, str | list | tuple) and -len(value) <= node.slice.value < len(value):
            return value[node.slice.value]
    raise NotEvaluable
