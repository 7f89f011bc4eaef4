"""What a run says about a failing program, and how a hint quotes it.

A local run carries per-test detail: the first failing test's call, what came back, what
was expected, the error and the line it was raised on. A run through the course's remote
execution carries only the problem handler's last line of output (``Test failed:
reverse_words('hello world') should be 'world hello', got 'dlrow olleh'``, a traceback's
last line such as ``NameError: name 'x' is not defined``, or just ``NameError``); a
verdict this engine does not know (a forbidden construct, say) carries its message. Each
becomes one `Failure`, read the same way by the rest of the engine.

Every value a hint quotes is bounded: a long list keeps its first and last items around a
marker that says how many were left out, a long string its start and end; a value the
sandbox already cut short ends at its last whole item, with a marker. Nothing is cut in
the middle of a token.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from hint_core.problems import Problem
from hint_core.sandbox import RunResult

# Statuses whose words this module knows; any other verdict is quoted as it is reported.
KNOWN_STATUSES = ("wrong_answer", "exception", "timeout", "crashed", "memory_limit", "output_limit")
VALUE_CHARS = 80  # the most characters of one quoted value
CALL_CHARS = 100  # the most characters of a quoted test call
TEXT_CHARS = 160  # the most characters of quoted output or a verdict's message
_PARSE_CHARS = 20_000  # longer texts are not parsed as Python literals (cost, depth)

_LINE_SUFFIX = re.compile(r"\s*\(line (\d+)\)\s*$")
_SYNTAX_PLACE = re.compile(r"\s*\(<[^>]*>, line \d+\)$")
_ERROR = re.compile(r"^(?P<type>[A-Z]\w*(?:Error|Exception|Exit|Interrupt)|StopIteration)"
                    r"(?::\s*(?P<message>.*))?$", re.DOTALL)
_TEST_FAILED = re.compile(
    r"^Test failed:\s*(?P<call>.+?) should be (?P<expected>.+), got (?P<actual>.+)$", re.DOTALL)


@dataclass(frozen=True)
class Failure:
    """The first failing evidence of a run, whatever reported it."""

    status: str  # one of KNOWN_STATUSES, or another verdict ("forbidden", "failed", ...)
    call: str | None = None  # "factorial(0)", "input '3 4'"; None when the report does not say
    actual: str | None = None  # repr of what came back
    expected: str | None = None  # repr of what was expected
    error_type: str | None = None  # "NameError"
    error_message: str | None = None  # "name 'x' is not defined"
    line: int | None = None  # the line of the student's program the error was raised on
    text: str | None = None  # the report as it came, for evidence that is not a test (remote, verdicts)
    stdio: bool = False  # the test feeds stdin and reads stdout

    @property
    def error(self) -> str | None:
        if self.error_type is None:
            return None
        return f"{self.error_type}: {self.error_message}" if self.error_message else self.error_type


def _split_error(text: str | None) -> tuple[str | None, str | None, int | None]:
    """("NameError", "name 'x' is not defined", 3) from "NameError: name 'x' is not defined (line 3)"."""
    if not text:
        return None, None, None
    text = text.strip()
    line = None
    suffix = _LINE_SUFFIX.search(text)
    if suffix:
        line, text = int(suffix.group(1)), text[: suffix.start()]
    text = _SYNTAX_PLACE.sub("", text)
    match = _ERROR.match(text)
    if match is None:
        return None, text or None, line
    return match.group("type"), (match.group("message") or "").strip() or None, line


def _from_text(status: str, text: str, stdio: bool) -> Failure:
    """A remote report or an unknown verdict's message, read as well as it can be."""
    last = text.strip().splitlines()[-1].strip() if text.strip() else ""
    failed = _TEST_FAILED.match(last)
    if failed:
        return Failure("wrong_answer", failed.group("call").strip(), failed.group("actual").strip(),
                       failed.group("expected").strip(), text=last, stdio=stdio)
    error_type, message, line = _split_error(last)
    if error_type is not None:
        return Failure("exception", error_type=error_type, error_message=message, line=line, text=last,
                       stdio=stdio)
    _, _, line = _split_error(last)
    return Failure(status, line=line, text=last or None, stdio=stdio)


