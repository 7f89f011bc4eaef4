"""The original problem handler's test scripts, read as checks (never run).

A test script calls the student's function and, on a mismatch, prints to stderr and
exits non-zero. ``TestScript(source, where, functions).read()`` returns the checks it
makes, in order, and raises ``Refused`` (naming the file and the line) at the first
statement it does not recognise; ``tests_from`` turns the checks into this bank's
tests. docs/problems.md lists what is recognised and why the rest is refused.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from hint_core.literals import (
    INSTANCE_TYPES,
    LiteralError,
    call_of,
    call_text,
    is_call_of,
    peel_transforms,
    value_of,
    value_text,
)
from hint_core.problems import TestCase

EXITS = ("exit", "quit", "sys.exit", "os._exit")
MAX_LOOP = 1000  # items of one `for` loop unrolled into tests


class Refused(Exception):
    """A task that cannot be imported faithfully; the message names the file and line."""


@dataclass(frozen=True)
class _Checked:
    """A call a test script checks, with the transforms around it and where it stands."""

    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    transform: tuple[str, ...]
    where: str  # "test_cases/x/x_1.py, line 4"

    @property
    def key(self) -> str:
        """The call itself (function and arguments), typed: f((1,)) is not f([1])."""
        return value_text((self.function, self.args, self.kwargs))


@dataclass(frozen=True)
class Check(_Checked):
    """A comparison: the call's (transformed) value must equal `expected`."""

    expected: Any = None


@dataclass(frozen=True)
class TypeCheck(_Checked):
    """An isinstance check of the call's value."""

    types: tuple[type, ...] = ()


@dataclass
class _Subject:
    """What a check looks at: a call of the task's function and the transforms around it."""

    call: ast.Call
    names: dict[str, Any]
    transform: tuple[str, ...] = ()


