"""What a run of a program against a problem's tests produced, judged by the parent.

The child only reports what the program did for each test input; expected values never
leave this process, and the comparison happens here.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from hint_core.problems import Compare, Problem, TestCase

TestStatus = Literal[
    "passed", "wrong_answer", "exception", "timeout", "memory_limit", "output_limit", "crashed"
]
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
    status: str  # "passed", or the status of the first failing test, or "compile_error"
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""  # excerpt of what the program printed (stdout then stderr, interleaved)
    error: str | None = None  # program-level error (syntax error, error while loading)
    run_time: float = 0.0  # seconds of wall time for the whole run
    cpu_time: float = 0.0  # seconds of CPU time the run used, measured by the kernel
    executor: str = "local"  # "remote": judged by orchestration, with no per-test detail

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)

    def first_failure_text(self) -> str | None:
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


def _strict_key(value: Any) -> Any:
    """A hashable key that tells 1, 1.0 and True apart (they are equal in Python)."""
    t = type(value)
    if t in (tuple, list):
        return (t.__name__, tuple(_strict_key(v) for v in value))
    if t in (set, frozenset):
        return (t.__name__, frozenset(_strict_key(v) for v in value))
    if t is dict:
        return ("dict", frozenset((_strict_key(k), _strict_key(v)) for k, v in value.items()))
    if t is float and math.isnan(value):
        return ("nan", id(value))  # NaN equals nothing
    return (t.__name__, value)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def values_equal(actual: Any, expected: Any, rules: Compare) -> bool:
    """Type-strict equality: True is not 1, "3" is not 3, (1, 2) is not [1, 2].

    Floats compare within ``rules.float_tolerance`` when the problem sets one (then an
    int and a float may compare too); lists and tuples compare as multisets when
    ``rules.unordered``; sets and dict keys compare exactly.
    """
    tol = rules.float_tolerance
    if tol is not None and _is_number(expected) and _is_number(actual) and float in (type(actual), type(expected)):
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
        return _strict_key(actual) == _strict_key(expected)
    if type(expected) is dict:
        if len(actual) != len(expected):
            return False
        by_key = {_strict_key(k): v for k, v in actual.items()}
        for key, value in expected.items():
            strict = _strict_key(key)
            if strict not in by_key or not values_equal(by_key[strict], value, rules):
                return False
        return True
    return actual == expected


def _same_multiset(actual: Any, expected: Any, rules: Compare) -> bool:
    if rules.float_tolerance is None:
        try:
            return Counter(map(_strict_key, actual)) == Counter(map(_strict_key, expected))
        except TypeError:
            pass
    remaining = list(actual)
    for item in expected:
        match = next((i for i, a in enumerate(remaining) if values_equal(a, item, rules)), None)
        if match is None:
            return False
        remaining.pop(match)
    return True


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
    result = TestResult(test.name, "crashed", call, expected_text, kind=problem.kind)
    if record is None:
        result.error = "no result for this test"
    elif "error" in record:
        err = record["error"]
        result.status = "memory_limit" if err["type"] == "MemoryError" else "exception"
        result.error = error_text(err)
        result.line = err.get("line")
    elif "limit" in record:
        result.status = "output_limit"
        result.error = "output limit exceeded"
    elif "unsupported" in record:
        result.status = "wrong_answer"
        result.actual = f"<{record['unsupported'][:MAX_REPR]}>"
    else:
        value = record["value"]
        if problem.kind == "stdio":
            ok = isinstance(value, str) and normalize_stdout(value, problem.compare) == normalize_stdout(
                test.expected, problem.compare
            )
        else:
            ok = values_equal(value, test.expected, problem.compare)
        result.status = "passed" if ok else "wrong_answer"
        result.actual = short_repr(value)
    return result