def failure_of(problem: Problem, run: RunResult | None) -> Failure | None:
    """The run's first failing evidence (None: the run shows no failure)."""
    if run is None:
        return None
    stdio = problem.kind == "stdio"
    test = run.first_failure
    if test is not None:
        error_type, message, line = _split_error(test.error)
        if test.status not in KNOWN_STATUSES:
            text = test.error or run.error or test.actual
            _, _, line = _split_error(text)
            return Failure(test.status, test.call, line=test.line or line, text=text, stdio=stdio)
        return Failure(test.status, test.call, test.actual, test.expected, error_type, message,
                       test.line or line, stdio=stdio)
    if run.correct:
        return None
    text = run.first_failure_text() or run.output or ""
    if run.status == "compile_error" or (text and text.lstrip().startswith("SyntaxError")):
        error_type, message, line = _split_error(text)
        return Failure("exception", error_type=error_type or "SyntaxError", error_message=message, line=line,
                       text=text, stdio=stdio)
    return _from_text(run.status, text, stdio)


# --- values, bounded ----------------------------------------------------------------------


def _literal(text: str) -> tuple[bool, object]:
    if len(text) > _PARSE_CHARS:
        return False, None
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _join(open_: str, items: list[str], close: str, limit: int, noun: str) -> str:
    """Items between brackets, keeping the first and last ones that fit in `limit`."""
    whole = f"{open_}{', '.join(items)}{close}"
    if len(whole) <= limit:
        return whole
    head: list[str] = []
    tail: list[str] = []
    budget = limit - len(open_) - len(close) - 24  # room for the marker
    # One item from the front, one from the back, while they fit: both ends stay visible.
    while len(head) + len(tail) < len(items) - 1:
        front = len(head) <= len(tail)
        item = items[len(head)] if front else items[len(items) - 1 - len(tail)]
        if len(item) + 2 > budget:
            break
        budget -= len(item) + 2
        (head if front else tail).append(item)
    left = len(items) - len(head) - len(tail)
    marker = f"<… {left} more {noun} …>"
    return f"{open_}{', '.join([*head, marker, *reversed(tail)])}{close}"


