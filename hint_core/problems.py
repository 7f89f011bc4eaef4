"""Programming problems: the local bank on disk and the optional remote source.

A problem lives in a folder of the bank::

    problem_bank/<problem_id>/
        problem.yaml        description, template, kind, functions, setup, tests, rules, limits
        solutions/*.py      reference solutions (none is allowed: check_problems warns)
        assets/...          files copied into the work directory of every run

problem.yaml is read by problem_format.py (docs/problems.md describes it). Tests are
always local: they are hidden from students and never leave this service. When
``BACKEND_ORCHESTRATION_GET_PROBLEMS_URL`` is set, the description and template shown to
the LLM come from orchestration instead (it is where instructors edit them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hint_core.literals import call_text

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
    bool_as_int: bool = False  # False equals 0 and True equals 1 (courses that teach C-style truth)
    whitespace: Whitespace = "rstrip_lines"  # stdin/stdout problems only


@dataclass(frozen=True)
class Forbid:
    """Constructs a program may not use, found statically (parent side, before it runs)."""

    names: tuple[str, ...] = ()  # any use of these names: `sum`, `sorted` (also as `key=sorted`)
    calls: tuple[str, ...] = ()  # calls of these functions or methods: `sorted(x)`, `x.sort()`, `m.prod(x)`
    imports: tuple[str, ...] = ()  # these modules and their submodules: `itertools`, `collections`

    def __bool__(self) -> bool:
        return bool(self.names or self.calls or self.imports)


@dataclass(frozen=True)
class TestCase:
    name: str
    args: tuple[Any, ...] = ()  # function problems
    kwargs: dict[str, Any] = field(default_factory=dict)
    stdin: str = ""  # stdio problems
    expected: Any = None  # return value, or expected stdout text
    function: str | None = None  # the function this test calls; None: the problem's main function
    transform: tuple[str, ...] = ()  # applied to the returned value before comparing (literals.py)
    instance_of: tuple[str, ...] = ()  # the returned value must be an instance of one of these types

    def call_text(self, function: str | None) -> str:
        """How the test reads in a hint: ``factorial(0)``, ``read_file().strip()`` or ``input '3 4'``.
        `function` is the problem's main function (None for a stdio problem)."""
        name = self.function or function
        if name is None:
            return f"input {self.stdin!r}"
        return call_text(name, self.args, self.kwargs, self.transform)


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    description: str
    template: str
    kind: ProblemKind
    function: str | None  # the main function (the first of `functions`); None for stdio
    tests: tuple[TestCase, ...]
    solutions: tuple[str, ...]  # may be empty: a problem imported without reference solutions
    assets: dict[str, bytes] = field(default_factory=dict)
    compare: Compare = Compare()
    limits: Limits = Limits()
    functions: tuple[str, ...] = ()  # every function the tests call; () means (function,)
    setup: str = ""  # run before the program, in its namespace (course globals, imports)
    forbid: Forbid = Forbid()

    def __post_init__(self) -> None:
        if not self.functions and self.function:
            object.__setattr__(self, "functions", (self.function,))

    def test_function(self, test: TestCase) -> str | None:
        """The function `test` calls (None for a stdio problem)."""
        return test.function or self.function

    @property
    def tests_version(self) -> str:
        """Changes whenever the tests, the comparison rules or what the program runs with
        change. Problems without the newer fields keep the version they always had."""
        content: dict[str, Any] = {
            "kind": self.kind,
            "function": self.function,
            "compare": {k: v for k, v in self.compare.__dict__.items() if k != "bool_as_int" or v},
            "tests": [_test_content(t) for t in self.tests],
            "assets": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(self.assets.items())},
        }
        if self.functions != ((self.function,) if self.function else ()):
            content["functions"] = list(self.functions)
        if self.setup:
            content["setup"] = self.setup
        if self.forbid:
            content["forbid"] = self.forbid.__dict__
        payload = json.dumps(content, sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _test_content(test: TestCase) -> list[Any]:
    args = [_canonical(a) for a in test.args]
    content = [args, _canonical(test.kwargs), test.stdin, _canonical(test.expected)]
    if test.function is not None or test.transform or test.instance_of:
        content += [test.function, list(test.transform)]
    if test.instance_of:
        content.append(list(test.instance_of))
    return content


def _canonical(value: Any) -> Any:
    """JSON that tells apart what JSON alone would merge (a tuple and a list, {1: x} and
    {"1": x}) and orders sets stably; plain lists, str-keyed dicts and scalars come out
    as they always did, so existing problems keep their tests_version."""
    t = type(value)
    if t is list:
        return [_canonical(v) for v in value]
    if t is tuple:
        return {"tuple": [_canonical(v) for v in value]}
    if t in (set, frozenset):
        items = sorted((_canonical(v) for v in value), key=_sort_key)
        return {t.__name__: items}
    if t is dict:
        if all(type(k) is str for k in value):
            return {k: _canonical(v) for k, v in value.items()}
        return {"dict": sorted(([_canonical(k), _canonical(v)] for k, v in value.items()), key=_sort_key)}
    if t is float and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _sort_key(canonical: Any) -> str:
    return json.dumps(canonical, sort_keys=True, default=repr)


def load_problem_dir(folder: Path) -> Problem:
    """Read one problem folder, raising ProblemError that names the problem and field."""
    from hint_core.problem_format import read_spec  # it builds the dataclasses defined above

    where = folder.name
    spec_path = folder / "problem.yaml"
    if not spec_path.is_file():
        raise ProblemError(f"{where}: problem.yaml is missing")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(f"{where}: problem.yaml is not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None
    spec = read_spec(text, where)

    solutions = tuple(
        p.read_text(encoding="utf-8") for p in sorted((folder / "solutions").glob("*.py"))
    )
    assets_dir = folder / "assets"
    assets = {}
    if assets_dir.is_dir():
        for path in sorted(assets_dir.rglob("*")):
            if path.is_file():
                assets[path.relative_to(folder).as_posix()] = path.read_bytes()
    return Problem(id=folder.name, solutions=solutions, assets=assets, **spec)


def problem_folders(root: Path) -> list[Path]:
    """The problem folders of a bank, by name. A folder whose name starts with a dot is
    not a problem (the importer builds a problem there before it replaces the old one)."""
    return sorted(f for f in Path(root).iterdir()
                  if not f.name.startswith(".") and (f / "problem.yaml").is_file())


class ProblemBank:
    """The problems of one folder, kept in memory and reloaded when the folder changes.

    Problems are added to (or edited in) the bank while the service runs: an unknown id
    whose folder has appeared is loaded at once (a miss costs one `stat`), and at most
    every `reload_seconds` a look at the modification times of the problem files (no
    re-read) finds edited, added and removed problems; only those are read again. Web and
    worker processes each do this on their own, so nobody needs a restart or a signal. A
    folder that does not load (a half-written problem.yaml) is logged and the version
    loaded before is kept; at start-up it is an error, as before.
    """

    def __init__(self, root: Path = DEFAULT_BANK_DIR, reload_seconds: float | None = 2.0) -> None:
        self.root = Path(root)
        self.reload_seconds = reload_seconds  # None: never look again (a fixed bank)
        self._signatures: dict[str, tuple] = {}
        self._problems: dict[str, Problem] = {}
        self._lock = threading.Lock()
        for folder in problem_folders(self.root):
            problem = load_problem_dir(folder)
            self._problems[problem.id] = problem
            self._signatures[problem.id] = _signature(folder)
        self._checked_at = time.monotonic()

    def _refresh(self) -> None:
        """Reload what changed on disk, at most every `reload_seconds`."""
        if self.reload_seconds is None or time.monotonic() - self._checked_at < self.reload_seconds:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < self.reload_seconds:
                return  # another thread just looked
            try:
                folders = {f.name: f for f in problem_folders(self.root)}
            except OSError as exc:
                log.warning("problem bank %s: not readable (%s); keeping the problems loaded", self.root, exc)
                folders = None
            if folders is not None:
                problems = dict(self._problems)
                for name in set(problems) - set(folders):
                    log.info("problem %s: removed from the bank", name)
                    del problems[name]
                    self._signatures.pop(name, None)
                for name, folder in folders.items():
                    self._load_if_changed(name, folder, problems)
                self._problems = problems  # one assignment: readers see the old or the new dict
            self._checked_at = time.monotonic()

    def _load_if_changed(self, name: str, folder: Path, problems: dict[str, Problem]) -> bool:
        try:
            signature = _signature(folder)
        except OSError:
            return False  # being replaced right now: the next look finds it
        if self._signatures.get(name) == signature and name in problems:
            return False
        try:
            problems[name] = load_problem_dir(folder)
        except (ProblemError, OSError, UnicodeDecodeError) as exc:
            log.error("problem %s: not (re)loaded, %s; %s", name, exc,
                      "the version loaded before stays in use" if name in problems else "it stays unknown")
            return False
        log.info("problem %s: %s (tests %s)", name, "reloaded" if name in self._signatures else "added",
                 problems[name].tests_version)
        self._signatures[name] = signature
        return True

    def _load_new(self, problem_id: str) -> bool:
        """A miss: load the folder if it has just appeared (a name, never a path)."""
        if self.reload_seconds is None or not problem_id or problem_id != Path(problem_id).name \
                or problem_id.startswith("."):
            return False
        folder = self.root / problem_id
        if not (folder / "problem.yaml").is_file():
            return False
        with self._lock:
            if problem_id in self._problems:
                return True
            problems = dict(self._problems)
            if not self._load_if_changed(problem_id, folder, problems):
                return False
            self._problems = problems
            return True

    def ids(self) -> list[str]:
        self._refresh()
        return sorted(self._problems)

    def __contains__(self, problem_id: str) -> bool:
        self._refresh()
        return problem_id in self._problems or self._load_new(problem_id)

    def get(self, problem_id: str) -> Problem:
        self._refresh()
        try:
            return self._problems[problem_id]
        except KeyError:
            if self._load_new(problem_id):
                return self._problems[problem_id]
            raise UnknownProblem(f"unknown problem_id '{problem_id}'") from None


def _signature(folder: Path) -> tuple:
    """What changes when a problem's files change: each file's path, size and mtime (stat only)."""
    files = [folder / "problem.yaml", *sorted((folder / "solutions").glob("*.py"))]
    assets = folder / "assets"
    if assets.is_dir():
        files += sorted(p for p in assets.rglob("*") if p.is_file())
    return tuple((str(p.relative_to(folder)), st.st_size, st.st_mtime_ns) for p in files for st in (p.stat(),))
