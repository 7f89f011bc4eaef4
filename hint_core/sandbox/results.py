"""What a run of a program against a problem's tests produced, judged by the parent.

The child only reports what the program did for each test input; expected values never
leave this process, and the comparison happens here.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from hint_core.literals import FUNCTION_TRANSFORMS, INSTANCE_TYPES, METHOD_TRANSFORMS, call_text
from hint_core.problems import Compare, Problem, TestCase

TestStatus = Literal[
    "passed", "wrong_answer", "exception", "timeout", "memory_limit", "output_limit", "crashed"
]


class Status(StrEnum):
    """A run's status (RunResult.status) and a test's (TestResult.status, the first seven)."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    COMPILE_ERROR = "compile_error"  # the program does not compile (RunResult only)
    FORBIDDEN = "forbidden"  # uses a construct the problem forbids; `error` says which and where
    TOO_COMPLEX = "too_complex"  # too deeply nested or too long to check; not run


# Run statuses whose `error` is the first thing to tell the student, before any test.
PROGRAM_LEVEL = frozenset({Status.FORBIDDEN, Status.TOO_COMPLEX})
NO_VALUE = object()  # RunResult.returned of a test that gave no value
MAX_REPR = 300  # characters of a value shown in a result (and so in a prompt)


def clip(text: str, limit: int = MAX_REPR) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    return clip(repr(value), limit)


@dataclass
class TestResult:
    name: str
    status: TestStatus
    call: str  # e.g. "factorial(0)", or "input '3 4'"
    expected: str  # repr of the expected value (parent side only)
    actual: str | None = None  # repr of what the program produced
    error: str | None = None  # "ZeroDivisionError: division by zero (line 3)"
    line: int | None = None  # line in the student's program, when known
    kind: str = "function"  # "function" or "stdio": how the one-line description reads

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def describe(self) -> str:
        """One line for a prompt or a hint: ``factorial(0) returned 0, expected 1``."""
        stdio = self.kind == "stdio"
        subject = f"for {self.call} the program" if stdio else self.call
        if self.status == "wrong_answer":
            verb = "printed" if stdio else "returned"
            return f"{subject} {verb} {self.actual}, expected {self.expected}"
        if self.status == "exception":
            return f"{subject} raised {self.error}, expected {self.expected}"
        if self.status == "timeout":
            return f"{subject} did not finish in time (expected {self.expected})"
        if self.status == "memory_limit":
            return f"{subject} ran out of memory (expected {self.expected})"
        if self.status == "output_limit":
            return f"{subject} printed too much output (expected {self.expected})"
        if self.status == "crashed":
            return f"{subject} crashed{': ' + self.error if self.error else ''} (expected {self.expected})"
        return f"{subject} {'printed' if stdio else 'returned'} {self.expected} as expected"