def _bounded_value(value: object, limit: int) -> str | None:
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        keep = max(limit - 30, 8)
        head, tail = value[: keep // 2 + keep % 2], value[-(keep // 2):]
        return f"{head!r}<… {len(value) - len(head) - len(tail)} more characters …>{tail!r}"
    if isinstance(value, list | tuple | set | frozenset):
        items = [repr(v) if len(repr(v)) <= limit // 2 else _bounded_value(v, limit // 2) or "…"
                 for v in value]
        if isinstance(value, list):
            return _join("[", items, "]", limit, "items")
        if isinstance(value, tuple):
            return _join("(", items, ")", limit, "items")
        return _join("{", items, "}", limit, "items")
    if isinstance(value, dict):
        items = [f"{k!r}: {v!r}" for k, v in value.items()]
        return _join("{", [i if len(i) <= limit // 2 else i[: limit // 2 - 1] + "…" for i in items], "}",
                     limit, "entries")
    return None


def _cut_at_item(text: str, limit: int) -> str:
    """A text that does not parse (cut short already, or too long): up to its last
    separator that fits, with a marker."""
    marker = " <… cut …>"
    room = max(limit - len(marker), 8)
    head = text[:room]
    cut = max(head.rfind(", "), head.rfind(" "))
    if cut > room // 2:
        head = head[:cut + (1 if head[cut] == "," else 0)]
    return head.rstrip() + marker


def bounded(text: str | None, limit: int = VALUE_CHARS) -> str:
    """`text` (a repr, a call, a message) in at most about `limit` characters."""
    if text is None:
        return "nothing"
    if len(text) <= limit:
        return text
    ok, value = _literal(text)
    shown = _bounded_value(value, limit) if ok else None
    return shown if shown is not None else _cut_at_item(text, limit)


def bounded_call(call: str | None) -> str | None:
    """A test's call with each long argument bounded: ``f([1, 2, <… 98 more items …>, 100])``."""
    if call is None or len(call) <= CALL_CHARS:
        return call
    match = re.match(r"^(\w+)\((.*)\)$", call, re.DOTALL)
    if match:
        ok, args = _literal(f"({match.group(2)},)")
        if ok and isinstance(args, tuple):
            share = max(CALL_CHARS // max(len(args), 1), 24)
            return f"{match.group(1)}({', '.join(bounded(repr(a), share) for a in args)})"
    return bounded(call, CALL_CHARS)


def value_kind(text: str | None) -> str | None:
    """The type name of a quoted value (None: not a Python literal, nor a value whose type
    the sandbox named)."""
    if text is None:
        return None
    ok, value = _literal(text)
    return type(value).__name__ if ok else unchecked_type(text)


_UNCHECKED = re.compile(r"^<a value of type (\w+)")


def unchecked_type(text: str | None) -> str | None:
    """The type the sandbox names for a value it cannot show ("<a value of type Counter, ...>")."""
    match = _UNCHECKED.match(text or "")
    return match.group(1) if match else None


def parsed_value(text: str | None) -> tuple[bool, object]:
    return _literal(text) if text is not None else (False, None)


# --- the failure in words -------------------------------------------------------------------

_PLURAL_WORDS = {
    "int": "whole numbers", "float": "decimal numbers", "str": "strings", "bool": "True/False values",
    "list": "lists", "dict": "dictionaries", "set": "sets", "tuple": "tuples", "NoneType": "None",
}
# What each status says, in a student's words; {subject} is "your function" or "your program".
_SAYS = {
    "wrong_answer": "{Subject} fails this test: {call} returned {actual}, expected {expected}.",
    "wrong_answer stdio": "{Subject} fails this test: for {call} it printed {actual}, expected {expected}.",
    "exception": "For {call} {subject} stops with {error}{where}.",
    "timeout": "For {call} {subject} never finishes: it is stopped when its time runs out.",
    "crashed": "For {call} {subject} never finishes: it is stopped when its time runs out.",
    "memory_limit": "For {call} {subject} uses more memory than allowed.",
    "output_limit": "For {call} {subject} prints far more than expected.",
}


def _difference(actual: str | None, expected: str | None) -> str:
    """For lists: a word on item types when they differ, and for long lists the first
    position where they differ (what the eye misses in two long values)."""
    ok_a, a = parsed_value(actual)
    ok_e, e = parsed_value(expected)
    if not (ok_a and ok_e and isinstance(a, list) and isinstance(e, list)):
        return ""
    note = ""
    kinds_a, kinds_e = {type(x).__name__ for x in a}, {type(y).__name__ for y in e}
    if len(kinds_a) == 1 and len(kinds_e) == 1 and kinds_a != kinds_e:
        note = (f" Its items are {_PLURAL_WORDS.get(kinds_a.pop(), 'values')} where "
                f"{_PLURAL_WORDS.get(kinds_e.pop(), 'other values')} are expected.")
    if len(actual or "") + len(expected or "") > 100:
        both = list(zip(a, e, strict=False))
        at = next((i for i, (x, y) in enumerate(both) if x != y or type(x) is not type(y)), None)
        if at is not None:
            mine, theirs = bounded(repr(both[at][0]), 30), bounded(repr(both[at][1]), 30)
            note = f" The lists first differ at position {at + 1}: {mine} where {theirs} is expected." + note
        elif len(a) != len(e):
            note = f" The list has {len(a)} items where {len(e)} are expected." + note
    return note


def failure_sentence(failure: Failure | None) -> str:
    """The failing evidence in one or two sentences, values bounded, the crash line named."""
    if failure is None:
        return "Your program does not pass all the tests yet."
    subject = "your program" if failure.stdio else "your function"
    key = "wrong_answer stdio" if failure.status == "wrong_answer" and failure.stdio else failure.status
    template = _SAYS.get(key)
    if template is None or (failure.status == "wrong_answer" and failure.actual is None):
        if not failure.text:
            return f"{subject[0].upper()}{subject[1:]} does not pass the tests yet (no details were " \
                "reported)."
        return f"{subject[0].upper()}{subject[1:]} is not accepted yet: {bounded(failure.text, TEXT_CHARS)}."
    error = failure.error_type or "an error"
    if failure.error_message:
        error += f": {bounded(failure.error_message, VALUE_CHARS)}"
    sentence = template.format(
        Subject=subject[0].upper() + subject[1:], subject=subject,
        call=bounded_call(failure.call) or "one of the tests",
        actual=bounded(failure.actual), expected=bounded(failure.expected),
        error=error, where=f" on line {failure.line}" if failure.line else "",
    )
    if failure.call is None and sentence.startswith("For one of the tests "):
        sentence = sentence[len("For one of the tests "):]
        sentence = sentence[0].upper() + sentence[1:]
    if failure.status == "wrong_answer":
        sentence += _difference(failure.actual, failure.expected)
    return sentence
