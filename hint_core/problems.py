"""Programming problems: the local bank on disk and the optional remote source.

A problem lives in a folder of the bank::

    problem_bank/<problem_id>/
        problem.yaml        description, template, kind, tests, compare rules, limits
        solutions/*.py      reference solutions (at least one)
        assets/...          files copied into the work directory of every run

Tests are always local: they are hidden from students and never leave this service.
When ``BACKEND_ORCHESTRATION_GET_PROBLEMS_URL`` is set, the description and template
shown to the LLM come from orchestration instead (it is where instructors edit them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import requests
import yaml

log = logging.getLogger(__name__)

DEFAULT_BANK_DIR = Path(__file__).with_name("problem_bank")

ProblemKind = Literal["function", "stdio"]
Whitespace = Literal["exact", "rstrip_lines", "tokens"]


class ProblemError(ValueError):
    """A problem folder is malformed; the message names the problem and the field."""


class UnknownProblem(LookupError):
    pass


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run of a program against all tests of a problem."""

    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_mb: int = 256
    max_processes: int = 16  # threads count too
    file_size_kb: int = 1024
    open_files: int = 64
    output_bytes: int = 64 * 1024
    recursion_limit: int = 2000


@dataclass(frozen=True)
class Compare:
    """How a produced value is compared with the expected one (parent side only)."""

    float_tolerance: float | None = None  # absolute+relative tolerance for floats
    unordered: bool = False  # lists compared as multisets
    whitespace: Whitespace = "rstrip_lines"  # stdin/stdout problems only


@dataclass(frozen=True)
class TestCase:
    name: str
    args: tuple[Any, ...] = ()  # function problems
    kwargs: dict[str, Any] = field(default_factory=dict)
    stdin: str = ""  # stdio problems
    expected: Any = None  # return value, or expected stdout text

    def call_text(self, function: str | None) -> str:
        """How the test reads in a hint: ``factorial(0)`` or ``input '3 4'``."""
        if function is None:
            return f"input {self.stdin!r}"
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{function}({', '.join(parts)})"


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    description: str
    template: str
    kind: ProblemKind
    function: str | None
    tests: tuple[TestCase, ...]
    solutions: tuple[str, ...]
    assets: dict[str, bytes] = field(default_factory=dict)
    compare: Compare = Compare()
    limits: Limits = Limits()

    @property
    def tests_version(self) -> str:
        """Changes whenever the tests or the comparison rules change."""
        payload = json.dumps(
            {
                "kind": self.kind,
                "function": self.function,
                "compare": self.compare.__dict__,
                "tests": [[t.args, t.kwargs, t.stdin, t.expected] for t in self.tests],
                "assets": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(self.assets.items())},
            },
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _require(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ProblemError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind):
        raise ProblemError(f"{where}: field '{key}' has the wrong type ({type(value).__name__})")
    return value


