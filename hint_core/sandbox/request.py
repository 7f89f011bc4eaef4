"""What a run sends: the request to the server (limits, work directory) and the payload
to the child. Never an expected value."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from hint_core.problems import Problem
from hint_core.sandbox import framing, wire


def server_request(problem: Problem, workdir: str) -> dict[str, Any]:
    """The server's part: where the run works and how much it may use."""
    limits = problem.limits
    assets_size = sum(len(v) for v in problem.assets.values())
    return {
        "workdir": workdir,
        "limits": asdict(limits),
        "disk_bytes": 4 * limits.file_size_kb * 1024 + assets_size + (64 << 10),
        "disk_inodes": 256 + 2 * len(problem.assets),
    }


def child_payload(problem: Problem, program: str) -> bytes:
    """The child's part, in two frames: the program with the setup code, the forbidden
    constructs and the assets (read before the program is loaded), then the test *inputs*
    (read after)."""
    try:
        if problem.kind == "function":
            inputs = [{"f": problem.test_function(t), "args": wire.encode(list(t.args)),
                       "kwargs": wire.encode(dict(t.kwargs))} for t in problem.tests]
        else:
            inputs = [{"stdin": t.stdin} for t in problem.tests]
    except wire.BadValue as exc:
        raise ValueError(f"{problem.id}: a test input cannot be sent to the sandbox: {exc}") from exc
    forbid = {"names": list(problem.forbid.names), "calls": list(problem.forbid.calls),
              "imports": list(problem.forbid.imports)}
    return framing.frame({
        "program": program, "setup": problem.setup, "kind": problem.kind, "forbid": forbid,
        "assets": {rel: base64.b64encode(content).decode() for rel, content in problem.assets.items()},
        "recursion_limit": problem.limits.recursion_limit, "output_bytes": problem.limits.output_bytes,
    }) + framing.frame({"inputs": inputs})


def max_records(problem: Problem) -> int:
    """How many bytes of records a run may send before it is stopped."""
    return min(64 << 20, (8 << 20) + (2 << 20) * len(problem.tests))
