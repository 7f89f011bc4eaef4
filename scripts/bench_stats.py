"""Small statistics and the printed table of the benchmark, free of any I/O but printing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, p50, p99 and max of a sample (in the sample's unit)."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline and not math.isnan(baseline) else math.nan


@dataclass
class Row:
    """One line of the table: a figure, its same-run baseline (if any) and the target."""

    section: str
    figure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # "met", "MISSED" or "" when the figure has no target


def check(ok: bool | None) -> str:
    if ok is None:
        return ""
    return "met" if ok else "MISSED"


def fmt(value: float, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}{unit}"


def render(rows: Sequence[Row]) -> str:
    """A plain-text table, one block per section."""
    headers = ("figure", "value", "baseline", "ratio", "target", "")
    cells = [(r.figure, r.value, r.baseline, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    section = None
    for row, cell in zip(rows, cells, strict=True):
        if row.section != section:
            section = row.section
            out.append(f"[{section}]")
        out.append(line(cell))
    return "\n".join(out)
