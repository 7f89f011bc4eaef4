"""Reading the workers' per-step timing lines (see `hint_actors.timing`) back into numbers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scripts.bench_stats import summary

_PAIR = re.compile(r"(\w+)=(\S+)")

# The pipeline order, for a table that reads top to bottom like a request's life.
STEP_ORDER = (
    "run_student_program", "query_for_enhanced_programs", "run_enhanced_program",
    "add_reflection", "generate_hint", "return_hint",
)


@dataclass(frozen=True)
class StepTime:
    actor: str
    request_id: int | None
    queue_wait_ms: float
    work_ms: float
    cpu_ms: float | None  # None in lines written before the field existed
    outcome: str


def parse_line(line: str) -> StepTime | None:
    """A StepTime from one log line (LOG_FORMAT text or json), or None when the line is not a step line."""
    if line.startswith("{"):
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        line = str(entry.get("message", "")) if isinstance(entry, dict) else ""
    at = line.find(" step actor=")
    if at < 0 and not line.startswith("step actor="):
        return None
    fields = dict(_PAIR.findall(line[at + 1 if at >= 0 else 0:]))
    try:
        rid = fields.get("request_id", "-")
        return StepTime(
            actor=fields["actor"],
            request_id=int(rid) if rid.isdigit() else None,
            queue_wait_ms=float(fields["queue_wait_ms"]),
            work_ms=float(fields["work_ms"]),
            cpu_ms=float(fields["cpu_ms"]) if "cpu_ms" in fields else None,
            outcome=fields.get("outcome", "ok"),
        )
    except (KeyError, ValueError):
        return None


def read_steps(paths: Iterable[Path], request_ids: set[int] | None = None) -> list[StepTime]:
    """Every step line in the log files, optionally only those of some requests."""
    out = []
    for path in paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            step = parse_line(line)
            if step and (request_ids is None or step.request_id in request_ids):
                out.append(step)
    return out


def cpu_per_request(steps: Iterable[StepTime], request_ids: set[int]) -> float | None:
    """Mean worker-thread CPU milliseconds a request's steps took, summed over its steps."""
    cpu = [s.cpu_ms for s in steps if s.request_id in request_ids and s.cpu_ms is not None]
    return sum(cpu) / len(request_ids) if cpu and request_ids else None


def per_step(steps: Iterable[StepTime]) -> dict[str, dict[str, dict[str, float]]]:
    """{actor: {"queue_wait_ms": summary, "work_ms": summary, "cpu_ms": summary}} in pipeline order."""
    by_actor: dict[str, list[StepTime]] = {}
    for step in steps:
        by_actor.setdefault(step.actor, []).append(step)
    ordered = sorted(by_actor, key=lambda a: STEP_ORDER.index(a) if a in STEP_ORDER else len(STEP_ORDER))
    return {
        actor: {
            "queue_wait_ms": summary([s.queue_wait_ms for s in by_actor[actor]]),
            "work_ms": summary([s.work_ms for s in by_actor[actor]]),
            "cpu_ms": summary([s.cpu_ms for s in by_actor[actor] if s.cpu_ms is not None]),
        }
        for actor in ordered
    }
