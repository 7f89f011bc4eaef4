"""Test values and calls written as Python text, read without running anything.

An instructor writes a test as ``call: birthday((5, 15), [])`` and ``expected: ()``;
YAML alone has no tuples, sets or frozensets. ``parse_value`` reads such text into the
exact value (an empty tuple stays a tuple), ``value_text`` writes a value back so that
``parse_value(value_text(v))`` is ``v`` again, type for type, and ``parse_call`` reads
a call of the problem's function with literal arguments.

Accepted values: None, True, False, int, float (``float('inf')``, ``float('-inf')``,
``float('nan')`` too), str, and lists, tuples, dicts, sets (``set()`` when empty) and
frozensets (``frozenset()``, ``frozenset({1, 2})``) of them. Nothing is evaluated: the
text is parsed, and only these forms are accepted.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)

# Applied by the judge (parent side) to a returned value before comparing, in the order
# written: `read_file().strip()` compares the stripped text, `sorted(f(x))` a sorted list.
METHOD_TRANSFORMS = frozenset({"strip", "lstrip", "rstrip", "lower", "upper", "split", "splitlines"})
FUNCTION_TRANSFORMS = frozenset({"sorted", "len", "list", "tuple", "set", "frozenset"})
MAX_TEXT = 100_000  # characters of one value or call as written
# The types a test may demand of a returned value (``instance_of``, as isinstance does).
INSTANCE_TYPES: dict[str, type] = {
    t.__name__: t for t in (int, float, str, bool, list, tuple, dict, set, frozenset)
}


class LiteralError(ValueError):
    """The text is not a value (or call) of the accepted forms; the message says why."""


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    transform: tuple[str, ...] = ()  # applied to the returned value, innermost first


def _parse(text: str) -> ast.expr:
    if len(text) > MAX_TEXT:
        raise LiteralError(f"longer than {MAX_TEXT} characters")
    try:
        return parse_program(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise LiteralError(f"not valid Python ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise LiteralError("nested too deeply, or not text") from None


def _value(node: ast.expr, names: dict[str, Any] | None = None) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (bool, int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand, names)
        if type(operand) in (int, float):
            return -operand if isinstance(node.op, ast.USub) else operand
    elif isinstance(node, ast.List):
        return [_value(e, names) for e in node.elts]
    elif isinstance(node, ast.Tuple):
        return tuple(_value(e, names) for e in node.elts)
    elif isinstance(node, ast.Set):
        return _hashed(set, [_value(e, names) for e in node.elts])
    elif isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise LiteralError("'**' in a dict is not a value")
        try:
            return {_value(k, names): _value(v, names) for k, v in zip(node.keys, node.values, strict=True)}
        except TypeError as exc:
            raise LiteralError(f"a dict key that cannot be a key ({exc})") from None
    elif isinstance(node, ast.Call):
        return _constructor(node, names)
    elif isinstance(node, ast.Name) and names is not None and node.id in names:
        return names[node.id]
    raise LiteralError(f"{_shown(node)} is not a plain value")


def _hashed(kind: type, items: list[Any]) -> Any:
    try:
        return kind(items)
    except TypeError as exc:
        raise LiteralError(f"a set item that cannot be in a set ({exc})") from None


def _constructor(node: ast.Call, names: dict[str, Any] | None) -> Any:
    """set(), frozenset(...), float('inf') and the like: the only calls that are values."""
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if node.keywords or len(node.args) > 1:
        raise LiteralError(f"{_shown(node)} is not a plain value")
    if name in ("set", "frozenset"):
        items = _value(node.args[0], names) if node.args else []
        if type(items) not in (list, tuple, set, frozenset):
            raise LiteralError(f"{_shown(node)}: write the items as a list, tuple or set")
        return _hashed(set if name == "set" else frozenset, list(items))
    if name == "float" and len(node.args) == 1:
        arg = _value(node.args[0], names)
        special = ("inf", "-inf", "+inf", "nan", "infinity", "-infinity")
        if type(arg) is str and arg.strip().lower() in special:
            return float(arg)
    raise LiteralError(f"{_shown(node)} is not a plain value")


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def parse_value(text: str, names: dict[str, Any] | None = None) -> Any:
    """The value that Python text stands for; raises LiteralError saying what is wrong.
    `names` may give values to bare names (the importer resolves test variables so)."""
    try:
        return _value(_parse(text), names)
    except RecursionError:
        raise LiteralError("nested too deeply") from None


def value_of(node: ast.expr, names: dict[str, Any] | None = None) -> Any:
    """Like parse_value, for an expression already parsed."""
    try:
        return _value(node, names)
    except RecursionError:
        raise LiteralError("nested too deeply") from None


def value_text(value: Any) -> str:
    """Python text that parse_value reads back as exactly `value` (same types throughout)."""
    t = type(value)
    if t is float:
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    if value is None or t in (bool, int, str):
        return repr(value)
    if t is list:
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if t is tuple:
        inner = ", ".join(value_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if t is dict:
        return "{" + ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in value.items()) + "}"
    if t in (set, frozenset):
        items = sorted(value_text(v) for v in value)  # a stable text for the same set
        if t is set:
            return "{" + ", ".join(items) + "}" if items else "set()"
        return "frozenset({" + ", ".join(items) + "})" if items else "frozenset()"
    raise LiteralError(f"a value of type {t.__name__} cannot be written as a test value")


def peel_transforms(node: ast.expr) -> tuple[ast.expr, tuple[str, ...]]:
    """The expression inside transforms (``sorted(X)``, ``X.strip()``) and the transforms
    around it, innermost first: ``len(f(x).split())`` gives ``f(x)`` and (split, len)."""
    outer: list[str] = []
    while isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTION_TRANSFORMS and len(node.args) == 1:
            outer.append(func.id)
            node = node.args[0]
        elif isinstance(func, ast.Attribute) and func.attr in METHOD_TRANSFORMS and not node.args:
            outer.append(func.attr)
            node = func.value
        else:
            break
    return node, tuple(reversed(outer))


def is_call_of(node: ast.expr, functions: tuple[str, ...]) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions


def unwrap_call(node: ast.expr, functions: tuple[str, ...]) -> tuple[ast.Call, tuple[str, ...]] | None:
    """The call of one of `functions` inside `node`, and the transforms around it
    (``sorted(f(x))``, ``f(x).strip()``), innermost first; None if `node` is no such call."""
    inner, transform = peel_transforms(node)
    if is_call_of(inner, functions):
        assert isinstance(inner, ast.Call)
        return inner, transform
    return None


def parse_call(text: str, functions: tuple[str, ...]) -> Call:
    """A call of one of `functions` with literal arguments, possibly inside transforms:
    ``birthday((5, 15), [])``, ``read_file().strip()``, ``sorted(f([3, 1]))``."""
    node = _parse(text)
    found = unwrap_call(node, functions)
    if found is None:
        names = ", ".join(functions)
        raise LiteralError(f"not a call of {'the function ' if len(functions) == 1 else 'one of '}{names}"
                           f" with plain values (the transforms allowed around it: "
                           f"{', '.join(sorted(FUNCTION_TRANSFORMS))}, and the methods "
                           f"{', '.join('.' + m + '()' for m in sorted(METHOD_TRANSFORMS))})")
    call, transform = found
    return call_of(call, transform)


def call_of(call: ast.Call, transform: tuple[str, ...] = (), names: dict[str, Any] | None = None) -> Call:
    """The Call that an already parsed call node stands for (its arguments are values)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise LiteralError("'*' and '**' arguments are not supported: write each argument")
    assert isinstance(call.func, ast.Name)
    return Call(
        function=call.func.id,
        args=tuple(value_of(a, names) for a in call.args),
        kwargs={k.arg: value_of(k.value, names) for k in call.keywords if k.arg is not None},
        transform=transform,
    )


def call_text(function: str, args: tuple[Any, ...], kwargs: dict[str, Any], transform: tuple[str, ...] = (),
              show: Any = repr) -> str:
    """How a call reads: ``f(1, x=2)``, with its transforms: ``sorted(f(1))``, ``f().strip()``.
    `show` renders each argument (repr for people, value_text for a file)."""
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    text = f"{function}({', '.join(parts)})"
    for step in transform:
        text = f"{step}({text})" if step in FUNCTION_TRANSFORMS else f"{text}.{step}()"
    return text