def _dataclass_from(cls: type, data: Any, where: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise ProblemError(f"{where}: must be a mapping")
    known = cls.__dataclass_fields__
    for key in data:
        if key not in known:
            raise ProblemError(f"{where}: unknown field '{key}'")
    try:
        return cls(**data)
    except TypeError as exc:  # pragma: no cover - defensive
        raise ProblemError(f"{where}: {exc}") from exc


def _load_test(raw: Any, index: int, kind: ProblemKind, where: str) -> TestCase:
    where = f"{where}: tests[{index}]"
    if not isinstance(raw, dict):
        raise ProblemError(f"{where}: must be a mapping")
    if "expected" not in raw:
        raise ProblemError(f"{where}: missing field 'expected'")
    name = str(raw.get("name") or f"test {index + 1}")
    if kind == "function":
        args = raw.get("args", [])
        kwargs = raw.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ProblemError(f"{where}: 'args' must be a list and 'kwargs' a mapping")
        return TestCase(name=name, args=tuple(args), kwargs=dict(kwargs), expected=raw["expected"])
    stdin = raw.get("stdin", "")
    if not isinstance(stdin, str) or not isinstance(raw["expected"], str):
        raise ProblemError(f"{where}: 'stdin' and 'expected' must be text for a stdio problem")
    return TestCase(name=name, stdin=stdin, expected=raw["expected"])


def load_problem_dir(folder: Path) -> Problem:
    """Read one problem folder, raising ProblemError that names the problem and field."""
    where = folder.name
    spec_path = folder / "problem.yaml"
    if not spec_path.is_file():
        raise ProblemError(f"{where}: problem.yaml is missing")
    try:
        data = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProblemError(f"{where}: problem.yaml is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProblemError(f"{where}: problem.yaml must be a mapping")

    kind = data.get("kind", "function")
    if kind not in ("function", "stdio"):
        raise ProblemError(f"{where}: field 'kind' must be 'function' or 'stdio'")
    function = data.get("function")
    if kind == "function" and not (isinstance(function, str) and function.isidentifier()):
        raise ProblemError(f"{where}: field 'function' must name the function under test")
    raw_tests = _require(data, "tests", list, where)
    if not raw_tests:
        raise ProblemError(f"{where}: field 'tests' is empty")

    solutions = tuple(
        p.read_text(encoding="utf-8") for p in sorted((folder / "solutions").glob("*.py"))
    )
    if not solutions:
        raise ProblemError(f"{where}: solutions/ holds no reference solution (*.py)")

    assets_dir = folder / "assets"
    assets = {}
    if assets_dir.is_dir():
        for path in sorted(assets_dir.rglob("*")):
            if path.is_file():
                assets[path.relative_to(folder).as_posix()] = path.read_bytes()

    return Problem(
        id=folder.name,
        title=str(data.get("title") or folder.name),
        description=_require(data, "description", str, where).strip(),
        template=_require(data, "template", str, where),
        kind=kind,
        function=function if kind == "function" else None,
        tests=tuple(_load_test(t, i, kind, where) for i, t in enumerate(raw_tests)),
        solutions=solutions,
        assets=assets,
        compare=_dataclass_from(Compare, data.get("compare"), f"{where}: compare"),
        limits=_dataclass_from(Limits, data.get("limits"), f"{where}: limits"),
    )


class ProblemBank:
    """The problems of one folder, loaded once and kept in memory."""

    def __init__(self, root: Path = DEFAULT_BANK_DIR):
        self.root = Path(root)
        self._problems: dict[str, Problem] = {}
        for folder in sorted(self.root.iterdir()):
            if (folder / "problem.yaml").is_file():
                problem = load_problem_dir(folder)
                self._problems[problem.id] = problem

    def ids(self) -> list[str]:
        return sorted(self._problems)

    def __contains__(self, problem_id: str) -> bool:
        return problem_id in self._problems

    def get(self, problem_id: str) -> Problem:
        try:
            return self._problems[problem_id]
        except KeyError:
            raise UnknownProblem(f"unknown problem_id '{problem_id}'") from None


class ProblemSource:
    """Where the pipeline gets a problem: the bank, optionally with text from orchestration."""

    def __init__(self, bank: ProblemBank, remote_url: str | None = None, timeout: float = 5.0, ttl: float = 60.0):
        self.bank = bank
        self.remote_url = remote_url
        self.timeout = timeout
        self.ttl = ttl  # every step of a request needs the problem: ask orchestration once a minute
        self._fetched: dict[str, tuple[float, Problem]] = {}
        self._lock = threading.Lock()

    def knows(self, problem_id: str) -> bool:
        return problem_id in self.bank

    def get(self, problem_id: str) -> Problem:
        problem = self.bank.get(problem_id)
        if not self.remote_url:
            return problem
        with self._lock:
            cached = self._fetched.get(problem_id)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        fetched = self._fetch(problem)
        with self._lock:
            self._fetched[problem_id] = (time.monotonic(), fetched)
        return fetched

    def _fetch(self, problem: Problem) -> Problem:
        problem_id = problem.id
        try:
            reply = requests.get(self.remote_url, params={"problem_id": problem_id}, timeout=self.timeout)
            reply.raise_for_status()
            data = reply.json()
            return replace(
                problem,
                description=str(data.get("task_description") or problem.description),
                template=str(data.get("template_code") or problem.template),
            )
        except (requests.RequestException, ValueError, AttributeError) as exc:
            # The bank's own text is a good stand-in; a hint is better than no hint.
            log.warning("problem %s: orchestration text unavailable (%s); using the bank's", problem_id, exc)
            return problem
