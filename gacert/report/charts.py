"""The geometry of a chart of a range check: its series over the window and
its thresholds, scaled into a plot box.

This module only computes coordinates and tick labels; the template
`chart.svg.j2` draws them, so that every colour and shape stays in the
templates. A series is drawn from its trace (the lowest and highest value in
each of about 240 buckets of the window, see gacert.engine.reduce), so that a
spike of one minute is still drawn while the SVG stays small whatever the
step. At most MAX_LINES series, the worst, are drawn as lines; the others
are one band of their lowest and highest values, so that a fleet of
thousands of pods draws as fast and as small as one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from gacert.document import (
    CheckDocument,
    JsonNumber,
    ResultsDocument,
    SeriesDocument,
    ThresholdDocument,
    TracePoint,
)
from gacert.engine.reduce import Buckets, reduce_series
from gacert.engine.results import trace_document
from gacert.formatting import document_number
from gacert.model import Series
from gacert.report.reportdata import series_rank
from gacert.timestamps import parse_timestamp

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 28, 14, 34  # margins around the plot, for tick labels
# More lines than this are unreadable: the worst series are drawn as lines, the
# others together as one band of their lowest and highest values.
MAX_LINES = 5
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
    band: tuple[str, ...]  # SVG polygon points of the band of the other series
    band_series: int  # series in the band
    rules: tuple[Rule, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    start: str
    end: str
    hidden_series: int  # series not drawn as lines (beyond MAX_LINES, or without points)
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
    number = document_number(value)
    return number if number is not None and math.isfinite(number) else None


def build_charts(document: ResultsDocument) -> list[Chart]:
    """A chart for every range check of the document, in policy order."""
    window = document["window"]
    t0 = parse_timestamp(window["start"], "window.start").timestamp()
    t1 = parse_timestamp(window["end"], "window.end").timestamp()
    buckets = Buckets.over(t0, t1, float(window["step_seconds"]))
    return [build_chart(c, buckets, t1) for c in document["checks"] if c.get("mode") == "range"]


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
            "thresholds": check["thresholds"] if check else []},
            Buckets.over(t0, t1, _widest_step(points)), t1))
    return charts


def _widest_step(points: list[list[Any]]) -> float:
    """The longest time between two snapshots: buckets that wide leave no gap between them."""
    times = [float(p[0]) for p in points]
    return max((b - a for a, b in pairwise(times)), default=0.0)


def build_chart(check: CheckDocument, buckets: Buckets, t1: float) -> Chart:
    """The worst series (at most MAX_LINES) as lines, the others as one band behind them."""
    series = sorted(check.get("series") or (), key=series_rank(check))
    drawable = [s for s in series if s.get("trace") or s.get("points")]
    drawn = drawable[:MAX_LINES]
    lines = [_buckets_of(s, buckets) for s in drawn]
    band = _merged([_document_buckets(check.get("band") or ()),
                    *(_buckets_of(s, buckets) for s in drawable[MAX_LINES:])])
    limits = check["thresholds"]
    values = [v for line in (*lines, band) for _, low, high in line for v in (low, high)
              if v is not None]
    t0 = buckets.start
    scale = _Scale(t0, max(t1, t0 + 1), *_value_range(values, [t["value"] for t in limits]))
    gaps = _gaps(check)
    unit = check.get("unit") or ""
    precision = int(check.get("precision", 2))
    return Chart(
        id=check["id"], title=check.get("title") or check["id"], status=check["status"],
        unit=unit, width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
        lines=tuple(Line(i, _series_label(s), s["status"], _segments(line, scale, gaps))
                    for i, (s, line) in enumerate(zip(drawn, lines, strict=True))),
        band=_band_polygons(band, scale),
        band_series=len(series) - len(drawn) if band else 0,
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


# A series or a band as drawn: (middle of the bucket, lowest, highest), in time
# order; None where the bucket has no finite value (a gap).
_Bucketed = list[tuple[float, float | None, float | None]]


def _buckets_of(series: SeriesDocument, buckets: Buckets) -> _Bucketed:
    """A series' trace as the results hold it, or one made from its points (results of
    gacert versions that kept points only)."""
    trace = series.get("trace")
    if trace:
        return _document_buckets(trace)
    points = [(float(t), _number(v)) for t, v in series.get("points") or ()]
    made = reduce_series(Series({}, points), None, buckets).trace
    assert made is not None
    return _document_buckets(trace_document(made))


def _document_buckets(trace: Sequence[TracePoint]) -> _Bucketed:
    starts = [_number(bucket[0]) for bucket in trace]
    width = starts[1] - starts[0] if len(starts) > 1 else 0.0
    return [(start + width / 2, _finite(low), _finite(high))
            for start, (_, low, high) in zip(starts, trace, strict=True)]


def _number(value: JsonNumber | None) -> float:
    number = document_number(value)
    return math.nan if number is None else number


def _merged(traces: Sequence[_Bucketed]) -> _Bucketed:
    """The lowest and highest of several traces, bucket by bucket."""
    merged: dict[float, tuple[float | None, float | None]] = {}
    for trace in traces:
        for x, low, high in trace:
            was_low, was_high = merged.get(x, (None, None))
            merged[x] = (_pick(min, was_low, low), _pick(max, was_high, high))
    return [(x, low, high) for x, (low, high) in sorted(merged.items())]


def _pick(choose: Callable[[float, float], float], a: float | None,
          b: float | None) -> float | None:
    return b if a is None else a if b is None else choose(a, b)


def _segments(line: _Bucketed, scale: _Scale,
              gaps: Sequence[tuple[float, float]] = ()) -> tuple[str, ...]:
    """Polyline point lists through the lowest and highest value of each bucket (the
    nearer one first, so that a smooth series draws as a line); a bucket without a
    value and a gap of the evidence (its coverage) split the line."""
    segments: list[list[tuple[float, float]]] = [[]]
    previous = -math.inf
    for x, low, high in line:
        across = any(previous <= start and end <= x for start, end in gaps)
        previous = x
        if low is None or high is None or across:
            segments.append([])
            if low is None or high is None:
                continue
        current = segments[-1]
        ends = (scale.y(low), scale.y(high))
        if current and abs(current[-1][1] - ends[1]) < abs(current[-1][1] - ends[0]):
            ends = ends[::-1]
        current += [(_clamp_x(x, scale), y) for y in dict.fromkeys(ends)]
    return tuple(" ".join(f"{x:.1f},{y:.1f}" for x, y in s) for s in segments if s)


def _band_polygons(band: _Bucketed, scale: _Scale) -> tuple[str, ...]:
    """Polygon point lists of a band: along the highs, back along the lows; gaps split it."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for x, low, high in band:
        if low is None or high is None:
            runs.append([])
        else:
            runs[-1].append((_clamp_x(x, scale), scale.y(low), scale.y(high)))
    return tuple(" ".join([*(f"{x:.1f},{top:.1f}" for x, _, top in run),
                           *(f"{x:.1f},{bottom:.1f}" for x, bottom, _ in reversed(run))])
                 for run in runs if run)


def _clamp_x(x: float, scale: _Scale) -> float:
    """x of a time, kept in the plot: the last bucket's middle lies past the window end."""
    return scale.x(min(max(x, scale.t0), scale.t1))


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
