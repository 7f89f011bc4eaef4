"""What the LLM cost per hint, over the stored requests: `python -m scripts.llm_costs`.

Sums prompt and completion tokens, LLM calls (HTTP attempts, failed ones included),
waiting time and money (each phase's cost at the prices of `pricing` in ai_config.yaml
when it ran; unknown when a model had no price) per phase, engine and model, with totals
and the mean per hint (requests that ended with a successful hint). `--since-hours` narrows it to recent requests;
`--json` prints the same report for other programs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from peewee import Case, fn

from models import DailyFigure, Hint, HintGenerationPhase, ProgramEnhancementPhase, Request, utcnow
from runtime import bind_database
from settings import load_settings

COLUMNS = ("phases", "llm_calls", "prompt_tokens", "completion_tokens", "waiting_seconds")


@dataclass
class Line:
    phase: str
    engine: str
    model: str | None
    phases: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    waiting_seconds: float = 0.0
    cost: float | None = 0.0  # None: some phase's model had no price


@dataclass
class Report:
    since: str | None
    requests: int
    hints: int
    lines: list[Line] = field(default_factory=list)
    total: dict[str, float] = field(default_factory=dict)
    per_hint: dict[str, float] = field(default_factory=dict)
    # Requests deleted by retention (scripts.prune), from daily_figure; not in the lines above.
    pruned: dict[str, float] = field(default_factory=dict)


def _lines(model: Any, name: str, requests: Any) -> list[Line]:
    rows = (
        model.select(
            model.engine, model.model, fn.COUNT(model.id), fn.SUM(model.llm_calls), fn.SUM(model.prompt_tokens),
            fn.SUM(model.completion_tokens), fn.SUM(model.waiting_seconds), fn.SUM(model.cost), fn.COUNT(model.cost),
        )
        .where(model.request.in_(requests))
        .group_by(model.engine, model.model)
        .order_by(model.engine, model.model)
        .tuples()
    )
    return [
        Line(name, engine, llm_model, count, int(calls or 0), int(prompt or 0), int(completion or 0), float(wait or 0),
             round(float(money or 0), 6) if priced == count else None)
        for engine, llm_model, count, calls, prompt, completion, wait, money, priced in rows
    ]


def collect(since: dt.datetime | None = None) -> Report:
    """The report over requests created since `since` (all stored requests by default)."""
    requests = Request.select(Request.id)
    if since is not None:
        requests = requests.where(Request.created_at >= since)
    hints = Hint.select().where(Hint.request.in_(requests) & (Hint.job_finished_successfully == True)).count()  # noqa: E712
    lines = _lines(ProgramEnhancementPhase, "program_generation", requests) + _lines(
        HintGenerationPhase, "hint_generation", requests
    )
    total: dict[str, float | None] = {key: sum(getattr(line, key) for line in lines) for key in COLUMNS}
    per_hint: dict[str, float | None] = {
        key: (total[key] / hints if hints else 0.0) for key in COLUMNS if key != "phases"
    }
    unknown = any(line.cost is None for line in lines)
    total["cost"] = None if unknown else round(sum(line.cost or 0.0 for line in lines), 6)
    per_hint["cost"] = None if unknown else (total["cost"] / hints if hints else 0.0)
    return Report(since.isoformat() if since else None, requests.count(), hints, lines, total, per_hint,
                  _pruned(since))


def _pruned(since: dt.datetime | None) -> dict[str, float]:
    """What the requests deleted by retention cost (their creation day on or after `since`'s)."""
    figures = DailyFigure.select(
        fn.SUM(DailyFigure.requests), fn.SUM(Case(None, [(DailyFigure.outcome == "hint", DailyFigure.requests)], 0)),
        fn.SUM(DailyFigure.llm_calls), fn.SUM(DailyFigure.prompt_tokens), fn.SUM(DailyFigure.completion_tokens),
        fn.SUM(DailyFigure.cost),
    )
    if since is not None:
        figures = figures.where(DailyFigure.day >= since.date())
    requests, hints, calls, prompt, completion, cost = figures.tuples().get()
    if not requests:
        return {}
    return {"requests": int(requests), "hints": int(hints or 0), "llm_calls": int(calls or 0),
            "prompt_tokens": int(prompt or 0), "completion_tokens": int(completion or 0),
            "cost": round(float(cost or 0), 6)}


def render(report: Report) -> str:
    scope = f"since {report.since}" if report.since else "all stored requests"
    out = [f"LLM cost over {report.requests} request(s), {report.hints} with a hint ({scope})", ""]
    header = (f"{'phase':<20} {'engine':<8} {'model':<24} {'phases':>7} {'calls':>7} {'prompt':>10} "
              f"{'completion':>11} {'wait s':>9} {'cost':>10}")
    out.append(header)
    out.append("-" * len(header))
    for line in report.lines:
        out.append(
            f"{line.phase:<20} {line.engine:<8} {(line.model or '-')[:24]:<24} {line.phases:>7} {line.llm_calls:>7} "
            f"{line.prompt_tokens:>10} {line.completion_tokens:>11} {line.waiting_seconds:>9.1f}"
            f" {_money(line.cost):>10}"
        )
    t = report.total
    out.append("-" * len(header))
    out.append(
        f"{'total':<54} {int(t['phases']):>7} {int(t['llm_calls']):>7} {int(t['prompt_tokens']):>10} "
        f"{int(t['completion_tokens']):>11} {t['waiting_seconds']:>9.1f} {_money(t['cost']):>10}"
    )
    p = report.per_hint
    out.append("")
    out.append(
        f"per hint (mean): {p['llm_calls']:.2f} LLM calls, {p['prompt_tokens']:.1f} prompt + "
        f"{p['completion_tokens']:.1f} completion tokens, {p['waiting_seconds']:.2f} s waiting, "
        f"cost {_money(p['cost'])}"
    )
    if report.pruned:
        d = report.pruned
        out.append(
            f"deleted by retention (daily_figure, not above): {d['requests']} request(s), {d['hints']} with a hint, "
            f"{d['llm_calls']} LLM calls, {d['prompt_tokens']} prompt + {d['completion_tokens']} completion tokens, "
            f"cost {_money(d['cost'])}"
        )
    return "\n".join(out)


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since-hours", type=float, help="only requests created in the last H hours")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    bind_database(load_settings())
    since = utcnow() - dt.timedelta(hours=args.since_hours) if args.since_hours else None
    report = collect(since)
    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
