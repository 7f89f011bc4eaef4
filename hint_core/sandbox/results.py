"""What a run of a program against a problem's tests produced, judged by the parent.

The child only reports what the program did for each test input; expected values never
leave this process, and the comparison happens here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from hint_core.problems import Compare, Problem, TestCase

TestStatus = Literal[
    "passed", "wrong_answer", "exception", "timeout", "memory_limit", "output_limit", "crashed"
]


@dataclass
class TestResult:
    name: str
    status: TestStatus
    call: str  # e.g. "factorial(0)"
    expected: str  # repr of the expected value (parent side only)
    actual: str | None = None  # repr of what the program produced
    error: str | None = None  # "ZeroDivisionError: division by zero (line 3)"
    line: int | None = None  # line in the student's program, when known

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def describe(self) -> str:
        """One line for a prompt or a hint: ``factorial(0) returned 0, expected 1``."""
        if self.status == "wrong_answer":
            return f"{self.call} returned {self.actual}, expected {self.expected}"
        if self.status == "exception":
            return f"{self.call} raised {self.error}, expected {self.expected}"
        if self.status == "timeout":
            return f"{self.call} did not finish in time (expected {self.expected})"
        if self.status == "memory_limit":
            return f"{self.call} ran out of memory (expected {self.expected})"
        if self.status == "output_limit":
            return f"{self.call} printed too much output (expected {self.expected})"
        if self.status == "crashed":
            return f"{self.call} crashed{': ' + self.error if self.error else ''} (expected {self.expected})"
        return f"{self.call} returned {self.expected} as expected"


@dataclass
class RunResult:
    correct: bool
    status: str  # "passed", or the status of the first failing test, or "compile_error"
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""  # excerpt of what the program printed (stdout then stderr)
    error: str | None = None  # program-level error (syntax error, missing function, crash)
    run_time: float = 0.0  # seconds of wall time for the whole run

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)

    def first_failure_text(self) -> str | None:
        failure = self.first_failure
        if failure is not None:
            return failure.describe()
        return self.error

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["first_failure"] = self.first_failure_text()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        tests = [TestResult(**t) for t in data.get("tests", [])]
        return cls(
            correct=bool(data["correct"]),
            status=str(data["status"]),
            tests=tests,
            output=str(data.get("output", "")),
            error=data.get("error"),
            run_time=float(data.get("run_time", 0.0)),
        )


def values_equal(actual: Any, expected: Any, rules: Compare) -> bool:
    """Type-strict equality: True is not 1 and "3" is not 3."""
    if isinstance(expected, float) and rules.float_tolerance is not None:
        if type(actual) not in (float, int) or isinstance(actual, bool):
            return False
        tol = rules.float_tolerance
        return math.isclose(float(actual), expected, rel_tol=tol, abs_tol=tol)
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, list):
        if len(actual) != len(expected):
            return False
        if rules.unordered:
            remaining = list(actual)
            for item in expected:
                match = next((i for i, a in enumerate(remaining) if values_equal(a, item, rules)), None)
                if match is None:
                    return False
                remaining.pop(match)
            return True
        return all(values_equal(a, e, rules) for a, e in zip(actual, expected))
    if isinstance(expected, dict):
        if set(actual) != set(expected):
            return False
        return all(values_equal(actual[k], expected[k], rules) for k in expected)
    return actual == expected


def normalize_stdout(text: str, rules: Compare) -> str | list[str]:
    if rules.whitespace == "exact":
        return text
    if rules.whitespace == "tokens":
        return text.split()
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def judge(test: TestCase, problem: Problem, record: dict[str, Any] | None) -> TestResult:
    """Turn the child's record for one test into a verdict; a missing record is a crash."""
    expected_text = repr(test.expected)
    call = test.call_text(problem.function)
    if record is None:
        return TestResult(test.name, "crashed", call, expected_text, error="no result for this test")
    if "error" in record:
        err = record["error"]
        return TestResult(
            test.name, "exception", call, expected_text,
            error=f"{err.get('type')}: {err.get('message')}" + (f" (line {err['line']})" if err.get("line") else ""),
            line=err.get("line"),
        )
    value = record.get("value")
    if problem.kind == "stdio":
        ok = isinstance(value, str) and normalize_stdout(value, problem.compare) == normalize_stdout(
            test.expected, problem.compare
        )
    else:
        ok = values_equal(value, test.expected, problem.compare)
    return TestResult(test.name, "passed" if ok else "wrong_answer", call, expected_text, actual=repr(value))
