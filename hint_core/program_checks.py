"""Facts about one program read from its syntax tree: why a loop may never end, which
return statement produced a value, what type an expression has.

Nothing here runs the program; every answer is a best effort that the caller combines
with the evidence of the test run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

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


def _changed_names(node: ast.AST) -> dict[str, list[ast.AST]]:
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
                out.append(Suspect(guard.lineno, "exit condition", "the loop stops only when this condition holds",
                                   also=loop.lineno))
            continue
        watched = sorted({n.id for n in ast.walk(loop.test) if isinstance(n, ast.Name)})
        changes = _changed_names(ast.Module(body=loop.body, type_ignores=[]))
        changed = [c for name in watched for c in changes.get(name, [])]
        if not changed:
            later = [s for s in _following(loop, up) if any(n in _changed_names(s) for n in watched)]
            name = next((n for n in watched if later and n in _changed_names(later[0])), watched[0] if watched else None)
            if later:
                out.append(Suspect(later[0].lineno, "update", "the variable the loop tests changes only after the loop",
                                   also=loop.lineno, name=name))
            else:
                out.append(Suspect(loop.lineno, "loop condition", "nothing inside the loop changes what it tests",
                                   name=name))
            continue
        conditional = [c for c in changed if _enclosing_if(c, loop, up) is not None]
        if len(conditional) == len(changed):
            first = min(conditional, key=lambda c: c.lineno)
            guard = _enclosing_if(first, loop, up)
            name = next(n for n in watched if changes.get(n) and any(c is first for c in changes[n]))
            out.append(Suspect(first.lineno, "update", "the loop variable changes only when a condition holds",
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
    for call in sorted((n for n in own_nodes(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                        and n.func.id == function.name), key=lambda n: n.lineno):
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
_STR_METHODS = {"join", "lower", "upper", "strip", "lstrip", "rstrip", "replace", "format", "title", "capitalize"}


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
        left, right = static_type(node.left, function, depth + 1), static_type(node.right, function, depth + 1)
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
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == function.name:
            out.append(node)
    return sorted(out, key=lambda n: n.lineno)


def first_use(body: list[ast.stmt], name: str) -> int | None:
    """The line of the first statement in `body` that reads `name`."""
    for statement in body:
        for n in ast.walk(statement):
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
                return statement.lineno
    return None
