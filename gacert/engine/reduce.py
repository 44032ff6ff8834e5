"""Reduce a series: one pass over its compact arrays gives everything kept of it.

`reduce_series` turns the samples of one series into its value (the check's
reduction over time, or the last sample of an instant query), its summary
(how many samples and values, first and last, lowest and highest, the longest
gap between samples) and, for a range check, its trace: the lowest and
highest value in each bucket of the window, which charts draw. Nothing here
keeps the samples; the caller decides which series keep them.

Each measure is a C-level builtin over the whole array (`max`, `min`, `sum`,
slices, `bisect`), not a Python loop per sample: a fleet of 2,000 series of
1,441 samples reduces in a fraction of a second. A measure of a series that
another part needs joins `SeriesSummary` and is computed here, in the same pass.
"""

from __future__ import annotations

import math
import statistics
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import sub

from gacert.model import Series, SeriesSummary, Trace, Window
from gacert.quantiles import percentile

# Buckets a window is cut into for traces: three pixels each on a 720-pixel chart.
TRACE_BUCKETS = 240


def _quantile(q: float) -> Callable[[Sequence[float]], float]:
    return lambda values: percentile(sorted(values), q)


REDUCERS: dict[str, Callable[[Sequence[float]], float]] = {
    "max": max, "min": min, "avg": statistics.fmean, "sum": math.fsum,
    "last": lambda values: values[-1], "first": lambda values: values[0],
    "count": lambda values: float(len(values)),
    "p50": _quantile(0.50), "p90": _quantile(0.90), "p95": _quantile(0.95),
    "p99": _quantile(0.99),
}


@dataclass(frozen=True)
class Reduced:
    """What is kept of one series once its samples are gone."""

    value: float | None  # None when no sample has a value
    summary: SeriesSummary
    trace: Trace | None  # range checks only


@dataclass(frozen=True)
class Buckets:
    """How a window is cut into equal buckets for traces."""

    start: float
    width: float
    count: int

    @classmethod
    def of(cls, window: Window | None) -> Buckets | None:
        """The buckets of traces over `window` (None: no traces)."""
        if window is None:
            return None
        return cls.over(window.start.timestamp(), window.end.timestamp(), window.step_seconds)

    @classmethod
    def over(cls, start: float, end: float, step_seconds: float) -> Buckets:
        """TRACE_BUCKETS buckets from start to end, none narrower than the step; the
        last one starts at or before `end`, where a range query's last sample is."""
        duration = max(end - start, 0.0)
        width = max(duration / TRACE_BUCKETS, step_seconds, 1e-3)
        return cls(start, width, math.floor(duration / width + 1e-9) + 1)

    def cuts(self, times: array[float]) -> list[int]:
        """Index of the first sample of each bucket, and len(times) at the end; a
        sample before the window counts in the first bucket, after it in the last."""
        inner = [bisect_left(times, self.start + i * self.width) for i in range(1, self.count)]
        return [0, *inner, len(times)]


def reduce_series(series: Series, over_time: str | None,
                  buckets: Buckets | None = None) -> Reduced:
    """The value, summary and (given buckets) trace of one series."""
    times, values = series.times, series.values
    clean = _without_nan(values)
    return Reduced(_value(values, clean, over_time), SeriesSummary(
        samples=len(values), values=len(clean),
        first=times[0] if times else None, last=times[-1] if times else None,
        low=min(clean) if clean else None, high=max(clean) if clean else None,
        gap=_largest_gap(times)),
        None if buckets is None else _trace(times, values, clean is values, buckets))


def _value(values: array[float], clean: array[float], over_time: str | None) -> float | None:
    """An instant series' value is its last sample (NaN too); a range series' is the
    reduction of its samples that are numbers, or an infinity when any sample is one
    (a NaN sample is a moment without evidence: a series of NaN only has no value)."""
    if not values:
        return None
    if over_time is None:
        return values[-1]
    if not clean:
        return None
    if not math.isfinite(sum(clean)):  # an infinite sample (or a sum that overflows)
        infinite = next((v for v in clean if math.isinf(v)), None)
        if infinite is not None:
            return infinite
    return REDUCERS[over_time](clean)


def _without_nan(values: array[float]) -> array[float]:
    """The values with NaN dropped; the array itself when it holds none."""
    total = sum(values)  # NaN when a value is NaN (or +Inf meets -Inf): then look closer
    if not math.isnan(total):
        return values
    return array("d", [v for v in values if not math.isnan(v)])


def _largest_gap(times: array[float]) -> tuple[float, float] | None:
    if len(times) < 2:
        return None
    steps = list(map(sub, times[1:], times[:-1]))
    at = steps.index(max(steps))
    return times[at], times[at + 1]


def _trace(times: array[float], values: array[float], finite_only: bool,
           buckets: Buckets) -> Trace:
    cuts = buckets.cuts(times)
    low = array("d", [math.nan]) * buckets.count
    high = array("d", [math.nan]) * buckets.count
    for index in range(buckets.count):
        begin, end = cuts[index], cuts[index + 1]
        if begin == end:
            continue
        chunk = values[begin:end]
        if not finite_only:
            chunk = array("d", [v for v in chunk if not math.isnan(v)])
            if not chunk:
                continue
        low[index], high[index] = min(chunk), max(chunk)
    return Trace(buckets.start, buckets.width, low, high)


def band(traces: Sequence[Trace]) -> Trace | None:
    """The lowest low and highest high of several traces of the same buckets, bucket
    by bucket (NaN where none has a value): what charts draw for the series they
    do not draw one by one."""
    if not traces:
        return None
    first = traces[0]
    low, high = array("d", first.low), array("d", first.high)
    for trace in traces[1:]:
        low = array("d", map(_lower, low, trace.low))
        high = array("d", map(_higher, high, trace.high))
    return Trace(first.start, first.width, low, high)


def _lower(a: float, b: float) -> float:
    return b if math.isnan(a) or b < a else a


def _higher(a: float, b: float) -> float:
    return b if math.isnan(a) or b > a else a
