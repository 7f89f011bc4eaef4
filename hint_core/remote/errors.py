"""What can go wrong when talking to orchestration, as exceptions the pipeline can tell apart.

- ``RemoteExecutionFailed``: this program could not be run remotely, for good (a 4xx, an
  ``{"error": ...}`` answer, no verdict before the deadline). Retrying the same call will
  not help; the program is marked "could not be run" with the cause.
- ``OrchestrationUnreachable``: no usable answer now (connection refused, timeouts, 5xx,
  502 from orchestration's proxy). Nothing is wrong with the program or the request: try
  again later (``retry_after`` seconds is a fair pause).
- ``ExecutorBusy``: this process already has as many remote runs in flight as allowed.
  Re-queue the step after ``retry_after`` seconds rather than block a thread.
- ``ProblemNotAtOrchestration``: orchestration does not know this problem id (an
  ``UnknownProblem``, so callers that answer 422 for unknown problems keep doing so).

The executor's errors are ``SandboxError`` subclasses: the ``Executor`` protocol promises
that a run raises only ``SandboxError`` when the executor (not the program) fails.
Messages carry the cause and never a credential. `OrchestrationUnreachable` is also an
`hint_core.errors.Unavailable` and `ExecutorBusy` a `hint_core.errors.Busy`, so the
workers wait them out without spending a step's retries.
"""

from __future__ import annotations

from hint_core.errors import Busy, Unavailable
from hint_core.problems import UnknownProblem
from hint_core.sandbox import SandboxError


class RemoteError(SandboxError):
    """Base of the remote executor's failures; ``cause`` is the reason in a few words."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class RemoteExecutionFailed(RemoteError):
    """The program could not be run remotely, and retrying will not change that."""

    def __init__(self, cause: str, problem_id: str | None = None, execution_id: str | None = None) -> None:
        where = ""
        if problem_id:
            where = f" (problem {problem_id}" + (f", execution {execution_id})" if execution_id else ")")
        super().__init__(f"this program could not be run remotely{where}: {cause}", cause)
        self.problem_id = problem_id
        self.execution_id = execution_id


class OrchestrationUnreachable(RemoteError, Unavailable):
    """Orchestration gave no usable answer for a while; the request is fine, try later."""

    def __init__(self, cause: str, retry_after: float = 5.0) -> None:
        super().__init__(f"orchestration unreachable, try later: {cause}", cause)
        self.retry_after = retry_after


class ExecutorBusy(RemoteError, Busy):
    """Every remote-run slot of this process is taken; re-queue instead of waiting."""

    def __init__(self, in_flight: int, retry_after: float) -> None:
        cause = f"{in_flight} remote runs already in flight"
        super().__init__(f"remote executor busy ({cause}); retry in {retry_after:.1f}s", cause)
        self.retry_after = retry_after


class ProblemNotAtOrchestration(UnknownProblem):
    """Orchestration answered that it has no problem with this id."""

    def __init__(self, problem_id: str, cause: str) -> None:
        super().__init__(f"unknown problem_id '{problem_id}' (orchestration: {cause})")
        self.problem_id = problem_id
        self.cause = cause
