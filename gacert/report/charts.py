"""The geometry of a chart of a range check: its series over the window and
its thresholds, scaled into a plot box.

This module only computes coordinates and tick labels; the template
`chart.svg.j2` draws them, so that every colour and shape stays in the
templates. A series of a day at a one-minute step has 1,441 points; the
plot keeps the lowest and highest point of each pixel column, so that a
spike of one minute is still drawn while the SVG stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gacert.document import (
    CheckDocument,
    JsonNumber,
    ResultsDocument,
    SeriesDocument,
    ThresholdDocument,
)
from gacert.model import SEVERITY
from gacert.timestamps import parse_timestamp

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 28, 14, 34  # margins around the plot, for tick labels
MAX_SERIES = 8  # more lines than this are unreadable; the worst ones are drawn
_SYMBOLS = {">=": "≥", "<=": "≤", "!=": "≠", "==": "="}
_TIME_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


@dataclass(frozen=True)
class Tick:
    position: float  # pixels from the left (x) or the top (y) of the SVG
    label: str


@dataclass(frozen=True)
class Line:
    index: int  # colour of the series, in the template's palette
    label: str
    status: str
    segments: tuple[str, ...]  # SVG points "x,y x,y ..."; gaps (NaN) split the line


@dataclass(frozen=True)
class Band:
    """A stretch of the window without evidence, drawn as a shaded band."""

    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Rule:
    rule: str  # fail, warn, pass
    label: str
    y: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    status: str
    unit: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    lines: tuple[Line, ...]
    rules: tuple[Rule, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    start: str
    end: str
    hidden_series: int  # series not drawn (beyond MAX_SERIES)
    empty: bool  # no finite point to draw
    gaps: tuple[Band, ...] = ()  # where the evidence has gaps (coverage), lines broken there


@dataclass(frozen=True)
class _Scale:
    t0: float
    t1: float
    v0: float
    v1: float

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return TOP + (self.v1 - v) / (self.v1 - self.v0) * (HEIGHT - TOP - BOTTOM)


def _finite(value: JsonNumber | None) -> float | None:
    if value is None:
        return None
    number = float(value.replace("Inf", "inf")) if isinstance(value, str) else float(value)
    return number if math.isfinite(number) else None


def build_charts(document: ResultsDocument) -> list[Chart]:
    """A chart for every range check of the document, in policy order."""
    window = document["window"]
    t0 = parse_timestamp(window["start"], "window.start").timestamp()
    t1 = parse_timestamp(window["end"], "window.end").timestamp()
    return [build_chart(c, t0, t1) for c in document["checks"] if c.get("mode") == "range"]


def build_trend_charts(document: ResultsDocument) -> list[Chart]:
    """For the results of a watch, a chart of each gate check's value over the
    snapshots (`trend_<check id>`), with the check's thresholds."""
    watched = document.get("watch")
    if not watched:
        return []
    window = document["window"]
    t0 = parse_timestamp(window["start"], "window.start").timestamp()
    t1 = parse_timestamp(window["end"], "window.end").timestamp()
    checks = {c["id"]: c for c in document["checks"]}
    charts = []
    for trend in watched["trend"]:
        check = checks.get(trend["id"])
        points = [[float(t), value] for t, value, _ in trend["points"]]
        last: list[Any] = trend["points"][-1] if trend["points"] else [t1, None, "no_data"]
        series: SeriesDocument = {"labels": {}, "value": last[1], "status": last[2],
                                  "points": points}
        charts.append(build_chart({
            "id": f"trend_{trend['id']}", "title": f"{trend['title']}: over the snapshots",
            "status": last[2], "value": last[1], "unit": trend["unit"], "reason": "",
            "query": None, "series": [series], "error": None,
            "precision": trend["precision"],
            "thresholds": check["thresholds"] if check else []}, t0, t1))
    return charts


def build_chart(check: CheckDocument, t0: float, t1: float) -> Chart:
    series = sorted(check.get("series") or (), key=_rank)
    drawn = series[:MAX_SERIES]
    points = [[(float(t), _finite(v)) for t, v in s.get("points") or ()] for s in drawn]
    limits = check["thresholds"]
    values = [v for line in points for _, v in line if v is not None]
    scale = _Scale(t0, max(t1, t0 + 1), *_value_range(values, [t["value"] for t in limits]))
    gaps = _gaps(check)
    unit = check.get("unit") or ""
    precision = int(check.get("precision", 2))
    return Chart(
        id=check["id"], title=check.get("title") or check["id"], status=check["status"],
        unit=unit, width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
        lines=tuple(Line(i, _series_label(s), s["status"], _segments(p, scale, gaps))
                    for i, (s, p) in enumerate(zip(drawn, points, strict=True))),
        rules=tuple(_rule(t, scale, unit, precision) for t in limits
                    if scale.v0 <= t["value"] <= scale.v1),
        x_ticks=_time_ticks(scale), y_ticks=_value_ticks(scale),
        start=_clock(t0, "%Y-%m-%d %H:%M UTC"), end=_clock(t1, "%Y-%m-%d %H:%M UTC"),
        hidden_series=len(series) - len(drawn), empty=not values,
        gaps=tuple(_band(start, end, scale) for start, end in gaps))


