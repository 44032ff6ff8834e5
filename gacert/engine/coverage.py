"""Evidence coverage: how much of the window a check's data covers, from the data.

A range check's coverage comes from its own points: the window's steps at
which any of its series has a value that is a number (NaN is no evidence).
An instant check over the window hides its gaps in one number, so a range
query over the window asks for the presence of the series it reads (see
gacert.policy.presence); a check that reads only optional series
(`count(ALERTS) or vector(0)`) is measured on the policy's reference series
(`up` by default). A check that reads only the window's end, a probe, and a
check with `coverage: none` are not measured.

The share is the part of the window's steps that hold a point; a gap is the
time between two consecutive points further apart than one and a half
steps, or between the window's edge and the nearest point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from gacert.durations import format_duration
from gacert.model import (
    MAX_GAPS,
    Check,
    Coverage,
    CoverageMethod,
    CoverageRule,
    Gap,
    Outcome,
    Query,
    Series,
    Window,
)
from gacert.policy.presence import presence

__all__ = ["CoveragePlan", "measure_coverage", "plan_coverage", "point_coverage"]

# Two consecutive points further apart than this many steps have a gap between them.
GAP_TOLERANCE_STEPS = 1.5
# The only source type whose queries are PromQL that a range query can measure.
PROMQL_SOURCE = "prometheus"


@dataclass(frozen=True)
class CoveragePlan:
    """How one check's coverage will be measured: the method, the span of the window it
    is measured over, the rule it is judged by, and the extra range query, if any."""

    method: CoverageMethod
    note: str
    rule: CoverageRule | None
    start: datetime
    end: datetime
    query: Query | None = None
    whole_window: bool = True  # False: the query reads less than the window


def plan_coverage(check: Check, rendered: str, source_type: str, window: Window,
                  reference: str) -> CoveragePlan:
    """The coverage plan of `check`, whose query rendered for `window` is `rendered`;
    `reference` is the rendered reference selector of the policy."""
    def unmeasured(note: str) -> CoveragePlan:
        return CoveragePlan("none", note, None, window.start, window.end)

    if source_type != PROMQL_SOURCE:
        return unmeasured(f"not measured: a {source_type} source has no data over the "
                          "window to measure")
    if check.coverage is None:
        return unmeasured("not measured: the check sets coverage: none")
    if check.mode == "range":
        return CoveragePlan("points", "measured on the points of the check's range query",
                            check.coverage, window.start, window.end)
    found = presence(rendered)
    if found is None:
        return unmeasured("not measured: the query does not parse as PromQL")
    if not found.reads_range:
        return unmeasured("not measured: the query reads the window's end only")
    start = max(window.start, window.end - timedelta(seconds=found.longest_range_seconds))
    method: CoverageMethod = "selectors"
    expression = found.expression
    note = "measured on the series the query reads"
    if start > window.start:
        note += f", over the last {format_duration(found.longest_range_seconds)} of the " \
            "window: the range it reads"
    if expression is None:
        method, expression = "reference", f"count({reference})"
        note = (f"measured on the reference series {reference}: the query reads only series "
                "whose absence it treats as a value")
    query = Query(check_id=check.id, text=expression, mode="range", start=start,
                  end=window.end, step_seconds=window.step_seconds)
    return CoveragePlan(method, note, check.coverage, start, window.end, query,
                        whole_window=start == window.start)


def measure_coverage(plan: CoveragePlan, step_seconds: float, outcome: Outcome,
                     measured: Outcome | None) -> Coverage:
    """The coverage of one check: from its own points (range checks) or from the
    answer to its coverage query (`measured`)."""
    start, end = plan.start.timestamp(), plan.end.timestamp()
    if plan.method == "none":
        return Coverage("none", plan.note, start, end, None, (), 0, None)
    source = outcome if plan.method == "points" else measured
    query = plan.query.text if plan.query is not None else None
    if source is None or source.error is not None or source.fetched is None:
        why = source.error if source is not None else "no answer"
        return Coverage(plan.method, f"could not be measured: {why}", start, end, None, (), 0,
                        plan.rule, query)
    share, gaps = point_coverage(_times_with_values(source.fetched.series), start, end,
                                 step_seconds)
    longest = sorted(gaps, key=lambda g: g.seconds, reverse=True)[:MAX_GAPS]
    return Coverage(plan.method, plan.note, start, end, share,
                    tuple(sorted(longest, key=lambda g: g.start)), len(gaps), plan.rule, query,
                    whole_window=plan.whole_window)


def _times_with_values(series: Iterable[Series]) -> set[float]:
    """Every time at which some series has a sample that is a number. The arrays of a
    series without NaN join the set whole, in C: a fleet of 2,000 series of 1,441
    samples is a set of 1,441 times in a few milliseconds, not 2.9 million steps."""
    times: set[float] = set()
    for one in series:
        values = one.values
        if math.isnan(sum(values)):  # some samples are NaN (or +Inf meets -Inf): look closer
            times.update(t for t, v in zip(one.times, values, strict=True) if not math.isnan(v))
        else:
            times.update(one.times)
    return times


def point_coverage(times: Iterable[float], start: float, end: float,
                   step: float) -> tuple[float, list[Gap]]:
    """The share of the steps of [start, end] that hold a point, and the gaps.

    A point counts for the step it is nearest to, so that a server that aligns
    its steps differently (VictoriaMetrics rounds them) measures the same.
    """
    steps = int((end - start) // step) + 1
    present = sorted({index for t in times
                      if 0 <= (index := round((t - start) / step)) < steps})
    share = len(present) / steps
    # Imagined points one step beyond each edge: an edge gap is measured like any other.
    edges = [start - step, *(start + index * step for index in present), start + steps * step]
    gaps = []
    for before, after in pairwise(edges):
        if after - before > GAP_TOLERANCE_STEPS * step:
            gaps.append(Gap(max(before, start), min(after, end)))
    return share, [g for g in gaps if g.seconds > 0]


def describe_rule(rule: CoverageRule) -> str:
    """`at least 95 % of the window, no gap over 15m`."""
    return (f"at least {rule.min_share * 100:g} % of the window, no gap over "
            f"{format_duration(rule.max_gap_seconds)}")
