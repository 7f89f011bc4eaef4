"""Problems as orchestration knows them: its text, and a Problem for those only it knows.

``GET problems_url?problem_id=ID`` answers 200 ``{"task_description", "template_code", ...}``
for a known problem, 404 or an ``{"error": ...}`` body for an unknown one. The client
tells three outcomes apart: known (the text), unknown (``ProblemNotAtOrchestration``)
and unreachable (``OrchestrationUnreachable``: connection refused, timeout, 5xx, or an
answer without the two fields). Known problems are cached for ``ttl`` seconds, unknown
ones for the shorter ``unknown_ttl`` (so a problem an instructor adds appears soon), and
outages not at all; the cache holds at most ``max_entries`` problems (least recently
used go first).

A problem only orchestration knows becomes a ``Problem`` with no tests (its handler
judges it) and no reference solutions; its function is read from the template. Such a
problem must be run by the remote executor: with no tests, a local run has nothing to
judge by (the local sandbox calls such a run incorrect, whatever the program).
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hint_core.parsing import parse as parse_program  # one thread at a time (CPython 3.11)
from hint_core.problems import Problem
from hint_core.remote.errors import OrchestrationUnreachable, ProblemNotAtOrchestration
from hint_core.remote.http import Answer, NetworkFailure, OrchestrationHttp, check_url, safe_url

log = logging.getLogger("hint_core.remote")

UNKNOWN_STATUSES = (400, 404, 410, 422)  # orchestration says: no such problem (or not a valid id)


@dataclass(frozen=True)
class RemoteProblemText:
    problem_id: str
    description: str
    template: str
    title: str | None = None


Outcome = RemoteProblemText | ProblemNotAtOrchestration  # what a fetch learnt, as cached


class OrchestrationProblems:
    """Fetches problems from orchestration, with a bounded cache. Thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ttl: float = 60.0,
        unknown_ttl: float = 10.0,
        max_entries: int = 512,
        timeout: float = 5.0,
        attempts: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_url(url, "problems url")
        if ttl <= 0 or unknown_ttl < 0 or max_entries < 1 or timeout <= 0 or attempts < 1:
            raise ValueError("ttl and timeout must be positive, unknown_ttl >= 0, "
                             "max_entries and attempts at least 1")
        self.ttl = ttl
        self.unknown_ttl = unknown_ttl
        self.max_entries = max_entries
        self.timeout = timeout
        self.attempts = attempts  # an API call waits for this: two quick tries, then 503
        self._clock = clock
        self._http = OrchestrationHttp(token, connect_timeout=min(3.0, timeout))
        self._cache: OrderedDict[str, tuple[float, Outcome]] = OrderedDict()  # id -> (expires, outcome)
        self._lock = threading.Lock()
        self.fetches = 0  # HTTP calls made (tests and health pages read it)

    def __repr__(self) -> str:
        return f"OrchestrationProblems({safe_url(self.url)}, ttl={self.ttl:g})"

    def fetch(self, problem_id: str) -> RemoteProblemText:
        """The problem's text; raises ProblemNotAtOrchestration or OrchestrationUnreachable."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(problem_id)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(problem_id)
                return _known(cached[1])
        outcome = self._ask(problem_id)  # raises OrchestrationUnreachable: not cached
        expires = self._clock() + (self.ttl if isinstance(outcome, RemoteProblemText) else self.unknown_ttl)
        with self._lock:
            self._cache[problem_id] = (expires, outcome)
            self._cache.move_to_end(problem_id)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return _known(outcome)

    def problem(self, problem_id: str) -> Problem:
        """A Problem for a problem that only orchestration knows (see remote_problem)."""
        return remote_problem(self.fetch(problem_id))

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _ask(self, problem_id: str) -> Outcome:
        cause = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.2 * attempt)
            with self._lock:
                self.fetches += 1
            try:
                answer = self._http.get(self.url, {"problem_id": problem_id}, self.timeout)
            except NetworkFailure as exc:
                cause = exc.cause
                continue
            outcome = _read(problem_id, answer)
            if outcome is not None:
                return outcome
            cause = "HTTP 200 without task_description and template_code" if answer.status == 200 else \
                answer.describe()
            if 400 <= answer.status < 500 and answer.status not in (408, 429):
                break  # 401, 403...: asking again will not help
        log.warning("problem %s: orchestration %s: %s", problem_id, safe_url(self.url), cause)
        raise OrchestrationUnreachable(f"problem {problem_id}: {safe_url(self.url)}: {cause}")


def _known(outcome: Outcome) -> RemoteProblemText:
    if isinstance(outcome, ProblemNotAtOrchestration):
        raise outcome
    return outcome


def _read(problem_id: str, answer: Answer) -> Outcome | None:
    """What the answer says; None when it says nothing usable (retry, then unreachable)."""
    if answer.status in UNKNOWN_STATUSES or (answer.status == 200 and answer.error_text() is not None):
        return ProblemNotAtOrchestration(problem_id, answer.describe())
    if answer.status != 200:
        return None
    description, template = answer.field("task_description"), answer.field("template_code")
    if not (isinstance(description, str) and isinstance(template, str)):
        return None
    title = answer.field("title") or answer.field("name")
    return RemoteProblemText(problem_id, description, template, str(title) if title else None)


# --- the template's functions -------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """A function the template defines: ``read_file(path)``. ``call`` checks arguments
    (None when the template did not parse and the signature was read line by line)."""

    name: str
    params: tuple[str, ...]
    call: inspect.Signature | None = None

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


_DEF_LINE = re.compile(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(([^)\n]*)", re.MULTILINE)


def template_signatures(template: str) -> list[Signature]:
    """The top-level functions a template defines, in order. A template that does not
    parse (an unfinished body, say) is read line by line instead."""
    try:
        tree = parse_program(template)
    except (SyntaxError, ValueError):
        return [Signature(m[1], _params_from_text(m[2])) for m in _DEF_LINE.finditer(template)]
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [_signature(node) for node in tree.body if isinstance(node, functions)]


def _params_from_text(text: str) -> tuple[str, ...]:
    params = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            name, _, default = part.partition("=")
            name = name.split(":")[0].strip()  # drop an annotation
            params.append(f"{name}={default.strip()}" if default else name)
    return tuple(params)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    texts: list[str] = []
    params: list[inspect.Parameter] = []

    def add(arg: ast.arg, kind: Any, default: ast.expr | None, prefix: str = "") -> None:
        texts.append(prefix + arg.arg + (f"={ast.unparse(default)}" if default is not None else ""))
        # The default's value does not matter for binding, only that there is one.
        marker = inspect.Parameter.empty if default is None else ...
        params.append(inspect.Parameter(arg.arg, kind, default=marker))

    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = inspect.Parameter.POSITIONAL_ONLY if index < len(args.posonlyargs) else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        add(arg, kind, default)
        if args.posonlyargs and index == len(args.posonlyargs) - 1:
            texts.append("/")
    if args.vararg is not None:
        add(args.vararg, inspect.Parameter.VAR_POSITIONAL, None, "*")
    elif args.kwonlyargs:
        texts.append("*")
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        add(arg, inspect.Parameter.KEYWORD_ONLY, default)
    if args.kwarg is not None:
        add(args.kwarg, inspect.Parameter.VAR_KEYWORD, None, "**")
    try:
        call = inspect.Signature(params)
    except ValueError:  # e.g. a duplicate parameter name: the template would not run either
        call = None
    return Signature(node.name, tuple(texts), call)


def main_function(template: str, problem_id: str) -> Signature | None:
    """The function the course's tests call: the one named like the problem, else the first."""
    signatures = template_signatures(template)
    return next((s for s in signatures if s.name == problem_id), signatures[0] if signatures else None)


