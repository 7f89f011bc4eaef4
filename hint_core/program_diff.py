"""Where a student's program departs from a correct one, statement by statement.

Both programs are parsed and their statements aligned block by block (module, function
bodies, loop bodies, the branches of an if/elif chain), pairing statements that look
alike even when the variables are named differently. Every aligned pair that differs,
every statement only the student wrote, every statement only the correct program has,
and every branch in another order becomes a `Departure` that carries the student's line
and the construct it sits in (loop, condition, base case, return, ...).

A difference that cannot change the result on whole numbers (``n <= 1`` against
``n < 2``) is no departure: integer expressions over at most two variables are compared
by evaluating both on a grid of values with a tiny evaluator of our own (nothing of the
student's is executed here).
"""

from __future__ import annotations

import ast
import copy
import difflib
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.pool import bound_names, drop_docstrings
from hint_core.program_checks import NotEvaluable, calls_itself, evaluate

Kind = Literal["changed", "missing", "extra", "order", "moved"]


@dataclass(frozen=True)
class Departure:
    """One place where the student's program differs from the correct one."""

    kind: Kind
    line: int | None  # the student's line; for "missing": the line it would follow (None: block start)
    construct: str  # "loop", "loop condition", "condition", "base case", "special case", "return", ...
    aspect: str  # "operator", "comparison", "value", "variable", "call", "bounds", "iterable", ...
    student: ast.AST | None = field(default=None, compare=False, repr=False)  # the statement
    reference: ast.AST | None = field(default=None, compare=False, repr=False)
    student_part: ast.AST | None = field(default=None, compare=False, repr=False)  # smallest differing node
    reference_part: ast.AST | None = field(default=None, compare=False, repr=False)
    name: str | None = None  # for "missing": the student's variable the missing code would change
    next_line: int | None = None  # for "missing": the student's line it would come before (None: block end)

    @property
    def compound(self) -> bool:
        node = self.student if self.student is not None else self.reference
        return isinstance(node, _COMPOUND)


_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.FunctionDef,
             ast.AsyncFunctionDef, ast.ClassDef)
_COMPATIBLE = [{ast.Expr, ast.Return}, {ast.Assign, ast.AugAssign, ast.AnnAssign}, {ast.For, ast.While}]


# --- parsing -----------------------------------------------------------------------


@dataclass
class Parsed:
    tree: ast.Module
    bound: set[str]
    functions: dict[str, ast.FunctionDef]


class _AugmentedAssignments(ast.NodeTransformer):
    """``x = x + y`` becomes ``x += y``: the two spellings do the same."""

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        value = node.value
        if (
            len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(value, ast.BinOp)
            and isinstance(value.left, ast.Name) and value.left.id == node.targets[0].id
        ):
            return ast.copy_location(ast.AugAssign(node.targets[0], value.op, value.right), node)
        return node


class _SplitAssignments(ast.NodeTransformer):
    """``a, b = 0, 1`` becomes ``a = 0`` and ``b = 1`` when no value reads a name being
    assigned: the same step, and it lines up with a program that writes it in two lines.
    (``a, b = b, a + b`` stays: there the order matters.)"""

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.AST]:
        target, value = node.targets[0], node.value
        if not (len(node.targets) == 1 and isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                and len(target.elts) == len(value.elts)
                and all(isinstance(t, ast.Name) for t in target.elts)):
            return node
        names = {t.id for t in target.elts if isinstance(t, ast.Name)}
        if any(isinstance(n, ast.Name) and n.id in names for v in value.elts for n in ast.walk(v)):
            return node
        return [ast.copy_location(ast.Assign([ast.Name(t.id, ast.Store())], v), node)
                for t, v in zip(target.elts, value.elts, strict=True) if isinstance(t, ast.Name)]


def parse(program: str) -> Parsed | None:
    """The program's tree without docstrings, or None when it does not parse."""
    try:
        tree = parse_program(program)
    except (SyntaxError, ValueError):
        return None
    drop_docstrings(tree)
    tree = _SplitAssignments().visit(_AugmentedAssignments().visit(tree))
    ast.fix_missing_locations(tree)
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    return Parsed(tree, bound_names(tree), functions)


# --- shapes and similarity -------------------------------------------------------------