@dataclass
class RunResult:
    correct: bool
    status: str  # a Status: passed, the first failing test's status, compile_error, forbidden, too_complex
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""  # excerpt of what the program printed (stdout then stderr, interleaved)
    error: str | None = None  # program-level error (syntax error, error while loading, forbidden construct)
    run_time: float = 0.0  # seconds of wall time for the whole run
    cpu_time: float = 0.0  # seconds of CPU time the run used, measured by the kernel
    executor: str = "local"  # "remote": judged by orchestration, with no per-test detail
    # What each test's call returned, decoded (NO_VALUE where it raised or gave no answer),
    # before any transform; parent side only, never stored: the differential check
    # (hint_core/differential.py) reads a reference solution's outputs from it.
    returned: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)

    def first_failure_text(self) -> str | None:
        if self.status in PROGRAM_LEVEL:
            return self.error
        failure = self.first_failure
        if failure is not None:
            return failure.describe()
        return self.error

    def to_dict(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies every value, and it showed in profiles.
        return {
            "correct": self.correct, "status": self.status, "tests": [dict(vars(t)) for t in self.tests],
            "output": self.output, "error": self.error, "run_time": self.run_time, "cpu_time": self.cpu_time,
            "executor": self.executor, "first_failure": self.first_failure_text(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        known = TestResult.__dataclass_fields__
        tests = [TestResult(**{k: v for k, v in t.items() if k in known}) for t in data.get("tests", [])]
        return cls(
            correct=bool(data["correct"]),
            status=str(data["status"]),
            tests=tests,
            output=str(data.get("output", "")),
            error=data.get("error"),
            run_time=float(data.get("run_time", 0.0)),
            cpu_time=float(data.get("cpu_time", 0.0)),
            executor=str(data.get("executor", "local")),  # rows stored before remote runs existed
        )


def _strict_key(value: Any, bool_as_int: bool = False) -> Any:
    """A hashable key that tells 1, 1.0 and True apart (they are equal in Python), except
    True and 1 (False and 0) when the problem says they are the same."""
    t = type(value)
    if t in (tuple, list):
        return (t.__name__, tuple(_strict_key(v, bool_as_int) for v in value))
    if t in (set, frozenset):
        return (t.__name__, frozenset(_strict_key(v, bool_as_int) for v in value))
    if t is dict:
        return ("dict", frozenset((_strict_key(k, bool_as_int), _strict_key(v, bool_as_int))
                                  for k, v in value.items()))
    if t is float and math.isnan(value):
        return ("nan", id(value))  # NaN equals nothing
    if t is bool and bool_as_int:
        return ("int", int(value))
    return (t.__name__, value)


def _is_number(value: Any, bool_as_int: bool = False) -> bool:
    return type(value) in (int, float) or (bool_as_int and type(value) is bool)


def values_equal(actual: Any, expected: Any, rules: Compare) -> bool:
    """Type-strict equality: True is not 1, "3" is not 3, (1, 2) is not [1, 2].

    Floats compare within ``rules.float_tolerance`` when the problem sets one (then an
    int and a float may compare too); True and 1 (False and 0) compare equal when
    ``rules.bool_as_int``; lists and tuples compare as multisets when
    ``rules.unordered``; sets and dict keys compare exactly.
    """
    if rules.bool_as_int and {type(actual), type(expected)} == {bool, int}:
        return int(actual) == int(expected)
    tol = rules.float_tolerance
    numbers = _is_number(expected, rules.bool_as_int) and _is_number(actual, rules.bool_as_int)
    if tol is not None and numbers and float in (type(actual), type(expected)):
        return math.isclose(float(actual), float(expected), rel_tol=tol, abs_tol=tol)
    if type(actual) is not type(expected):
        return False
    if type(expected) in (list, tuple):
        if len(actual) != len(expected):
            return False
        if rules.unordered:
            return _same_multiset(actual, expected, rules)
        return all(values_equal(a, e, rules) for a, e in zip(actual, expected, strict=True))
    if type(expected) in (set, frozenset):
        return _strict_key(actual, rules.bool_as_int) == _strict_key(expected, rules.bool_as_int)
    if type(expected) is dict:
        if len(actual) != len(expected):
            return False
        by_key = {_strict_key(k, rules.bool_as_int): v for k, v in actual.items()}
        for key, value in expected.items():
            strict = _strict_key(key, rules.bool_as_int)
            if strict not in by_key or not values_equal(by_key[strict], value, rules):
                return False
        return True
    return actual == expected


def _same_multiset(actual: Any, expected: Any, rules: Compare) -> bool:
    if rules.float_tolerance is None:
        try:
            return Counter(_strict_key(a, rules.bool_as_int) for a in actual) == \
                Counter(_strict_key(e, rules.bool_as_int) for e in expected)
        except TypeError:
            pass
    remaining = list(actual)
    for item in expected:
        match = next((i for i, a in enumerate(remaining) if values_equal(a, item, rules)), None)
        if match is None:
            return False
        remaining.pop(match)
    return True


class TransformError(ValueError):
    """A test's transform does not apply to what the program returned."""


_CONTAINERS = (str, list, tuple, dict, set, frozenset)
_FUNCTIONS = {"sorted": sorted, "len": len, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def apply_transform(value: Any, transform: tuple[str, ...]) -> Any:
    """`value` after the test's transforms (``strip``, ``sorted``, ...), computed here on
    the decoded plain value; raises TransformError when one does not apply."""
    for step in transform:
        if step in METHOD_TRANSFORMS:
            if type(value) is not str:
                raise TransformError(f"not a text, so .{step}() does not apply")
            value = getattr(str, step)(value)
        elif step in FUNCTION_TRANSFORMS:
            if type(value) not in _CONTAINERS:
                raise TransformError(f"not a sequence or collection, so {step}() does not apply")
            try:
                value = _FUNCTIONS[step](value)
            except TypeError as exc:  # sorted() of mixed types, set() of unhashable items
                raise TransformError(f"{step}() does not apply ({exc})") from None
        else:
            raise TransformError(f"unknown transform {step!r}")
    return value


def normalize_stdout(text: str, rules: Compare) -> str | list[str]:
    if rules.whitespace == "exact":
        return text
    if rules.whitespace == "tokens":
        return text.split()
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def error_text(err: dict[str, Any]) -> str:
    return f"{err['type']}: {err['message']}" + (f" (line {err['line']})" if err.get("line") else "")


def judge(test: TestCase, problem: Problem, record: dict[str, Any] | None) -> TestResult:
    """Turn the one well-formed record for a test into a verdict (None: no record).

    ``record`` is already validated: ``{"value": decoded}``, ``{"error": {...}}``,
    ``{"unsupported": text}`` or ``{"limit": "output"}``.
    """
    expected_text = short_repr(test.expected)
    call = clip(test.call_text(problem.function), 200) if problem.kind == "function" else \
        "input " + short_repr(test.stdin, 200)
    result = TestResult(test.name, Status.CRASHED, call, expected_text, kind=problem.kind)
    if record is None:
        result.error = "no result for this test"
    elif "error" in record:
        err = record["error"]
        result.status = Status.MEMORY_LIMIT if err["type"] == "MemoryError" else Status.EXCEPTION
        result.error = error_text(err)
        result.line = err.get("line")
    elif "limit" in record:
        result.status = Status.OUTPUT_LIMIT
        result.error = "output limit exceeded"
    elif "unsupported" in record:
        result.status = Status.WRONG_ANSWER
        result.actual = f"<{record['unsupported'][:MAX_REPR]}>"
    elif problem.kind == "stdio":
        value = record["value"]
        ok = isinstance(value, str) and normalize_stdout(value, problem.compare) == normalize_stdout(
            test.expected, problem.compare)
        result.status = Status.PASSED if ok else Status.WRONG_ANSWER
        result.actual = short_repr(value)
    else:
        _judge_value(result, test, problem, record["value"])
    return result


def _judge_value(result: TestResult, test: TestCase, problem: Problem, returned: Any) -> None:
    if test.instance_of and not isinstance(returned, tuple(INSTANCE_TYPES[t] for t in test.instance_of)):
        result.status = Status.WRONG_ANSWER
        result.actual = f"{short_repr(returned)} (of type {type(returned).__name__})"
        result.expected = f"{result.expected} (of type {' or '.join(test.instance_of)})"
        return
    try:
        value = apply_transform(returned, test.transform)
    except TransformError as exc:
        # Say it about the call itself: "read_file() returned 5 (not a text, ...), expected
        # a value for which read_file().strip() is 'text'".
        result.status = Status.WRONG_ANSWER
        result.expected = f"a value for which {result.call} is {short_repr(test.expected)}"
        result.call = clip(call_text(problem.test_function(test) or "", test.args, test.kwargs), 200)
        result.actual = f"{short_repr(returned)} ({exc})"
        return
    ok = values_equal(value, test.expected, problem.compare)
    result.status = Status.PASSED if ok else Status.WRONG_ANSWER
    result.actual = short_repr(value)
