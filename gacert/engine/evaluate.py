"""Evaluate rules: turn what a source returned into a status, a value and a reason.

Per check: reduce each series over time (range checks), reduce across series
or keep them one by one, then run the rules. `fail` beats `warn` beats `pass`;
a source error is `error` and missing data is the check's `no_data` setting,
neither ever silently a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gacert.engine.reduce import REDUCERS, Buckets, Reduced, band, reduce_series
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
    Trace,
    Window,
)
from gacert.policy.expressions import evaluate
from gacert.policy.ruleshape import worse_direction
from gacert.policy.thresholds import thresholds


@dataclass(frozen=True)
class _Decision:
    """How one value was judged: the status and the rule (or failure) behind it."""

    status: Status
    rule: str | None  # "fail", "warn", "pass", "no_data", or None
    expression: Expression | None
    error: str | None = None


@dataclass(frozen=True)
class _Seen:
    """One series as the source returned it, and what reducing it gave."""

    series: Series
    reduced: Reduced

    @property
    def value(self) -> float | None:
        return self.reduced.value


_Decided = tuple[_Seen, _Decision]


def evaluate_check(check: Check, query: str, outcome: Outcome,
                   params: Mapping[str, ParamValue], *, window: Window | None = None,
                   keep_points: int | None = None) -> CheckResult:
    """The result of `check` given the source's `outcome`.

    Each series is reduced as soon as it is looked at, and only the worst
    `keep_points` series of a range check (default: the check's setting) keep
    their samples; given the `window`, those also get a trace for charts, and
    the others are drawn together as one band.
    """
    base = _Base(check, query, outcome, thresholds(check.rules, params),
                 check.keep_points if keep_points is None else keep_points)
    if outcome.error is not None or outcome.fetched is None:
        return base.result("error", None, f"{check.id} error: {outcome.error}", None, None, (),
                           error=outcome.error)
    fetched = outcome.fetched
    # What rule expressions may read besides the value: params, and a probe's measurements.
    scope = {**params, **fetched.measurements, "params": dict(params)}
    ranged = check.mode == "range"
    buckets = Buckets.of(window) if ranged else None
    over_time = check.over_time if ranged else None
    seen = [_Seen(s, reduce_series(s, over_time, buckets)) for s in fetched.series]
    present = [item.value for item in seen if item.value is not None]
    if not present:
        return _no_data(base, seen)
    if check.series == "each":
        decided = [(item, _judge(check, item.value, item.series.labels, len(seen), scope))
                   for item in seen]
        worst_item, worst = _worst(check, decided)
        worst_value = worst_item.value
        labels: Mapping[str, str] = worst_item.series.labels
    else:
        worst_value = REDUCERS[check.series](present)
        worst = _judge(check, worst_value, {}, len(seen), scope)
        no_value = _judge(check, None, {}, len(seen), scope)
        decided = [(item, worst if item.value is not None else no_value) for item in seen]
        labels = {}
    series, rest = base.series_results(decided)
    return base.result(worst.status, worst_value, _reason(check, worst, worst_value, labels),
                       worst.rule, worst.expression, series, error=worst.error, band=rest)


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


def _worst(check: Check, decided: list[_Decided]) -> _Decided:
    """The series that decides the check: worst status, then the most extreme value."""
    return min(decided, key=_ranking(check))


def _ranking(check: Check) -> Any:
    """Sort key, worst first: status, then the value in the direction the rules call
    worse (NaN never gets here: it is no value); ties keep the order returned."""
    direction = worse_direction(check.rules)

    def key(item: _Decided) -> tuple[int, int, float]:
        seen, decision = item
        value = seen.value
        extreme = -direction * value if direction and value is not None else 0.0
        return SEVERITY.index(decision.status), value is None, extreme
    return key


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


def _no_data(base: _Base, seen: list[_Seen]) -> CheckResult:
    check = base.check
    cause = ("the query returned no series" if not seen
             else f"all {len(seen)} series were NaN or empty")
    status = check.no_data
    if status == "no_data":
        reason = f"{check.id} no_data: {cause}"
    else:
        reason = f"{check.id} {status}: no data ({cause}); the check declares no_data: {status}"
    nothing = _Decision("no_data", "no_data", None)
    series, rest = base.series_results([(item, nothing) for item in seen])
    return base.result(status, None, reason, "no_data", None, series,
                       error=f"no data: {cause}" if status == "error" else None, band=rest)


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
                 limits: tuple[Threshold, ...], keep_points: int) -> None:
        self.check = check
        self.query = query
        self.outcome = outcome
        self.limits = limits
        self.keep_points = keep_points

    def series_results(self, decided: list[_Decided]
                       ) -> tuple[tuple[SeriesResult, ...], Trace | None]:
        """Every series' result in the order returned, and the band of those that
        keep no points. Of a range check's series, the worst `keep_points` keep
        their samples and trace; all keep their summary."""
        if self.check.mode != "range":
            return tuple(SeriesResult(dict(seen.series.labels), seen.value, decision.status,
                                      None) for seen, decision in decided), None
        ranked = sorted(range(len(decided)), key=lambda i: _ranking(self.check)(decided[i]))
        kept = set(ranked[:self.keep_points])
        results = tuple(_series_result(seen, decision, kept=i in kept)
                        for i, (seen, decision) in enumerate(decided))
        traces = [seen.reduced.trace for i, (seen, _) in enumerate(decided)
                  if i not in kept and seen.reduced.trace is not None]
        return results, band(traces)

    def result(self, status: Status, value: float | None, reason: str, rule: str | None,
               expression: Expression | None, series: tuple[SeriesResult, ...],
               error: str | None = None, band: Trace | None = None) -> CheckResult:
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
            keep_points=self.keep_points if check.mode == "range" else None, band=band,
            warnings=fetched.warnings if fetched else (), error=error,
            measurements=fetched.measurements if fetched else {},
            evidence=fetched.evidence if fetched else {},
            duration_seconds=self.outcome.seconds, line=check.line,
        )


def _series_result(seen: _Seen, decision: _Decision, *, kept: bool) -> SeriesResult:
    reduced = seen.reduced
    return SeriesResult(dict(seen.series.labels), reduced.value, decision.status,
                        points=seen.series.points if kept else None, summary=reduced.summary,
                        trace=reduced.trace if kept else None)
