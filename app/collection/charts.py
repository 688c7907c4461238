"""Geometry of the dashboard's SVG charts, computed on the server.

The functions return coordinates in SVG user units and raw tick values. The
templates draw them and format the values in the user's locale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal

WIDTH = 640
HEIGHT = 240
# Room for the value axis labels on the left and the category labels below.
MARGIN_LEFT = 72
MARGIN_RIGHT = 28
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
TICK_COUNT = 4
# The fraction of its slot that a bar fills, leaving the rest as a gap.
BAR_FILL = Decimal("0.6")


@dataclasses.dataclass(frozen=True)
class Tick:
    y: float
    value: Decimal


@dataclasses.dataclass(frozen=True)
class Mark:
    """One value of a chart: its label position, and its point or bar."""

    label: str
    value: Decimal | None
    x: float
    y: float | None
    bar_x: float = 0.0
    bar_width: float = 0.0
    bar_height: float = 0.0


@dataclasses.dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    ticks: list[Tick]
    marks: list[Mark]
    # Polyline point lists. A missing value splits the line in two.
    segments: list[str]


def nice_maximum(value: Decimal) -> Decimal:
    """Return the smallest of 1, 2, 2.5 or 5 times a power of ten that is >= value."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (value.adjusted())
    for step in (1, 2, Decimal("2.5"), 5):
        candidate = power * step
        if candidate >= value:
            return candidate
    return power * 10


def _frame(values: Sequence[Decimal | None]) -> tuple[Decimal, list[Tick]]:
    present = [v for v in values if v is not None]
    top = nice_maximum(max(present, default=Decimal(0)))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    ticks = [
        Tick(
            y=round(HEIGHT - MARGIN_BOTTOM - plot_height * i / TICK_COUNT, 1),
            value=top * i / TICK_COUNT,
        )
        for i in range(TICK_COUNT + 1)
    ]
    return top, ticks


def _y(value: Decimal, top: Decimal) -> float:
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    share = max(value, Decimal(0)) / top
    return round(HEIGHT - MARGIN_BOTTOM - float(share) * plot_height, 1)


def _chart(ticks: list[Tick], marks: list[Mark], segments: list[str]) -> Chart:
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=MARGIN_LEFT,
        plot_right=WIDTH - MARGIN_RIGHT,
        plot_top=MARGIN_TOP,
        plot_bottom=HEIGHT - MARGIN_BOTTOM,
        ticks=ticks,
        marks=marks,
        segments=segments,
    )


def line_chart(labels: Sequence[str], values: Sequence[Decimal | None]) -> Chart:
    """Lay out a line through ``values``. Negative values sit on the zero line."""
    top, ticks = _frame(values)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    step = plot_width / max(len(values) - 1, 1)
    marks = []
    segments: list[str] = []
    current: list[str] = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = round(MARGIN_LEFT + index * step, 1)
        y = None if value is None else _y(value, top)
        marks.append(Mark(label=label, value=value, x=x, y=y))
        if y is None:
            if current:
                segments.append(" ".join(current))
            current = []
        else:
            current.append(f"{x},{y}")
    if current:
        segments.append(" ".join(current))
    return _chart(ticks, marks, segments)


def bar_chart(labels: Sequence[str], values: Sequence[Decimal]) -> Chart:
    """Lay out one vertical bar per value. Negative values draw no bar."""
    top, ticks = _frame(values)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_width / max(len(values), 1)
    bar_width = round(slot * float(BAR_FILL), 1)
    bottom = HEIGHT - MARGIN_BOTTOM
    marks = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        centre = MARGIN_LEFT + slot * (index + 0.5)
        y = _y(value, top)
        marks.append(
            Mark(
                label=label,
                value=value,
                x=round(centre, 1),
                y=y,
                bar_x=round(centre - bar_width / 2, 1),
                bar_width=bar_width,
                bar_height=round(bottom - y, 1),
            )
        )
    return _chart(ticks, marks, [])