def remote_problem(text: RemoteProblemText) -> Problem:
    """A Problem judged only by orchestration: no tests, no reference solutions; a
    function problem when the template defines a function, else a whole-program one."""
    main = main_function(text.template, text.problem_id)
    return Problem(
        id=text.problem_id,
        title=text.title or text.problem_id,
        description=text.description.strip(),
        template=text.template,
        kind="function" if main else "stdio",
        function=main.name if main else None,
        tests=(),
        solutions=(),
    )


def judged_remotely_only(problem: Problem) -> bool:
    """True for a problem with no tests here: only the remote executor can judge it."""
    return not problem.tests


def template_mismatch(local: Problem, remote_template: str) -> str | None:
    """How orchestration's template disagrees with the local problem's function (name or
    parameters), in one readable line; None when they agree or there is nothing to compare.

    Only function problems are compared: a whole-program problem has no signature.
    Hidden tests are not quoted, only how many arguments they pass.
    """
    if local.kind != "function" or not local.function:
        return None
    name = local.function
    theirs = next((s for s in template_signatures(remote_template) if s.name == name), None)
    ours = next((s for s in template_signatures(local.template) if s.name == name), None)
    if theirs is None:
        defined = ", ".join(str(s) for s in template_signatures(remote_template)) or "no function"
        return f"{local.id}: orchestration's template defines {defined}, but the local tests call {name}"
    if ours is not None and theirs.params != ours.params:
        return f"{local.id}: orchestration's template has {theirs}, the local problem has {ours}"
    if theirs.call is not None:
        rejected = sorted({len(t.args) for t in local.tests if not _binds(theirs.call, t.args, t.kwargs)})
        if rejected:
            counts = " or ".join(str(n) for n in rejected)
            return (f"{local.id}: the local tests call {name} with {counts} argument(s), "
                    f"which orchestration's {theirs} does not accept")
    return None


def _binds(signature: inspect.Signature, args: tuple, kwargs: dict) -> bool:
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True
