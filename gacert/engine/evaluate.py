"""Evaluate rules: turn what a source returned into a status, a value and a reason.

Per check: reduce each series over time (range checks), reduce across series
or keep them one by one, then run the rules. `fail` beats `warn` beats `pass`;
a source error is `error` and missing data is the check's `no_data` setting,
neither ever silently a pass.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gacert.formatting import format_value, labels_text
from gacert.model import (
    SEVERITY,
    Check,
    CheckResult,
    Expression,
    Outcome,
    ParamValue,
    Series,
    SeriesResult,
    Status,
    Threshold,
)
from gacert.policy.expressions import evaluate
from gacert.policy.ruleshape import worse_direction
from gacert.policy.thresholds import thresholds
from gacert.quantiles import percentile


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
class _Decision:
    """How one value was judged: the status and the rule (or failure) behind it."""

    status: Status
    rule: str | None  # "fail", "warn", "pass", "no_data", or None
    expression: Expression | None
    error: str | None = None


def evaluate_check(check: Check, query: str, outcome: Outcome,
                   params: Mapping[str, ParamValue]) -> CheckResult:
    """The result of `check` given the source's `outcome`."""
    base = _Base(check, query, outcome, thresholds(check.rules, params))
    if outcome.error is not None or outcome.fetched is None:
        return base.result("error", None, f"{check.id} error: {outcome.error}", None, None, (),
                           error=outcome.error)
    fetched = outcome.fetched
    # What rule expressions may read besides the value: params, and a probe's measurements.
    scope = {**params, **fetched.measurements, "params": dict(params)}
    values = [(series, _series_value(check, series)) for series in fetched.series]
    keep_points = check.mode == "range"
    present = [v for _, v in values if v is not None]
    if not present:
        return _no_data(base, values, keep_points)
    if check.series == "each":
        decided = [(s, v, _judge(check, v, s.labels, len(values), scope)) for s, v in values]
        worst_series, worst_value, worst = _worst(check, decided)
        labels: Mapping[str, str] = worst_series.labels
    else:
        worst_value = REDUCERS[check.series](present)
        worst = _judge(check, worst_value, {}, len(values), scope)
        no_value = _judge(check, None, {}, len(values), scope)
        decided = [(s, v, worst if v is not None else no_value) for s, v in values]
        labels = {}
    series = tuple(_series_result(s, v, d.status, keep_points) for s, v, d in decided)
    return base.result(worst.status, worst_value, _reason(check, worst, worst_value, labels),
                       worst.rule, worst.expression, series, error=worst.error)


def _judge(check: Check, value: float | None, labels: Mapping[str, str], series_count: int,
           scope: Mapping[str, Any]) -> _Decision:
    """Judge one value; a value that is missing or makes a rule raise is data too."""
    if value is None:
        return _Decision(check.no_data, "no_data", None,
                         error="no data" if check.no_data == "error" else None)
    try:
        return _decide(check, value, labels, series_count, scope)
    except Exception as exc:  # e.g. comparing a str param with a number
        return _Decision("error", None, None, error=f"evaluating rules: {exc}")


def _worst(check: Check, decided: list[tuple[Series, float | None, _Decision]]
           ) -> tuple[Series, float | None, _Decision]:
    """The series that decides the check: worst status, then the most extreme value."""
    worst_rank = min(SEVERITY.index(d.status) for _, _, d in decided)
    tied = [item for item in decided if SEVERITY.index(item[2].status) == worst_rank]
    direction = worse_direction(check.rules)
    with_values = [item for item in tied if item[1] is not None]
    if direction and with_values:
        # NaN never gets here (it is no value); ties keep the first series, as returned.
        return max(with_values, key=lambda item: direction * (item[1] or 0.0))
    return tied[0]


