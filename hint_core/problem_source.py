"""Where the pipeline gets a problem: the local bank, and the course's orchestration.

A problem in the local bank is judged by its own tests (`EXECUTION=local` or `auto`), so
its prompts use its own description: the text that matches the tests that judge the
program. When orchestration also knows it, a disagreement between orchestration's
template and the local tests (function name or parameters) is logged once, at first use;
`scripts.check_problems` reports it too.

A problem only orchestration knows (or every problem, with `EXECUTION=remote`) is judged
by orchestration's problem handler: its text comes from orchestration, it has no local
tests and no reference solutions, and its pool starts empty.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from enum import StrEnum

from hint_core.problems import Problem, ProblemBank, UnknownProblem
from hint_core.remote import (
    OrchestrationProblems,
    ProblemNotAtOrchestration,
    remote_problem,
    template_mismatch,
)

log = logging.getLogger("hint_core.problems")


class Execution(StrEnum):
    """Who runs programs (the `EXECUTION` setting)."""

    AUTO = "auto"  # the local sandbox for problems of the local bank, orchestration for the others
    LOCAL = "local"  # never call out: problems outside the local bank are unknown
    REMOTE = "remote"  # orchestration's problem handler for every problem


class ProblemSource:
    """`orchestration` is its problems URL; `runs_remotely` says whether orchestration's
    execution URLs are configured too (without them its own problems cannot be judged)."""

    def __init__(self, bank: ProblemBank, orchestration: OrchestrationProblems | None = None,
                 execution: Execution = Execution.AUTO, runs_remotely: bool = False) -> None:
        self.bank = bank
        self.orchestration = orchestration if execution is not Execution.LOCAL else None
        self.execution = execution
        self.runs_remotely = runs_remotely and self.orchestration is not None
        self._checked: set[str] = set()  # local problems whose template was compared already
        self._lock = threading.Lock()

    def knows(self, problem_id: str) -> bool:
        """Is this a problem we can give hints for? Raises OrchestrationUnreachable when only
        orchestration could tell and it does not answer (the caller answers 503)."""
        if problem_id in self.bank and self.execution is not Execution.REMOTE:
            return True
        if not self.runs_remotely:
            return False
        try:
            self.orchestration.fetch(problem_id)
        except ProblemNotAtOrchestration:
            return False
        return True

    def get(self, problem_id: str) -> Problem:
        """The problem as the program will be judged: local tests, or orchestration's handler."""
        if self.execution is Execution.REMOTE:
            return self._remote(problem_id)
        if problem_id in self.bank:
            problem = self.bank.get(problem_id)
            self._compare_once(problem)
            return problem
        return self._remote(problem_id)

    def _remote(self, problem_id: str) -> Problem:
        if not self.runs_remotely:
            raise UnknownProblem(f"unknown problem_id '{problem_id}' (orchestration's execution URLs are not set)")
        text = self.orchestration.fetch(problem_id)
        if problem_id in self.bank:
            # Judged by orchestration: its text, and none of the local tests or solutions.
            return replace(remote_problem(text), title=self.bank.get(problem_id).title)
        return remote_problem(text)

    def _compare_once(self, problem: Problem) -> None:
        if self.orchestration is None:
            return
        with self._lock:
            if problem.id in self._checked:
                return
            self._checked.add(problem.id)
        try:
            mismatch = template_mismatch(problem, self.orchestration.fetch(problem.id).template)
        except Exception as exc:  # noqa: BLE001 - a comparison for the operator; never stops a hint
            log.info("problem %s: not compared with orchestration's template (%s)", problem.id, type(exc).__name__)
            return
        if mismatch:
            log.warning("problem %s: orchestration's template disagrees with the local tests: %s", problem.id, mismatch)
