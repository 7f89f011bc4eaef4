"""Server-side SVG charts: geometry computed here, drawn by templates/console/charts.html.

No chart library and no JavaScript: a course's worth of data is a few dozen bars, and
the numbers come from aggregate SQL. Labels are plain strings the template escapes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

PALETTE_SIZE = 8  # CSS classes s0..s7
WIDTH = 760
HEIGHT = 220
LEFT = 48  # room for the y axis labels
BOTTOM = 40  # room for the x axis labels
TOP = 10


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    series: int  # colour class
    title: str  # the tooltip: what this bar is


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class StackedBars:
    width: int
    height: int
    rects: list[Rect]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    legend: list[tuple[int, str]]
    plot_bottom: float
    empty: bool


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def stacked_bars(points: list[tuple[str, str, float]], unit: str = "") -> StackedBars:
    """One bar per x label (in the order first seen), stacked by series: points are (x, series, value)."""
    xs: list[str] = []
    series: list[str] = []
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for x, name, value in points:
        if x not in xs:
            xs.append(x)
        if name not in series:
            series.append(name)
        values[x][name] = values[x].get(name, 0.0) + value
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    bottom = TOP + plot_h
    top = _nice_max(max((sum(v.values()) for v in values.values()), default=0.0))
    slot = plot_w / max(1, len(xs))
    bar_w = max(1.0, slot * 0.7)
    rects = []
    for i, x in enumerate(xs):
        y = bottom
        for s_index, name in enumerate(series):
            value = values[x].get(name, 0.0)
            if value <= 0:
                continue
            h = value / top * plot_h
            y -= h
            rects.append(
                Rect(
                    round(LEFT + i * slot + (slot - bar_w) / 2, 1),
                    round(y, 1),
                    round(bar_w, 1),
                    round(h, 1),
                    s_index % PALETTE_SIZE,
                    f"{x} · {name}: {_number(value)}{unit}",
                )
            )
    every = max(1, len(xs) // 10)  # at most about ten labels under the bars
    x_ticks = [Tick(round(LEFT + i * slot + slot / 2, 1), x) for i, x in enumerate(xs) if i % every == 0]
    y_ticks = [Tick(round(bottom - f * plot_h, 1), _number(top * f) + unit) for f in (0, 0.5, 1)]
    return StackedBars(
        WIDTH,
        HEIGHT,
        rects,
        x_ticks,
        y_ticks,
        [(i % PALETTE_SIZE, n) for i, n in enumerate(series)],
        bottom,
        not rects,
    )


@dataclass(frozen=True)
class HBar:
    label: str
    value: float
    text: str  # the value as shown
    width: float  # bar length in pixels


def hbars(rows: list[tuple[str, float]], unit: str = "", max_width: float = 320) -> list[HBar]:
    """Horizontal bars for a table of (label, value), scaled to the largest value."""
    top = max((v for _, v in rows), default=0.0) or 1.0
    return [
        HBar(label, value, _number(value) + unit, round(max(1.0, value / top * max_width), 1))
        for label, value in rows
    ]