class Shapes:
    """Statement shapes with every bound variable written `_`, cached per node."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self._cache: dict[int, tuple[ast.AST, str]] = {}

    def __call__(self, node: ast.AST) -> str:
        key = id(node)
        if key not in self._cache:
            clone = copy.deepcopy(node)
            for n in ast.walk(clone):
                if isinstance(n, ast.Name) and n.id in self.bound:
                    n.id = "_"
                elif isinstance(n, ast.arg) and n.arg in self.bound:
                    n.arg = "_"
            # The node is kept with its shape so that its id cannot be reused meanwhile.
            self._cache[key] = (node, ast.dump(clone, annotate_fields=False))
        return self._cache[key][1]


def _compatible(a: ast.AST, b: ast.AST) -> bool:
    return type(a) is type(b) or any(type(a) in group and type(b) in group for group in _COMPATIBLE)


def _align(n: int, m: int, score: Callable[[int, int], float]) -> list[tuple[int | None, int | None]]:
    """Order-preserving pairing of two sequences that maximizes the summed score
    (pairs scoring 0 are never made), as (i, None) / (None, j) for the unpaired."""
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    scores = {}
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            s = scores[i, j] = score(i, j)
            value = max(best[i + 1][j], best[i][j + 1])
            if s > 0:
                value = max(value, best[i + 1][j + 1] + s)
            best[i][j] = value
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        s = scores[i, j]
        if s > 0 and best[i][j] == best[i + 1][j + 1] + s:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i][j + 1]:
            out.append((None, j))  # what is missing comes before what is extra: guards come first
            j += 1
        else:
            out.append((i, None))
            i += 1
    out += [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]
    return out


# --- integer equivalence -----------------------------------------------------------

def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def equivalent_on_integers(a: ast.AST, b: ast.AST, rename: Callable[[str], str]) -> bool:
    """Whether two integer expressions (names of `a` seen through `rename`) agree on every
    combination of small whole numbers; False for anything this cannot evaluate."""
    names_a = {rename(n) for n in _names(a)}
    names = sorted(names_a | _names(b))
    if len(names) > 2 or names_a != _names(b):
        return False
    grid = range(-4, 21)
    try:
        for values in itertools.product(grid, repeat=len(names)):
            env = dict(zip(names, values, strict=True))
            env_a = {n: env[rename(n)] for n in _names(a)}
            try:
                left = evaluate(a, env_a)
            except ZeroDivisionError:
                left = None
            try:
                right = evaluate(b, env)
            except ZeroDivisionError:
                right = None
            if left != right:
                return False
    except NotEvaluable:
        return False
    return True


# --- comparing two statements --------------------------------------------------------


class _Comparer:
    def __init__(self, student: Parsed, reference: Parsed) -> None:
        self.s, self.r = student, reference
        self.shape_s, self.shape_r = Shapes(student.bound), Shapes(reference.bound)
        self.mapping: dict[str, str] = {}
        self.apart: set[tuple[str, str]] = set()  # (student, reference) names that must not pair

    def rename(self, name: str) -> str:
        if name not in self.s.bound:
            return name
        return self.mapping.get(name, "\x00" + name)  # an unmapped variable matches nothing

    # similarity of two statements (0: never pair them)
    def score(self, a: ast.AST, b: ast.AST) -> float:
        if not _compatible(a, b):
            return 0.0
        sa, sb = self.shape_s(a), self.shape_r(b)
        if sa == sb:
            return 2.0
        ratio = difflib.SequenceMatcher(None, sa, sb, autojunk=False).ratio()
        if type(a) is not type(b):
            ratio *= 0.9
        elif isinstance(a, ast.For | ast.While) and _header(a) and all(
                self.first_difference(x, y) is None for x, y in zip(_header(a), _header(b), strict=True)):
            return max(ratio, 1.0)  # the same loop, whatever its body does: align structure
        return ratio if ratio >= 0.35 else 0.0

    def first_difference(self, a: ast.AST, b: ast.AST) -> tuple[ast.AST, ast.AST] | None:
        """The smallest pair of nodes where `a` (student) and `b` (reference) differ."""
        if type(a) is not type(b):
            return a, b
        if isinstance(a, ast.Name):
            return None if self.rename(a.id) == b.id else (a, b)
        if isinstance(a, ast.arg):
            return None if self.rename(a.arg) == b.arg else (a, b)
        if isinstance(a, ast.Constant):
            return None if (type(a.value), a.value) == (type(b.value), b.value) else (a, b)
        if isinstance(a, ast.BinOp | ast.Compare | ast.BoolOp | ast.UnaryOp) \
                and equivalent_on_integers(a, b, self.rename):
            return None
        if isinstance(a, ast.Call) and self.first_difference(a.func, b.func):
            return a, b  # another function called: the call is the difference, not its name
        for name in a._fields:
            va, vb = getattr(a, name, None), getattr(b, name, None)
            if name in ("op", "ops"):
                types_a = [type(x) for x in (va if isinstance(va, list) else [va])]
                types_b = [type(x) for x in (vb if isinstance(vb, list) else [vb])]
                if types_a != types_b:
                    return a, b
                continue
            if isinstance(va, list):
                if not isinstance(vb, list) or len(va) != len(vb):
                    return a, b
                for x, y in zip(va, vb, strict=True):
                    if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                        found = self.first_difference(x, y)
                        if found:
                            return found
                    elif x != y:
                        return a, b
            elif isinstance(va, ast.AST) or isinstance(vb, ast.AST):
                if not (isinstance(va, ast.AST) and isinstance(vb, ast.AST)):
                    return a, b
                found = self.first_difference(va, vb)
                if found:
                    return found
            elif va != vb and name not in ("type_comment", "kind"):
                return a, b
        return None

    def student_name_changed_by(self, statement: ast.AST) -> str | None:
        """The student's variable that a reference statement changes, when one maps to it."""
        back = {theirs: mine for mine, theirs in self.mapping.items()}
        for node in ast.walk(statement):
            target = None
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                target = next((t for t in targets if isinstance(t, ast.Name)), None)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name):
                target = node.func.value
            if target is not None and target.id in back:
                return back[target.id]
        return None

    # which student variable stands for which reference variable
    def learn_names(self, pairs: Sequence[tuple[ast.AST, ast.AST]]) -> None:
        votes: Counter[tuple[str, str]] = Counter()
        for a, b in pairs:
            weight = 2 if self.shape_s(a) == self.shape_r(b) else 1
            names_a = [n for n in _occurrences(a) if n in self.s.bound]
            names_b = [n for n in _occurrences(b) if n in self.r.bound]
            if len(names_a) == len(names_b):
                for x, y in zip(names_a, names_b, strict=True):
                    if (x, y) not in self.apart:
                        votes[x, y] += weight
        taken: set[str] = set(self.mapping.values())
        for (x, y), _count in votes.most_common():
            if x not in self.mapping and y not in taken:
                self.mapping[x] = y
                taken.add(y)