class TestScript:
    """The checks of one test script, in order; Refused for anything not recognised."""

    def __init__(self, source: str, where: str, functions: tuple[str, ...]) -> None:
        self.where = where
        self.functions = functions
        self.values: dict[str, Any] = {}  # variables holding literal values
        self.calls: dict[str, _Subject] = {}  # variables holding a call's result
        self.checks: list[Check | TypeCheck] = []
        try:
            self.tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise Refused(f"{where}: not valid Python ({exc})") from None

    def read(self) -> list[Check | TypeCheck]:
        self._block(self.tree.body)
        return self.checks

    def _refuse(self, node: ast.AST, why: str) -> Refused:
        return Refused(f"{self.where}, line {getattr(node, 'lineno', '?')}: {why}: `{_source(node)}`")

    # -- statements ----------------------------------------------------------------------

    def _block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self._statement(stmt)

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass):
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # a docstring
        if isinstance(stmt, ast.Expr) and _is_print(stmt.value) and not self._calls_task(stmt.value):
            return  # a message that calls nothing of the program's
        if isinstance(stmt, ast.Assign):
            return self._assign(stmt)
        if isinstance(stmt, ast.If):
            return self._if(stmt)
        if isinstance(stmt, ast.Assert):
            return self._check_holds(stmt.test, stmt)
        if isinstance(stmt, ast.For):
            return self._for(stmt)
        raise self._refuse(stmt, "a statement this importer does not recognise as a check")

    def _assign(self, stmt: ast.Assign) -> None:
        if len(stmt.targets) != 1:
            raise self._refuse(stmt, "a chained assignment")
        target = stmt.targets[0]
        subject = self._subject(stmt.value)
        if subject is not None and isinstance(target, ast.Name):
            self.calls[target.id] = subject
            self.values.pop(target.id, None)
            return
        try:
            value = value_of(stmt.value, self.values)
        except LiteralError:
            raise self._refuse(stmt, "an assignment of something other than a plain value or a call of "
                                     f"{' or '.join(self.functions)}") from None
        self._bind(target, value, stmt)

    def _bind(self, target: ast.expr, value: Any, stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.values[target.id] = value
            self.calls.pop(target.id, None)
        elif isinstance(target, ast.Tuple | ast.List) and type(value) in (tuple, list) and \
                len(value) == len(target.elts):
            for element, item in zip(target.elts, value, strict=True):
                self._bind(element, item, stmt)
        else:
            raise self._refuse(stmt, "an assignment to something other than names")

    def _if(self, stmt: ast.If) -> None:
        if not _is_failure(stmt.body):
            raise self._refuse(stmt, "an `if` whose body does not simply report a failure "
                                     "(print to stderr, exit)")
        self._check_fails(stmt.test, stmt)
        if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
            self._if(stmt.orelse[0])  # elif: checked after this one passed, as in the script
        elif stmt.orelse:
            raise self._refuse(stmt.orelse[0], "an `else` branch")

    def _for(self, stmt: ast.For) -> None:
        try:
            items = value_of(stmt.iter, self.values)
        except LiteralError:
            raise self._refuse(stmt, "a loop over something other than a plain list of values") from None
        if type(items) not in (list, tuple) or len(items) > MAX_LOOP or stmt.orelse:
            raise self._refuse(stmt, f"a loop over something other than a list of at most {MAX_LOOP} values")
        for item in items:
            self._bind(stmt.target, item, stmt)
            self._block(stmt.body)

    # -- conditions ----------------------------------------------------------------------

    def _check_fails(self, test: ast.expr, stmt: ast.stmt) -> None:
        """Record the checks of a condition under which the script reports a failure."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            for value in test.values:
                self._check_fails(value, stmt)
            return
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self._check_holds(test.operand, stmt)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, left, right = test.ops[0], test.left, test.comparators[0]
            if isinstance(op, ast.NotEq) or (isinstance(op, ast.IsNot) and _is_singleton(left, right)):
                return self._value_check(left, right, stmt)
            if isinstance(op, ast.Eq | ast.Is) and _is_false(right) and _is_isinstance(left):
                return self._type_check(left, stmt)  # isinstance(x, T) == False
        raise self._refuse(stmt, "a failure condition this importer does not recognise")

    def _check_holds(self, test: ast.expr, stmt: ast.stmt) -> None:
        """Record the checks of a condition that must hold (``assert``, ``if not ...``)."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            for value in test.values:
                self._check_holds(value, stmt)
            return
        if _is_isinstance(test):
            return self._type_check(test, stmt)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, left, right = test.ops[0], test.left, test.comparators[0]
            if isinstance(op, ast.Eq) or (isinstance(op, ast.Is) and _is_singleton(left, right)):
                return self._value_check(left, right, stmt)
        raise self._refuse(stmt, "a condition this importer does not recognise")

    def _value_check(self, left: ast.expr, right: ast.expr, stmt: ast.stmt) -> None:
        subject, other = self._subject(left), right
        if subject is None:
            subject, other = self._subject(right), left
        if subject is None:
            raise self._refuse(stmt, f"a comparison without a call of {' or '.join(self.functions)}")
        try:
            expected = value_of(other, self.values)
        except LiteralError as exc:
            raise self._refuse(stmt, f"an expected value that is not a plain value ({exc})") from None
        call = self._call(subject, stmt)
        self.checks.append(Check(call.function, call.args, call.kwargs, call.transform,
                                 f"{self.where}, line {stmt.lineno}", expected=expected))

    def _type_check(self, node: ast.Call, stmt: ast.stmt) -> None:
        subject = self._subject(node.args[0])
        types = _types(node.args[1])
        if subject is None or types is None:
            raise self._refuse(stmt, "an isinstance check of something other than a call of the program's "
                                     "function against built-in types")
        call = self._call(subject, stmt)
        self.checks.append(TypeCheck(call.function, call.args, call.kwargs, call.transform,
                                     f"{self.where}, line {stmt.lineno}", types=types))

    def _call(self, subject: _Subject, stmt: ast.stmt) -> Any:
        try:
            return call_of(subject.call, subject.transform, subject.names)
        except LiteralError as exc:
            raise self._refuse(stmt, f"a call whose arguments are not plain values ({exc})") from None

    def _subject(self, node: ast.expr) -> _Subject | None:
        """The call of the task's function that `node` looks at, through transforms and
        variables (``r`` after ``r = f(x)``); None if it looks at no such call."""
        inner, transform = peel_transforms(node)
        if isinstance(inner, ast.Name) and inner.id in self.calls:
            base = self.calls[inner.id]
            return _Subject(base.call, base.names, base.transform + transform)
        if is_call_of(inner, self.functions):
            assert isinstance(inner, ast.Call)
            return _Subject(inner, dict(self.values), transform)
        return None

    def _calls_task(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.functions
                   or isinstance(n, ast.Name) and n.id in self.calls for n in ast.walk(node))


def _source(node: ast.AST) -> str:
    text = ast.unparse(node).split("\n")[0]
    return text if len(text) <= 80 else text[:77] + "..."


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _is_print(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func) == "print"


def _to_stderr(node: ast.Call) -> bool:
    return any(k.arg == "file" and _dotted(k.value) == "sys.stderr" for k in node.keywords)


def _is_failure(body: list[ast.stmt]) -> bool:
    """A branch that only reports a failure: prints (one of them to stderr) and/or exits
    with a non-zero status or raises."""
    failed = False
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            failed = True
        elif isinstance(stmt, ast.Expr) and _is_print(stmt.value):
            failed = failed or _to_stderr(stmt.value)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                and _dotted(stmt.value.func) in EXITS:
            args = stmt.value.args
            if not args or isinstance(args[0], ast.Constant) and args[0].value in (0, None, False):
                return False  # exit() or exit(0): the script ends as a success
            failed = True  # exit(1), exit("message")
        else:
            return False
    return failed


def _is_singleton(left: ast.expr, right: ast.expr) -> bool:
    """`is` compares like `==` only with None, True and False."""
    return any(isinstance(n, ast.Constant) and n.value in (None, True, False) and type(n.value) is not int
               for n in (left, right))


def _is_false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _is_isinstance(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func) == "isinstance" and len(node.args) == 2 \
        and not node.keywords


def _types(node: ast.expr) -> tuple[type, ...] | None:
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    if not all(isinstance(n, ast.Name) and n.id in INSTANCE_TYPES for n in names):
        return None
    return tuple(INSTANCE_TYPES[n.id] for n in names)  # type: ignore[union-attr]


# --- from checks to tests ------------------------------------------------------------------------


def tests_from(checks: list[Check | TypeCheck], stem_of: dict[str, str]) -> list[TestCase]:
    """One test per distinct value check, in order. An isinstance check becomes the
    `instance_of` of the value checks of the same call; a lone one is refused (every
    test here compares a value)."""
    values = [c for c in checks if isinstance(c, Check)]
    types_of: dict[str, TypeCheck] = {}
    for check in checks:
        if isinstance(check, TypeCheck):
            types_of[check.key] = _type_check_for(check, [v for v in values if v.key == check.key],
                                                  types_of.get(check.key))
    tests: list[TestCase] = []
    seen: set[str] = set()
    names: set[str] = set()
    for check in values:
        identity = value_text((check.key, check.transform, check.expected))
        if identity in seen:
            continue
        seen.add(identity)
        name = f"{call_text(check.function, check.args, check.kwargs, check.transform)} " \
               f"({stem_of[check.where.split(',')[0]]})"
        while name in names:
            name += " (again)"
        names.add(name)
        type_check = types_of.get(check.key)
        tests.append(TestCase(name=name, args=check.args, kwargs=check.kwargs, expected=check.expected,
                              function=check.function, transform=check.transform,
                              instance_of=tuple(t.__name__ for t in type_check.types) if type_check else ()))
    return tests


def _type_check_for(check: TypeCheck, same_call: list[Check], earlier: TypeCheck | None) -> TypeCheck:
    """`check`, once it is known to fit the value checks of the same call."""
    if check.transform:
        raise Refused(f"{check.where}: an isinstance check of a transformed value; write a value check "
                      f"of the same transformed call instead")
    if not same_call:
        raise Refused(f"{check.where}: an isinstance check with no value check of the same call; every test "
                      f"here compares a value, so add the expected value of that call")
    if earlier is not None and set(earlier.types) != set(check.types):
        raise Refused(f"{check.where}: a second, different isinstance check of the call checked at "
                      f"{earlier.where}")
    for value in same_call:
        if not value.transform and not _could_be(value.expected, check.types):
            types = ", ".join(t.__name__ for t in check.types)
            raise Refused(f"{check.where}: the isinstance check ({types}) and the expected value "
                          f"{value.expected!r} at {value.where} contradict each other")
    return check


def _could_be(expected: Any, types: tuple[type, ...]) -> bool:
    """Whether a value of one of `types` can equal `expected` by Python's ==."""
    if isinstance(expected, types):
        return True
    numbers = (int, float, bool)
    return type(expected) in numbers and any(t in numbers for t in types)
