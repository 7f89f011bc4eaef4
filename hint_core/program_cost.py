"""Constructs that make a correct program slow, read from its syntax tree.

Ordered by how fast their cost grows: recursion that recomputes the same calls
(exponential), a loop over the input inside another one (quadratic), and work repeated on
every pass of a loop: searching or counting in a list, or recomputing a value of the
whole input.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hint_core import program_checks as checks
from hint_core.problems import Problem
from hint_core.program_diff import parse

_MEMO_DECORATORS = {"cache", "lru_cache", "memoize", "cached"}
_WHOLE_INPUT_CALLS = {"sum", "max", "min", "sorted", "list", "set", "dict", "tuple", "reversed"}


@dataclass(frozen=True)
class Cost:
    kind: str  # "recursion", "nested loop", "list search", "repeated count", "repeated work"
    line: int
    also: int | None = None  # the enclosing loop
    name: str | None = None  # the list or function concerned


def _decorated_with_cache(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _MEMO_DECORATORS:
            return True
    return False


def _self_calls(function: ast.FunctionDef) -> list[ast.Call]:
    return [
        n for n in checks.own_nodes(function)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function.name
    ]


def _recursion(function: ast.FunctionDef) -> list[Cost]:
    calls = _self_calls(function)
    if len(calls) < 2 or _decorated_with_cache(function):
        return []
    # A dictionary read before recursing is a hand-written memo.
    if any(isinstance(n, ast.Compare) and any(isinstance(op, ast.In) for op in n.ops)
           for n in checks.own_nodes(function)):
        return []
    return [Cost("recursion", min(c.lineno for c in calls), name=function.name)]


def _loop_line(node: ast.AST) -> int:
    return node.iter.lineno if isinstance(node, ast.comprehension) else node.lineno


def _grows(node: ast.AST) -> bool:
    """Whether a loop's number of passes depends on the input (not a fixed literal)."""
    source = node.iter if isinstance(node, ast.For | ast.comprehension) else node.test
    if isinstance(source, ast.Constant | ast.List | ast.Tuple) and not any(
        isinstance(n, ast.Name) for n in ast.walk(source)
    ):
        return False
    return any(isinstance(n, ast.Name | ast.Attribute) for n in ast.walk(source))


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _enclosing_loops(node: ast.AST, up: dict[int, ast.AST], stop: ast.AST) -> list[ast.AST]:
    """The loops that run `node` once per pass, innermost first. A for loop's iterable is
    evaluated once, so it is not inside that loop; a while loop's test is."""
    out: list[ast.AST] = []
    grandchild, child, current = None, node, up.get(id(node))
    while current is not None and current is not stop:
        if isinstance(current, ast.For) and child is not current.iter and child is not current.target:
            out.append(current)
        elif isinstance(current, ast.While):
            out.append(current)
        elif isinstance(current, _COMPREHENSIONS):
            generators = current.generators
            if isinstance(child, ast.comprehension):
                index = next(i for i, g in enumerate(generators) if g is child)
                out.extend(reversed(generators[: index if grandchild is child.iter else index + 1]))
            else:
                out.extend(reversed(generators))
        grandchild, child, current = child, current, up.get(id(current))
    return out


def _list_names(owner: ast.AST, problem: Problem) -> set[str]:
    """Variables that hold lists: built as lists in the code, or list parameters."""
    names = set()
    for node in checks.own_nodes(owner):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.ListComp):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    if isinstance(owner, ast.FunctionDef) and problem.tests:
        for index, arg in enumerate(owner.args.args):
            values = [t.args[index] for t in problem.tests if index < len(t.args)]
            if values and all(isinstance(v, list) for v in values):
                names.add(arg.arg)
    return names


def costly_constructs(problem: Problem, program: str) -> list[Cost]:
    """The slow constructs of a program, most expensive kind first, then by line."""
    parsed = parse(program)
    if parsed is None:
        return []
    out: list[Cost] = []
    for function in parsed.functions.values():
        out += _recursion(function)
    up = checks.parents(parsed.tree)
    lists = _list_names(parsed.tree, problem)
    for owner in parsed.functions.values():
        lists |= _list_names(owner, problem)
    loops = [n for n in ast.walk(parsed.tree) if isinstance(n, ast.For | ast.While)]
    loops += [g for n in ast.walk(parsed.tree) if isinstance(n, ast.ListComp | ast.SetComp | ast.GeneratorExp
                                                                | ast.DictComp) for g in n.generators]
    for loop in loops:
        anchor = loop.iter if isinstance(loop, ast.comprehension) else loop
        outer = [o for o in _enclosing_loops(anchor, up, parsed.tree) if _grows(o) and o is not loop]
        if outer and _grows(loop):
            out.append(Cost("nested loop", _loop_line(loop), also=_loop_line(outer[0])))
    for node in ast.walk(parsed.tree):
        outer = [o for o in _enclosing_loops(node, up, parsed.tree) if _grows(o)]
        if not outer:
            continue
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            right = node.comparators[-1]
            if isinstance(right, ast.Name) and right.id in lists:
                out.append(Cost("list search", node.lineno, also=_loop_line(outer[0]), name=right.id))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("count", "index") and isinstance(node.func.value, ast.Name):
            out.append(Cost("repeated count", node.lineno, also=_loop_line(outer[0]),
                            name=node.func.value.id))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _WHOLE_INPUT_CALLS \
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in lists:
            out.append(Cost("repeated work", node.lineno, also=_loop_line(outer[0]), name=node.args[0].id))
    order = {"recursion": 0, "nested loop": 1, "list search": 2, "repeated count": 2, "repeated work": 3}
    return sorted(set(out), key=lambda c: (order[c.kind], c.line))