def _occurrences(node: ast.AST) -> list[str]:
    """Variable names in source order (parameters included)."""
    found = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.append((n.lineno, n.col_offset, n.id))
        elif isinstance(n, ast.arg):
            found.append((n.lineno, n.col_offset, n.arg))
    return [name for *_, name in sorted(found)]


# --- constructs in words ---------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    function: ast.FunctionDef | None = None
    recursive: bool = False
    base_case: bool = False  # inside an if that ends the recursion
    special_case: bool = False  # inside an early-return guard of a non-recursive function


def _contains(root: ast.AST | None, node: ast.AST) -> bool:
    return root is not None and any(n is node for n in ast.walk(root))


def _is_range(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _returns_early(branch: ast.If, ctx: _Context) -> bool:
    body = branch.body
    if not body or not isinstance(body[-1], ast.Return):
        return False
    value = body[-1].value
    if ctx.function is None or value is None:
        return True
    return not any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == ctx.function.name
        for n in ast.walk(value)
    )


def _if_context(branch: ast.If, ctx: _Context, first_in_function: bool) -> _Context:
    if _returns_early(branch, ctx):
        if ctx.recursive:
            return _Context(ctx.function, ctx.recursive, base_case=True)
        if first_in_function:
            return _Context(ctx.function, ctx.recursive, special_case=True)
    return ctx