def _gaps(check: CheckDocument) -> list[tuple[float, float]]:
    """The gaps in the evidence of a range check, as recorded by its coverage."""
    coverage = check.get("coverage")
    if not coverage or coverage["method"] != "points":
        return []
    return [(parse_timestamp(g["start"], "gap.start").timestamp(),
             parse_timestamp(g["end"], "gap.end").timestamp()) for g in coverage["gaps"]]


def _band(start: float, end: float, scale: _Scale) -> Band:
    x0, x1 = scale.x(max(start, scale.t0)), scale.x(min(end, scale.t1))
    label = f"no data {_clock(start, '%H:%M')} to {_clock(end, '%H:%M')}"
    return Band(round(x0, 1), round(max(x1 - x0, 1.0), 1), label)


def _rank(series: SeriesDocument) -> tuple[int, float]:
    """Worst status first, then the highest value: the series a reader looks for."""
    value = _finite(series.get("value"))
    return SEVERITY.index(series["status"]), -(value if value is not None else -math.inf)


def _series_label(series: SeriesDocument) -> str:
    labels = series.get("labels") or {}
    text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")
    return text or "(no labels)"


def _value_range(values: Sequence[float], limits: Sequence[float]) -> tuple[float, float]:
    """A range with room for the values and the thresholds, on round numbers."""
    everything = [*values, *limits]
    if not everything:
        return 0.0, 1.0
    low, high = min(everything), max(everything)
    if low >= 0 and high > 0 and low < high * 0.5:
        low = 0.0  # a positive quantity near its range: show it from zero
    if low == high:
        low, high = low - max(abs(low) * 0.1, 1.0), high + max(abs(high) * 0.1, 1.0)
    step = _nice_step((high - low) / 5)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _nice_step(rough: float) -> float:
    exponent = math.floor(math.log10(rough))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * 10 ** exponent >= rough:
            return float(factor * 10 ** exponent)
    return float(10 ** (exponent + 1))


def _segments(points: Sequence[tuple[float, float | None]], scale: _Scale,
              gaps: Sequence[tuple[float, float]] = ()) -> tuple[str, ...]:
    """Polyline point lists, the lowest and highest point of each pixel column; a line
    is broken at a point that is not a number and across a gap of the evidence."""
    segments: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    column_x: int | None = None
    previous = -math.inf
    for t, v in points:
        across = any(previous <= start and end <= t for start, end in gaps)
        previous = t
        if v is None or across:  # a gap: end the line here, start a new one after it
            current += _extremes(column)
            column, column_x = [], None
            if current:
                segments.append(current)
            current = []
            if v is None:
                continue
        x = scale.x(t)
        if column_x is not None and int(x) != column_x:
            current += _extremes(column)
            column = []
        column_x = int(x)
        column.append((x, scale.y(v)))
    current += _extremes(column)
    if current:
        segments.append(current)
    return tuple(" ".join(f"{x:.1f},{y:.1f}" for x, y in s) for s in segments)


def _extremes(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The lowest and highest point of a pixel column, in time order."""
    if len(column) <= 2:
        return column
    low = min(column, key=lambda p: p[1])
    high = max(column, key=lambda p: p[1])
    return sorted({low, high}, key=lambda p: p[0])


def _rule(threshold: ThresholdDocument, scale: _Scale, unit: str, precision: int) -> Rule:
    shown = f"{threshold['value']:,.{precision}f}" + (f" {unit}" if unit else "")
    symbol = _SYMBOLS.get(threshold["operator"], threshold["operator"])
    return Rule(threshold["rule"], f"{threshold['rule']} {symbol} {shown}",
                round(scale.y(threshold["value"]), 1))


def _value_ticks(scale: _Scale) -> tuple[Tick, ...]:
    step = _nice_step((scale.v1 - scale.v0) / 5)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    count = round((scale.v1 - scale.v0) / step)
    return tuple(Tick(round(scale.y(scale.v0 + i * step), 1),
                      f"{scale.v0 + i * step:,.{decimals}f}") for i in range(count + 1))


def _time_ticks(scale: _Scale) -> tuple[Tick, ...]:
    span = scale.t1 - scale.t0
    step = next((s for s in _TIME_STEPS if span / s <= 8), _TIME_STEPS[-1])
    label = "%H:%M" if span <= 2 * 86400 else "%m-%d"
    first = math.ceil(scale.t0 / step) * step
    return tuple(Tick(round(scale.x(t), 1), _clock(t, label))
                 for t in range(int(first), int(scale.t1) + 1, step))


def _clock(t: float, layout: str) -> str:
    return datetime.fromtimestamp(t, UTC).strftime(layout)