def _decide(check: Check, value: float, labels: Mapping[str, str], series_count: int,
            scope: Mapping[str, Any]) -> _Decision:
    names = {**scope, "value": value, "labels": dict(labels), "series_count": series_count}
    rules = check.rules
    if rules.fail is not None and evaluate(rules.fail, names):
        return _Decision("fail", "fail", rules.fail)
    if rules.warn is not None and evaluate(rules.warn, names):
        return _Decision("warn", "warn", rules.warn)
    if rules.pass_ is None:
        return _Decision("pass", None, None)
    if evaluate(rules.pass_, names):
        return _Decision("pass", "pass", rules.pass_)
    return _Decision("fail", "pass", rules.pass_)


def _series_value(check: Check, series: Series) -> float | None:
    """One number per series (NaN samples ignored), or None when it has none."""
    samples = [v for _, v in series.points if not math.isnan(v)]
    if not samples:
        return None
    if check.mode == "instant":
        return samples[-1]
    assert check.over_time is not None
    return REDUCERS[check.over_time](samples)


def _no_data(base: _Base, values: list[tuple[Series, float | None]],
             keep_points: bool) -> CheckResult:
    check = base.check
    cause = ("the query returned no series" if not values
             else f"all {len(values)} series were NaN or empty")
    status = check.no_data
    if status == "no_data":
        reason = f"{check.id} no_data: {cause}"
    else:
        reason = f"{check.id} {status}: no data ({cause}); the check declares no_data: {status}"
    series = tuple(_series_result(s, None, "no_data", keep_points) for s, _ in values)
    return base.result(status, None, reason, "no_data", None, series,
                       error=f"no data: {cause}" if status == "error" else None)


def _series_result(series: Series, value: float | None, status: Status,
                   keep_points: bool) -> SeriesResult:
    return SeriesResult(labels=dict(series.labels), value=value, status=status,
                        points=series.points if keep_points else None)


def _reason(check: Check, decision: _Decision, value: float | None,
            labels: Mapping[str, str]) -> str:
    shown = format_value(value, check.unit, check.precision)
    shown_labels = labels_text(labels)
    where = f" ({shown_labels})" if shown_labels else ""
    head = f"{check.id} {decision.status}: {shown}"
    if decision.rule == "no_data":
        declared = "" if decision.status == "no_data" else \
            f"; the check declares no_data: {decision.status}"
        return f"{check.id} {decision.status}: a series has no value (NaN){where}{declared}"
    if decision.error is not None:
        return f"{check.id} error: {decision.error}{where}"
    if decision.expression is None:
        return f"{head} matched no fail or warn rule{where}"
    text = " ".join(decision.expression.text.split())
    if decision.rule == "pass" and decision.status == "fail":
        return f"{head} did not meet pass rule {text}{where}"
    verb = "met" if decision.rule == "pass" else "matched"
    return f"{head} {verb} {decision.rule} rule {text}{where}"


class _Base:
    """The fields every result of one check shares, whatever its status."""

    def __init__(self, check: Check, query: str, outcome: Outcome,
                 limits: tuple[Threshold, ...]) -> None:
        self.check = check
        self.query = query
        self.outcome = outcome
        self.limits = limits

    def result(self, status: Status, value: float | None, reason: str, rule: str | None,
               expression: Expression | None, series: tuple[SeriesResult, ...],
               error: str | None = None) -> CheckResult:
        check = self.check
        fetched = self.outcome.fetched
        return CheckResult(
            id=check.id, title=check.title, description=check.description,
            section=check.section, source=check.source, gate=check.gate, tags=check.tags,
            status=status, value=value, unit=check.unit, precision=check.precision,
            reason=reason, decided_by=rule,
            expression=expression.text if expression else None,
            rules={name: (e.text if e else None) for name, e in (
                ("pass", check.rules.pass_), ("warn", check.rules.warn),
                ("fail", check.rules.fail))},
            thresholds=self.limits, no_data=check.no_data, query=self.query, mode=check.mode,
            over_time=check.over_time, series_reduction=check.series, series=series,
            warnings=fetched.warnings if fetched else (), error=error,
            measurements=fetched.measurements if fetched else {},
            evidence=fetched.evidence if fetched else {},
            duration_seconds=self.outcome.seconds, line=check.line,
        )