def _aspect(stmt: ast.AST, part: ast.AST | None, other: ast.AST | None) -> str:
    if part is None:
        return "statement"
    if isinstance(part, ast.BinOp | ast.BoolOp | ast.UnaryOp | ast.AugAssign) and type(part) is type(other):
        if getattr(part, "op", None).__class__ is not getattr(other, "op", None).__class__:
            return "operator"
    if isinstance(part, ast.Compare) and type(other) is ast.Compare:
        if [type(o) for o in part.ops] != [type(o) for o in other.ops]:
            return "comparison"
    if isinstance(stmt, ast.For | ast.AsyncFor) and _contains(stmt.iter, part):
        return "bounds" if _is_range(stmt.iter) else "iterable"
    if isinstance(part, ast.Constant) and isinstance(other, ast.Constant):
        return "value"
    if isinstance(part, ast.Name) and isinstance(other, ast.Name):
        return "variable"
    if isinstance(part, ast.Call) and isinstance(other, ast.Call):
        return "call"
    if isinstance(part, ast.Expr) and isinstance(other, ast.Return):
        return "not returned"
    if isinstance(part, ast.Assign) and isinstance(other, ast.AugAssign):
        return "update"
    return "expression"


def _construct(stmt: ast.AST, part: ast.AST | None, ctx: _Context) -> str:
    if ctx.base_case:
        return "base case"
    if ctx.special_case:
        return "special case"
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return "loop variable" if _contains(stmt.target, part) and part is not stmt else "loop"
    if isinstance(stmt, ast.While):
        return "loop condition"
    if isinstance(stmt, ast.If):
        return "condition"
    if isinstance(stmt, ast.Return):
        return "return"
    if isinstance(stmt, ast.AugAssign):
        return "update"
    if isinstance(stmt, ast.Assign | ast.AnnAssign):
        value = stmt.value
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if not all(isinstance(t, ast.Name) for t in targets):
            return "assignment"  # d[k] = 1 sets an entry, it does not start a variable
        if isinstance(value, ast.Constant) or (isinstance(value, ast.List | ast.Dict | ast.Set | ast.Tuple)
                                               and not getattr(value, "elts", getattr(value, "keys", [1]))):
            return "starting value"
        return "assignment"
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Name) and func.id == "print":
            return "print"
        return "call"
    if isinstance(stmt, ast.FunctionDef):
        return "function header"
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return "import"
    return "statement"


# --- comparing blocks --------------------------------------------------------------------


def _header(stmt: ast.AST) -> list[ast.AST]:
    """The parts of a compound statement outside its bodies."""
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return [stmt.iter, stmt.target]  # what it goes over matters more than the name
    if isinstance(stmt, ast.While):
        return [stmt.test]
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return [stmt.args, *stmt.decorator_list]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return list(stmt.items)
    return []


def branches(stmt: ast.If) -> tuple[list[ast.If], list[ast.stmt]]:
    """An if/elif chain as its branches (each an If node) and the final else body."""
    chain = [stmt]
    while len(chain[-1].orelse) == 1 and isinstance(chain[-1].orelse[0], ast.If):
        chain.append(chain[-1].orelse[0])
    return chain, chain[-1].orelse


