"""The plan of a program read from its structure: the steps a student would take.

A correct program is read as a short list of steps in the order they happen (handle the
special case, keep a running total, go through the input, decide which items count,
return the result). A student's program is read the same way; the first step of the
nearest correct program that the student has not written yet is the next step of the plan.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from hint_core import program_checks as checks
from hint_core.problems import Problem
from hint_core.program_diff import branches, parse


@dataclass(frozen=True)
class Step:
    kind: str  # "special case", "base case", "accumulate", "loop", "filter", "cases", "transform", "compare",
    #            "recurse", "return", "print", "read"
    words: str  # the step in words, never in code
    line: int  # where it is in the program it was read from


_AGGREGATES = {
    "sum": "add the values up", "len": "count them", "max": "take the largest", "min": "take the smallest",
    "sorted": "put the values in order", "set": "drop repeated values", "list": "collect them in a list",
    "dict": "collect them in a dictionary", "any": "check whether any of them matches",
    "all": "check whether all of them match", "join": "join the pieces into one string",
    "Counter": "count how often each one occurs",
}


def _owner(problem: Problem, tree: ast.Module) -> ast.AST:
    """The function under test, or the whole module for a stdin/stdout problem."""
    if problem.function:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == problem.function:
                return node
    return tree


def _noun(iterable: ast.AST, params: dict[str, str]) -> str:
    """What one pass of a loop over `iterable` looks at, in words."""
    text = ast.unparse(iterable)
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.func.id == "range":
        if any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "len" for n in ast.walk(iterable)):
            return "each position of the input"
        return "each number in the range you need"
    if "stdin" in text:
        return "each line of the input"
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):
        if iterable.func.attr == "split":
            return "each word of the text"
        if iterable.func.attr in ("lower", "upper", "casefold"):
            return "each character, ignoring upper and lower case"
        if iterable.func.attr == "items":
            return "each key and value"
    if isinstance(iterable, ast.Name):
        # Parameter names are the problem's interface; local names are the author's own.
        return f"each {params[iterable.id]} of `{iterable.id}`" if iterable.id in params else "each item"
    return "each item"


def _accumulator_role(owner: ast.AST, name: str, start: ast.AST) -> str | None:
    """How a variable set before a loop is built up inside it, in words (None: it is not)."""
    indexes = any(
        isinstance(n, ast.Subscript)
        and any(isinstance(m, ast.Name) and m.id == name for m in ast.walk(n.slice))
        for n in checks.own_nodes(owner)
    )
    for node in checks.own_nodes(owner):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            if indexes:
                return "keep track of a position in the input"
            if isinstance(start, ast.Constant) and isinstance(start.value, str):
                return "build up the text piece by piece"
            if isinstance(node.op, ast.Mult):
                return "keep a running product"
            one = isinstance(node.value, ast.Constant) and node.value.value == 1
            if isinstance(node.op, ast.Add) and one:
                return "keep a count"
            return "keep a running total"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name:
            if node.func.attr == "append":
                return "collect the results in a list"
            if node.func.attr == "add":
                return "remember what you have already seen"
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name
            for t in node.targets
        ):
            return "keep a count for each key in a dictionary"
    return None


_TRANSFORMS = {
    "lower": "ignore upper and lower case", "upper": "ignore upper and lower case",
    "casefold": "ignore upper and lower case", "strip": "remove what surrounds each piece",
    "split": "split the text into pieces", "int": "turn the text into numbers", "float": "turn the text into "
                                                                                         "numbers",
    "str": "turn the numbers into text", "sorted": "put the values in order", "sort": "put the values in "
                                                                                      "order",
    "set": "drop repeated values", "fromkeys": "keep each value once, in order", "max": "take the largest",
    "min": "take the smallest", "isalnum": "keep only letters and digits", "isalpha": "keep only letters",
    "reversed": "reverse it", "count": "count the matches",
}
_COMBINE = {"sum": "add the values up", "prod": "multiply the values together", "Counter": "count how often "
                                                                                           "each one occurs"}


def _call_name(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _evaluation_order(node: ast.AST) -> list[ast.AST]:
    """Nodes in the order Python evaluates them: arguments before the call that uses them."""
    out = []
    for child in ast.iter_child_nodes(node):
        out += _evaluation_order(child)
    return out + [node]


def _expression_steps(node: ast.AST, params: dict[str, str], line: int) -> list[Step]:
    """Steps inside one expression: a comprehension is a loop, a filter and an aggregate;
    known calls and slices are transformations; reading stdin or a file is reading."""
    loops, filters, transforms, aggregates = [], [], [], []
    for n in _evaluation_order(node):
        if isinstance(n, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
            for generator in n.generators:
                loops.append(Step("loop", f"go through {_noun(generator.iter, params)}", line))
                if generator.ifs:
                    filters.append(Step("filter", "keep only the items that count", line))
        elif isinstance(n, ast.Call):
            name = _call_name(n)
            has_loop = any(isinstance(a, ast.GeneratorExp | ast.ListComp | ast.SetComp) for a in n.args)
            if has_loop and name in _AGGREGATES:
                aggregates.append(Step("accumulate", _AGGREGATES[name], line))
            elif name in _COMBINE:
                aggregates.append(Step("accumulate", _COMBINE[name], line))
            elif name == "strip" and not n.args:
                transforms.append(Step("transform", "remove the spaces around it", line))
            elif name in _TRANSFORMS:
                transforms.append(Step("transform", _TRANSFORMS[name], line))
        elif isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Slice) \
                and isinstance(n.slice.step, ast.UnaryOp):
            transforms.append(Step("transform", "reverse it", line))
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div | ast.FloorDiv):
            aggregates.append(Step("divide", "divide by how many there are", line))
    text = ast.unparse(node)
    reading = []
    if "stdin" in text or "input(" in text:
        reading.append(Step("read", "read the input", line))
    elif "open(" in text or "read_text" in text:
        reading.append(Step("read", "open the file and read it", line))
    return reading + loops + filters + transforms + aggregates


def _special_case(test: ast.AST) -> str:
    text = ast.unparse(test)
    if text.startswith("not ") or "== 0" in text or "== []" in text or "== ''" in text:
        return "handle an empty input first"
    if "len(" in text and ("<" in text or "<=" in text):
        return "handle an input that is too short first"
    return "handle the special case first"


def _statement_steps(statement: ast.stmt, owner: ast.AST, params: dict[str, str], recursive: bool,
                     in_loop: bool, early: bool) -> list[Step]:
    """Steps of one statement; `early`: a statement of the function's own body (an if
    there that returns, without an else, handles a special or base case)."""
    line = statement.lineno
    if isinstance(statement, ast.If):
        returns_early = isinstance(statement.body[-1], ast.Return) and not statement.orelse and not in_loop
        if returns_early and early:
            if recursive:
                return [Step("base case", "answer the smallest input directly (the base case)", line)]
            return [Step("special case", _special_case(statement.test), line)]
        chain, _ = branches(statement)
        if len(chain) >= 3:
            steps = [Step("cases", "tell the cases apart, checking the most specific one first", line)]
        elif in_loop:
            steps = [Step("filter", "decide for each item whether it counts", line)]
        else:
            steps = [Step("cases", "decide what to do in each case", line)]
        for branch in chain:
            for inner in branch.body:
                steps += _statement_steps(inner, owner, params, recursive, in_loop, False)
        return steps
    if isinstance(statement, ast.For | ast.While):
        if isinstance(statement, ast.For):
            steps = [Step("loop", f"go through {_noun(statement.iter, params)}", line)]
        else:
            steps = [Step("loop", "repeat a step until the work is done", line)]
        for inner in statement.body:
            steps += _statement_steps(inner, owner, params, recursive, True, False)
        return steps
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
            and isinstance(statement.targets[0], ast.Name):
        role = _accumulator_role(owner, statement.targets[0].id, statement.value) if not in_loop else None
        if role:
            return [Step("accumulate", role, line)]
        return _expression_steps(statement.value, params, line)
    if isinstance(statement, ast.Return) and statement.value is not None:
        calls_itself = recursive and any(
            isinstance(n, ast.Call) and getattr(n.func, "id", None) == getattr(owner, "name", None)
            for n in ast.walk(statement.value)
        )
        steps = _expression_steps(statement.value, params, line)
        if isinstance(statement.value, ast.Compare):
            steps.append(Step("compare", "compare the two and give back the answer", line))
        if calls_itself:
            steps.append(Step("recurse", "call the function on a smaller input and combine its answer", line))
        if not in_loop:
            steps.append(Step("return", "return the result", line))
        return steps
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        if isinstance(call.func, ast.Name) and call.func.id == "print":
            return _expression_steps(call, params, line) + [Step("print", "print the result", line)]
    if isinstance(statement, ast.With | ast.Try):
        steps = []
        for inner in statement.body:
            steps += _statement_steps(inner, owner, params, recursive, in_loop, False)
        return steps
    return []


def _parameter_nouns(problem: Problem, function: ast.FunctionDef) -> dict[str, str]:
    """What one element of each parameter is, from the values the tests pass: a string
    is gone through character by character, anything else item by item."""
    nouns = {}
    for index, arg in enumerate(function.args.args):
        values = [t.args[index] for t in problem.tests if index < len(t.args)]
        nouns[arg.arg] = "character" if values and all(isinstance(v, str) for v in values) else "item"
    return nouns


def plan_steps(problem: Problem, program: str) -> list[Step]:
    """The steps of a program in the order they happen (empty if it does not parse)."""
    parsed = parse(program)
    if parsed is None:
        return []
    owner = _owner(problem, parsed.tree)
    recursive = isinstance(owner, ast.FunctionDef) and checks.calls_itself(owner)
    params = _parameter_nouns(problem, owner) if isinstance(owner, ast.FunctionDef) else {}
    steps: list[Step] = []
    body = [s for s in owner.body if not (owner is parsed.tree and isinstance(s, ast.Import | ast.ImportFrom
                                                                              | ast.FunctionDef))]
    for statement in body:
        steps += _statement_steps(statement, owner, params, recursive, False, True)
    return _unique(steps)


def _unique(steps: list[Step]) -> list[Step]:
    seen, out = set(), []
    for step in steps:
        if (step.kind, step.words) not in seen:
            seen.add((step.kind, step.words))
            out.append(step)
    return out


def _done(step: Step, mine: list[Step]) -> bool:
    """A step counts as done when the student's program has a step of the same kind
    (a loop is a loop, however it is written)."""
    kinds = {s.kind for s in mine}
    if step.kind in ("base case", "special case"):
        return bool(kinds & {"base case", "special case"})
    if step.kind in ("filter", "cases"):
        return bool(kinds & {"filter", "cases"})
    if step.kind == "transform":
        return any(s.kind == "transform" and s.words == step.words for s in mine)
    return step.kind in kinds


def missing_steps(problem: Problem, student_program: str, reference: str) -> tuple[list[Step], list[Step]]:
    """(steps of the reference the student has, steps the student has not written yet)."""
    mine = plan_steps(problem, student_program)
    theirs = plan_steps(problem, reference)
    done = [s for s in theirs if _done(s, mine)]
    todo = [s for s in theirs if not _done(s, mine)]
    return done, todo
