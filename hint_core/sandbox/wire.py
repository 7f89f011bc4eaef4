"""The value format between the worker and the sandbox child: JSON with tags.

Plain JSON loses distinctions that matter when judging a student's answer (a tuple is not
a list, ``{1: "a"}`` has an int key), so values travel as JSON where every object is a
one-key tag:

    None, bool, int, float, str -> themselves        list      -> [...]
    tuple     -> {"t": [...]}                          set       -> {"s": [...]}
    frozenset -> {"f": [...]}                          dict      -> {"d": [[key, value], ...]}

Only these exact types are accepted (no subclasses, so no student-defined ``__eq__`` or
``__hash__`` ever reaches the judge), within caps on depth, item count, text length and
integer size. The same module encodes and decodes on both sides; decoding hostile input
from the child never raises anything but ``BadValue``.

Standard library only: this module is also imported by the fork server.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
MAX_ITEMS = 100_000  # containers' items, counted over the whole value
MAX_TEXT = 1_000_000  # characters of all strings of one value together
MAX_INT_BITS = 13_000  # about 3900 decimal digits: below int-to-text limits of 3.11


class BadValue(ValueError):
    """A value that cannot travel: unsupported type, too big, or malformed."""


class _Budget:
    __slots__ = ("items", "text")

    def __init__(self) -> None:
        self.items = MAX_ITEMS
        self.text = MAX_TEXT


def _enc(value: Any, depth: int, budget: _Budget) -> Any:
    t = type(value)
    if value is None or t is bool or t is float:
        return value
    if t is int:
        if value.bit_length() > MAX_INT_BITS:
            raise BadValue("an integer too large to check")
        return value
    if t is str:
        budget.text -= len(value)
        if budget.text < 0:
            raise BadValue("text too long to check")
        return value
    if depth >= MAX_DEPTH:
        raise BadValue("a value nested too deeply to check")
    if t in (list, tuple, set, frozenset):
        budget.items -= len(value)
        if budget.items < 0:
            raise BadValue("a value with too many items to check")
        items = [_enc(v, depth + 1, budget) for v in value]
        if t is list:
            return items
        return {"t" if t is tuple else "s" if t is set else "f": items}
    if t is dict:
        budget.items -= len(value)
        if budget.items < 0:
            raise BadValue("a value with too many items to check")
        return {"d": [[_enc(k, depth + 1, budget), _enc(v, depth + 1, budget)] for k, v in value.items()]}
    raise BadValue(f"a value of type {t.__name__}, which cannot be checked")


def encode(value: Any) -> Any:
    """The JSON-ready form of a plain value; raises BadValue for anything else."""
    return _enc(value, 0, _Budget())


def _dec(data: Any, depth: int, budget: _Budget) -> Any:
    t = type(data)
    if data is None or t is bool or t is float:
        return data
    if t is int:
        if data.bit_length() > MAX_INT_BITS:
            raise BadValue("integer too large")
        return data
    if t is str:
        budget.text -= len(data)
        if budget.text < 0:
            raise BadValue("text too long")
        return data
    if depth >= MAX_DEPTH:
        raise BadValue("nested too deeply")
    if t is list:
        budget.items -= len(data)
        if budget.items < 0:
            raise BadValue("too many items")
        return [_dec(v, depth + 1, budget) for v in data]
    if t is dict and len(data) == 1:
        (tag, body), = data.items()
        if type(body) is not list:
            raise BadValue("malformed tag")
        budget.items -= len(body)
        if budget.items < 0:
            raise BadValue("too many items")
        try:
            if tag == "t":
                return tuple(_dec(v, depth + 1, budget) for v in body)
            if tag == "s":
                return {_dec(v, depth + 1, budget) for v in body}
            if tag == "f":
                return frozenset(_dec(v, depth + 1, budget) for v in body)
            if tag == "d":
                out = {}
                for pair in body:
                    if type(pair) is not list or len(pair) != 2:
                        raise BadValue("malformed mapping")
                    out[_dec(pair[0], depth + 1, budget)] = _dec(pair[1], depth + 1, budget)
                return out
        except TypeError as exc:  # an unhashable set item or key
            raise BadValue(str(exc)) from None
    raise BadValue("malformed value")


def decode(data: Any) -> Any:
    """Rebuild a value from its JSON-ready form; raises BadValue if malformed."""
    return _dec(data, 0, _Budget())


def loads_record(line: bytes) -> Any:
    """Parse one JSON line from the child; raises BadValue for anything malformed."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise BadValue(f"malformed record: {type(exc).__name__}") from None


def dumps_record(record: dict[str, Any]) -> bytes:
    """One record as one line (JSON never contains a raw newline)."""
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"