class _Walker:
    def __init__(self, comparer: _Comparer) -> None:
        self.c = comparer
        self.out: list[Departure] = []
        self.same: set[int] = set()  # the student's lines paired with identical code

    def block(self, student: list[ast.stmt], reference: list[ast.stmt], ctx: _Context,
              owner_line: int | None) -> None:
        pairs = _align(len(student), len(reference), lambda i, j: self.c.score(student[i], reference[j]))
        extra = [student[i] for i, j in pairs if j is None]
        missing = [reference[j] for i, j in pairs if i is None]
        moved = self._moved(extra, missing)
        previous_line = owner_line
        first = True
        for k, (i, j) in enumerate(pairs):
            if i is not None and j is not None:
                self.statement(student[i], reference[j], ctx, first)
                previous_line = getattr(student[i], "end_lineno", student[i].lineno)
            elif i is not None:
                s = student[i]
                if id(s) in moved:
                    construct = _construct(s, None, ctx)
                    self.out.append(Departure("order", s.lineno, construct, "order", s, moved[id(s)]))
                else:
                    self.out.append(Departure("extra", s.lineno, _construct(s, None, ctx), "statement", s))
                previous_line = getattr(s, "end_lineno", s.lineno)
            else:
                r = reference[j]
                if id(r) not in moved.values_ids:
                    following = next((student[a].lineno for a, _ in pairs[k + 1:] if a is not None), None)
                    self.out.append(Departure("missing", previous_line, _construct(r, None, ctx), "statement",
                                              None, r, name=self.c.student_name_changed_by(r),
                                              next_line=following))
            first = False

    def _moved(self, extra: list[ast.stmt], missing: list[ast.stmt]) -> _Moved:
        moved = _Moved()
        used: set[int] = set()
        for s in extra:
            for r in missing:
                same = self.c.shape_s(s) == self.c.shape_r(r) and self.c.first_difference(s, r) is None
                if id(r) not in used and same:
                    moved[id(s)] = r
                    used.add(id(r))
                    break
        return moved

    def statement(self, s: ast.stmt, r: ast.stmt, ctx: _Context, first_in_block: bool) -> None:
        if isinstance(s, ast.If) and isinstance(r, ast.If):
            self.if_chain(s, r, ctx, first_in_block)
            return
        if isinstance(s, _COMPOUND) and type(s) is type(r):
            # A function's header is the problem's interface, not the student's choice.
            headers = ([], []) if isinstance(s, ast.FunctionDef) else (_header(s), _header(r))
            for part_s, part_r in zip(*headers, strict=False):
                found = self.c.first_difference(part_s, part_r)
                if found:
                    self._changed(s, r, found, ctx)
                    break
            else:
                if len(headers[0]) != len(headers[1]):
                    self._changed(s, r, (s, r), ctx)
                else:
                    self.same.add(s.lineno)
            inner = ctx
            if isinstance(s, ast.FunctionDef):
                inner = _Context(s, calls_itself(s))
            self.block(s.body, r.body, inner, s.lineno)
            if hasattr(s, "orelse"):
                self.block(s.orelse, r.orelse, ctx, getattr(s, "end_lineno", s.lineno))
            return
        if isinstance(s, _COMPOUND) or isinstance(r, _COMPOUND):
            self._changed(s, r, (s, r), ctx)  # a loop of another kind: the whole statement
            return
        found = self.c.first_difference(s, r)
        if found:
            self._changed(s, r, found, ctx)
        else:
            self.same.add(s.lineno)

    def if_chain(self, s: ast.If, r: ast.If, ctx: _Context, first_in_block: bool) -> None:
        branches_s, else_s = branches(s)
        branches_r, else_r = branches(r)

        def score(i: int, j: int) -> float:
            a, b = branches_s[i], branches_r[j]
            whole = self.c.score(ast.If(a.test, a.body, []), ast.If(b.test, b.body, []))
            return whole

        pairs = _align(len(branches_s), len(branches_r), score)
        extra = [branches_s[i] for i, j in pairs if j is None]
        missing = [branches_r[j] for i, j in pairs if i is None]
        moved = {}
        for a in extra:
            for b in missing:
                found = self.c.first_difference(ast.If(a.test, a.body, []), ast.If(b.test, b.body, []))
                alike = found is None
                if b not in moved.values() and alike:
                    moved[id(a)] = b
        for i, j in pairs:
            if i is not None and j is not None:
                a, b = branches_s[i], branches_r[j]
                inner = _if_context(a, ctx, first_in_block and i == 0)
                found = self.c.first_difference(a.test, b.test)
                if found:
                    self._changed(a, b, found, inner)
                else:
                    self.same.add(a.lineno)
                self.block(a.body, b.body, inner, a.lineno)
            elif i is not None:
                a = branches_s[i]
                kind: Kind = "order" if id(a) in moved else "extra"
                aspect = "order" if kind == "order" else "branch"
                self.out.append(Departure(kind, a.lineno, "condition", aspect, a, moved.get(id(a))))
            elif branches_r[j] not in moved.values():
                b = branches_r[j]
                self.out.append(Departure("missing", s.lineno, "condition", "branch", None, b))
        last = branches_s[-1].body[-1].end_lineno if branches_s[-1].body else s.lineno
        self.block(else_s, else_r, ctx, last)

    def _changed(self, s: ast.AST, r: ast.AST, found: tuple[ast.AST, ast.AST], ctx: _Context) -> None:
        part_s, part_r = found
        if isinstance(s, ast.If):
            # a difference inside the test of a base case or guard is about that case
            construct = "base case" if ctx.base_case else "special case" if ctx.special_case else "condition"
        elif _in_filter(s, part_s):
            construct = "condition"  # the `if` of a comprehension decides which items count
        else:
            construct = _construct(s, part_s, ctx)
        aspect = _aspect(s, part_s, part_r)
        if part_s is s and isinstance(s, ast.Expr) and isinstance(r, ast.Return):
            aspect = "not returned"
        if part_s is s and isinstance(s, ast.Assign) and isinstance(r, ast.AugAssign):
            aspect = "update"
        self.out.append(Departure("changed", s.lineno, construct, aspect, s, r, part_s, part_r))


