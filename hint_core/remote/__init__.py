"""Talking to the course's orchestration service: remote program runs and its problems.

- ``RemoteExecutor(RemoteExecutionConfig(execute_url, result_url, token=...))``: the
  ``Executor`` protocol (``run(problem, program) -> RunResult``) over orchestration's
  execute and result endpoints.
- ``OrchestrationProblems(problems_url, token=...)``: a problem's text by id, cached;
  ``remote_problem`` turns it into a ``Problem`` for a problem only orchestration knows;
  ``template_mismatch`` says how orchestration's template disagrees with a local problem.

Nothing here reads the environment: callers pass URLs, token and knobs. See docs/remote.md.
"""

from hint_core.remote.errors import (
    ExecutorBusy,
    OrchestrationUnreachable,
    ProblemNotAtOrchestration,
    RemoteError,
    RemoteExecutionFailed,
)
from hint_core.remote.executor import REMOTE, RemoteExecutionConfig, RemoteExecutor, RemoteStatus
from hint_core.remote.problems import (
    OrchestrationProblems,
    RemoteProblemText,
    Signature,
    judged_remotely_only,
    main_function,
    remote_problem,
    template_mismatch,
    template_signatures,
)

__all__ = [
    "REMOTE",
    "ExecutorBusy",
    "OrchestrationProblems",
    "OrchestrationUnreachable",
    "ProblemNotAtOrchestration",
    "RemoteError",
    "RemoteExecutionConfig",
    "RemoteExecutionFailed",
    "RemoteExecutor",
    "RemoteProblemText",
    "RemoteStatus",
    "Signature",
    "judged_remotely_only",
    "main_function",
    "remote_problem",
    "template_mismatch",
    "template_signatures",
]
