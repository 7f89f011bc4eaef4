"""The one place that decides who runs a program: the local sandbox or the course's handler."""

from __future__ import annotations

from hint_core.problems import Problem
from hint_core.remote import judged_remotely_only
from hint_core.sandbox import Executor, RunResult


class RoutingExecutor:
    """Runs a problem's programs where its tests are: locally when the problem has local tests,
    through orchestration otherwise (a problem `ProblemSource` built from orchestration's text
    has none). Both executors keep their own contract: only the executor's own failures raise."""

    def __init__(self, local: Executor, remote: Executor | None) -> None:
        self.local = local
        self.remote = remote

    def run(self, problem: Problem, program: str) -> RunResult:
        if judged_remotely_only(problem):
            if self.remote is None:
                raise LookupError(f"problem {problem.id} has no local tests and no remote executor is configured")
            return self.remote.run(problem, program)
        return self.local.run(problem, program)

    def close(self) -> None:
        close = getattr(self.local, "close", None)
        if close is not None:
            close()