def _in_filter(statement: ast.AST, part: ast.AST) -> bool:
    """Whether `part` lies in the `if` of a comprehension of `statement`."""
    return any(_contains(condition, part) for node in ast.walk(statement)
               if isinstance(node, ast.comprehension) for condition in node.ifs)


class _Moved(dict):
    """Student statement id -> the reference statement it matches in another place."""

    @property
    def values_ids(self) -> set[int]:
        return {id(v) for v in self.values()}


def _pairs_for_names(comparer: _Comparer, s: list[ast.stmt],
                     r: list[ast.stmt]) -> list[tuple[ast.AST, ast.AST]]:
    """Aligned statement pairs of every nested block, for learning the variable mapping."""
    out: list[tuple[ast.AST, ast.AST]] = []
    for i, j in _align(len(s), len(r), lambda i, j: comparer.score(s[i], r[j])):
        if i is None or j is None:
            continue
        a, b = s[i], r[j]
        if isinstance(a, ast.For) and isinstance(b, ast.For) and _is_range(a.iter) != _is_range(b.iter):
            # A position (`for i in range(len(xs))`) is not an item (`for x in xs`): never one for the other.
            if isinstance(a.target, ast.Name) and isinstance(b.target, ast.Name):
                comparer.apart.add((a.target.id, b.target.id))
            out.append((a.iter, b.iter))
            out += _pairs_for_names(comparer, a.body, b.body)
        elif isinstance(a, _COMPOUND) and type(a) is type(b):
            out.append((_HeaderOnly(_header(a)) if not isinstance(a, ast.If) else a.test,
                        _HeaderOnly(_header(b)) if not isinstance(b, ast.If) else b.test))
            out += _pairs_for_names(comparer, a.body, b.body)
            out += _pairs_for_names(comparer, getattr(a, "orelse", []), getattr(b, "orelse", []))
        elif not isinstance(a, _COMPOUND) and not isinstance(b, _COMPOUND):
            out.append((a, b))
    return out


class _HeaderOnly(ast.AST):
    """A bag of header nodes, so `_occurrences` and shapes see only the header."""

    _fields = ("parts",)

    def __init__(self, parts: list[ast.AST] | None = None) -> None:
        super().__init__()
        self.parts = parts or []


def departures(student: Parsed, reference: Parsed) -> list[Departure]:
    """Every place the student's program departs from the reference, in line order."""
    return compare_programs(student, reference)[0]


def compare_programs(student: Parsed, reference: Parsed) -> tuple[list[Departure], set[int]]:
    """The departures (in line order), and the student's lines the reference has exactly
    (a statement, or a compound statement's header, paired with identical code)."""
    comparer = _Comparer(student, reference)
    # The parameters of a function of the same name mean the same, whatever they are called.
    for name, mine in student.functions.items():
        theirs = reference.functions.get(name)
        if theirs is not None:
            for a, b in zip(mine.args.args, theirs.args.args, strict=False):
                comparer.mapping.setdefault(a.arg, b.arg)
    comparer.learn_names(_pairs_for_names(comparer, student.tree.body, reference.tree.body))
    walker = _Walker(comparer)
    walker.block(student.tree.body, reference.tree.body, _Context(), None)
    found = sorted(_moves(walker.out, comparer), key=lambda d: (d.line if d.line is not None else 0))
    return found, walker.same


def _moves(found: list[Departure], comparer: _Comparer) -> list[Departure]:
    """A statement only the student has, equal to one only the reference has in another
    block, is the same step in the wrong place (inside instead of after a loop, say)."""
    out = list(found)
    for extra in [d for d in found if d.kind == "extra" and d.student is not None]:
        for missing in [d for d in out if d.kind == "missing" and d.reference is not None]:
            s, r = extra.student, missing.reference
            if comparer.shape_s(s) == comparer.shape_r(r) and comparer.first_difference(s, r) is None:
                out.remove(missing)
                out[out.index(extra)] = Departure("moved", extra.line, extra.construct, "placement", s, r)
                break
    return out
