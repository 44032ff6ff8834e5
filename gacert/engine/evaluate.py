"""Evaluate rules: turn what a source returned into a status, a value and a reason.

Per check: reduce each series over time (range checks), reduce across series
or keep them one by one, then run the rules. `fail` beats `warn` beats `pass`;
a source error is `error` and missing data is the check's `no_data` setting,
neither ever silently a pass.

Values that are not finite numbers never pass and never decide silently:
a NaN sample of a range series is a moment without evidence (left out of the
reduction, and of the coverage; a series of NaN samples only has no value);
a series whose value is NaN, +Inf or -Inf (an infinite sample makes the value
that infinity) is an `error` with the reason, and so is a check whose series
are reduced to one value when any of them is. Last, a check that would pass
or warn is `insufficient` when its evidence covers less of the window than
its coverage rule asks.

A rule may compare with the previous release (`baseline.value`, see
gacert.engine.baseline); a rule that does so when there is no baseline value
makes the check `no_baseline`, never a pass. Rules apply in order (fail,
warn, pass), so a fail rule that compares with an absolute bound still fails
a check without a baseline.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gacert.durations import format_duration
from gacert.engine.baseline import (
    BASELINE_NAME,
    BaselineLookup,
    BaselineMissing,
    MissingBaseline,
    rules_read_baseline,
)
from gacert.engine.reduce import REDUCERS, Buckets, Reduced, band, reduce_series
from gacert.formatting import format_bound, format_share, format_span, labels_text
from gacert.formatting import format_value as _format_value
from gacert.model import (
    SEVERITY,
    Baseline,
    Check,
    CheckResult,
    Coverage,
    Expression,
    Outcome,
    ParamValue,
    RuleName,
    Series,
    SeriesResult,
    Status,
    Threshold,
    Trace,
    Window,
)
from gacert.policy.expressions import evaluate
from gacert.policy.ruleshape import SERIES_NAMES, worse_direction
from gacert.policy.thresholds import thresholds


@dataclass(frozen=True)
class _Decision:
    """How one value was judged: the status and the rule (or failure) behind it."""

    status: Status
    rule: str | None  # "fail", "warn", "pass", "no_data", or None
    expression: Expression | None
    error: str | None = None
    missing: str = ""  # no_baseline: why the rule has no baseline to compare with


def evaluate_check(check: Check, query: str, outcome: Outcome,
                   params: Mapping[str, ParamValue],
                   coverage: Coverage | None = None, *, window: Window | None = None,
                   keep_points: int | None = None,
                   baseline: Baseline | None = None) -> CheckResult:
    """The result of `check` given the source's `outcome` and the evidence's `coverage`.

    Each series is reduced in one pass (gacert.engine.reduce); only the worst
    `keep_points` series of a range check (default: the check's setting) keep
    their samples and, given the `window`, their trace for charts; the others
    are drawn together as one band. Rules read `baseline.value` from `baseline`.
    """
    base = _Base(check, query, outcome, thresholds(check.rules, params), coverage, params,
                 check.keep_points if keep_points is None else keep_points,
                 Buckets.of(window) if check.mode == "range" else None,
                 BaselineLookup(baseline, check.id, query))
    if outcome.error is not None or outcome.fetched is None:
        return base.result("error", None, f"{check.id} error: {outcome.error}", None, None, (),
                           error=outcome.error)
    fetched = outcome.fetched
    # What rule expressions may read besides the value: params, and a probe's measurements.
    scope = {**params, **fetched.measurements, "params": dict(params)}
    values = [(series, base.value_of(series)) for series in fetched.series]
    if not any(v is not None for _, v in values):
        judged = _no_data(base, values)
    elif check.series == "each":
        judged = _each(base, values, scope)
    else:
        judged = _reduced(base, values, scope)
    return _with_detail(_judge_evidence(judged, coverage), fetched.detail)


def _each(base: _Base, values: list[tuple[Series, float | None]],
          scope: Mapping[str, Any]) -> CheckResult:
    """Every series judged on its own; the worst decides."""
    check = base.check
    decided = [(s, v, _judge(check, v, s.labels, len(values), scope,
                             base.prior.value(s.labels))) for s, v in values]
    worst_series, worst_value, worst = _worst(check, decided)
    series = tuple(base.series_result(s, v, d.status) for s, v, d in decided)
    reason = base.reason(worst, worst_value, worst_series.labels)
    return base.result(worst.status, worst_value, reason, worst.rule, worst.expression, series,
                       error=worst.error, compared=worst_series.labels)


def _reduced(base: _Base, values: list[tuple[Series, float | None]],
             scope: Mapping[str, Any]) -> CheckResult:
    """The series reduced to one value first; a series that is no finite number makes
    the reduction meaningless, so the check is an error naming it."""
    check = base.check
    broken = next(((s, v) for s, v in values if v is not None and not math.isfinite(v)), None)
    labels: Mapping[str, str] = {}
    if broken is not None:
        labels, value = broken[0].labels, broken[1]
        worst = _Decision("error", None, None, error=_not_finite(value) +
                          f"; the {check.series} of the series is not computed")
    else:
        value = REDUCERS[check.series]([v for _, v in values if v is not None])
        worst = _judge(check, value, {}, len(values), scope, base.prior.value(None))
    no_value = _judge(check, None, {}, len(values), scope, (None, ""))
    series = tuple(base.series_result(s, v, worst.status if v is not None else no_value.status)
                   for s, v in values)
    return base.result(worst.status, value, base.reason(worst, value, labels), worst.rule,
                       worst.expression, series, error=worst.error)


def _judge(check: Check, value: float | None, labels: Mapping[str, str], series_count: int,
           scope: Mapping[str, Any], prior: tuple[float | None, str]) -> _Decision:
    """Judge one value; a value that is missing, not finite or makes a rule raise is
    data too. `prior` is the baseline value to compare with, or why there is none."""
    if value is None:
        return _Decision(check.no_data, "no_data", None,
                         error="no data" if check.no_data == "error" else None)
    if not math.isfinite(value):
        return _Decision("error", None, None, error=_not_finite(value))
    try:
        return _decide(check, value, labels, series_count, scope, prior)
    except Exception as exc:  # e.g. comparing a str param with a number
        return _Decision("error", None, None, error=f"evaluating rules: {exc}")


def _not_finite(value: float) -> str:
    if math.isnan(value):
        return ("the value is NaN, not a number (0/0: a ratio or a quantile over no events, "
                "such as an empty histogram); NaN never passes")
    sign = "+Inf" if value > 0 else "-Inf"
    return f"the value is {sign}, not a finite number (a division by zero?); it never passes"


def _worst(check: Check, decided: list[tuple[Series, float | None, _Decision]]
           ) -> tuple[Series, float | None, _Decision]:
    """The series that decides the check: worst status, then the most extreme value."""
    worst_rank = min(SEVERITY.index(d.status) for _, _, d in decided)
    tied = [item for item in decided if SEVERITY.index(item[2].status) == worst_rank]
    direction = worse_direction(check.rules)
    with_values = [item for item in tied if item[1] is not None and math.isfinite(item[1])]
    if direction and with_values:
        # Ties keep the first series, as returned.
        return max(with_values, key=lambda item: direction * (item[1] or 0.0))
    return tied[0]


def _decide(check: Check, value: float, labels: Mapping[str, str], series_count: int,
            scope: Mapping[str, Any], prior: tuple[float | None, str]) -> _Decision:
    names = {**scope, "value": value, "labels": dict(labels), "series_count": series_count}
    known, missing = prior
    names[BASELINE_NAME] = {"value": known} if known is not None else MissingBaseline(missing)
    rules = check.rules
    ordered: tuple[tuple[RuleName, Expression | None], ...] = (
        ("fail", rules.fail), ("warn", rules.warn), ("pass", rules.pass_))
    for rule, expression in ordered:
        if expression is None:
            continue
        try:
            holds = evaluate(expression, names)
        except BaselineMissing:
            return _Decision("no_baseline", rule, expression, missing=missing)
        if rule != "pass" and holds:
            return _Decision(rule, rule, expression)
        if rule == "pass":
            return _Decision("pass" if holds else "fail", "pass", expression)
    return _Decision("pass", None, None)


def _no_data(base: _Base, values: list[tuple[Series, float | None]]) -> CheckResult:
    check = base.check
    cause = ("the query returned no series" if not values
             else f"all {len(values)} series were empty or NaN at every point")
    status = check.no_data
    if status == "no_data":
        reason = f"{check.id} no_data: {cause}"
    else:
        reason = f"{check.id} {status}: no data ({cause}); the check declares no_data: {status}"
    series = tuple(base.series_result(s, None, "no_data") for s, _ in values)
    return base.result(status, None, reason, "no_data", None, series,
                       error=f"no data: {cause}" if status == "error" else None)


# --- evidence -----------------------------------------------------------------------


def _judge_evidence(result: CheckResult, coverage: Coverage | None) -> CheckResult:
    """A check that would pass or warn on evidence that does not cover enough of the
    window is `insufficient`; one whose coverage could not be measured is an error."""
    if coverage is None or coverage.rule is None or result.status not in ("pass", "warn"):
        return result
    if coverage.share is None:
        error = f"evidence coverage {coverage.note}"
        return replace(result, status="error", error=error,
                       reason=f"{result.id} error: {error}; the rules alone: "
                              f"{_without_id(result)}")
    if coverage.sufficient:
        return result
    return replace(result, status="insufficient",
                   reason=f"{result.id} insufficient: {coverage_sentence(coverage)}; "
                          f"the rules alone: {_without_id(result)}")


def coverage_sentence(coverage: Coverage) -> str:
    """`evidence covers 75.0 % of the window (at least 95 % needed); largest gap 6h 00m,
    from ... to ... (at most 15m allowed)`."""
    assert coverage.share is not None
    rule = coverage.rule
    length = format_span(coverage.end - coverage.start)
    span = "the window" if coverage.whole_window else \
        f"the last {length} of the window, which the query reads"
    text = f"evidence covers {format_share(coverage.share)} of {span}"
    if rule is not None:
        text += f" (at least {rule.min_share * 100:g} % needed)"
    largest = coverage.largest_gap
    if largest is not None:
        text += (f"; largest gap {format_span(largest.seconds)}, from {_moment(largest.start)} "
                 f"to {_moment(largest.end)}")
        if rule is not None:
            text += f" (at most {format_duration(rule.max_gap_seconds)} allowed)"
        if largest.start <= coverage.start:
            text += ": no data from the start of the window (is it older than the data the "\
                    "source holds?)"
    if coverage.method == "reference":
        text += f"; {coverage.note}"
    return text


def _moment(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_id(result: CheckResult) -> str:
    return result.reason.removeprefix(f"{result.id} ")


def _with_detail(result: CheckResult, detail: str) -> CheckResult:
    """What the source saw that explains a check that did not pass (a command's exit
    code and the end of its stderr), added to the reason."""
    if not detail or result.status == "pass":
        return result
    return replace(result, reason=f"{result.reason}; {detail}")


# --- the result ---------------------------------------------------------------------


class _Base:
    """The fields every result of one check shares, whatever its status."""

    def __init__(self, check: Check, query: str, outcome: Outcome,
                 limits: tuple[Threshold, ...], coverage: Coverage | None,
                 params: Mapping[str, ParamValue], keep_points: int,
                 buckets: Buckets | None, prior: BaselineLookup) -> None:
        self.check = check
        self.query = query
        self.outcome = outcome
        self.limits = limits
        self.coverage = coverage
        self.params = params
        self.keep_points = keep_points
        self.buckets = buckets
        self.prior = prior
        # What one pass over each series gave, and the series of each range result.
        self._reduced: dict[int, Reduced] = {}
        self._sources: dict[int, Series] = {}

    def value_of(self, series: Series) -> float | None:
        """One number per series, or None when it has no evidence at all (see
        gacert.engine.reduce); its summary and trace are kept for its result."""
        ranged = self.check.mode == "range"
        reduced = reduce_series(series, self.check.over_time if ranged else None,
                                self.buckets)
        self._reduced[id(series)] = reduced
        return reduced.value

    def series_result(self, series: Series, value: float | None,
                      status: Status) -> SeriesResult:
        prior = self.prior.value(series.labels)[0] if self.prior.given else None
        if self.check.mode != "range":
            return SeriesResult(labels=dict(series.labels), value=value, status=status,
                                points=None, baseline=prior)
        reduced = self._reduced.get(id(series)) or reduce_series(series, None, self.buckets)
        result = SeriesResult(labels=dict(series.labels), value=value, status=status,
                              points=None, summary=reduced.summary, trace=reduced.trace,
                              baseline=prior)
        self._sources[id(result)] = series
        return result

    def _keep_worst(self, series: tuple[SeriesResult, ...]
                    ) -> tuple[tuple[SeriesResult, ...], Trace | None]:
        """The worst `keep_points` series keep their samples and trace, in the order
        returned; the others are one band."""
        if self.check.mode != "range":
            return series, None
        direction = worse_direction(self.check.rules)

        def rank(index: int) -> tuple[int, bool, float]:
            value = series[index].value
            finite = value is not None and math.isfinite(value)
            extreme = -direction * value if direction and finite and value is not None \
                else 0.0
            return SEVERITY.index(series[index].status), not finite, extreme
        kept = set(sorted(range(len(series)), key=rank)[:self.keep_points])
        results = tuple(replace(s, points=self._sources[id(s)].points) if i in kept
                        else replace(s, trace=None) for i, s in enumerate(series))
        rest = [s.trace for i, s in enumerate(series) if i not in kept and s.trace is not None]
        return results, band(rest)

    def reason(self, decision: _Decision, value: float | None,
               labels: Mapping[str, str]) -> str:
        """One sentence: the status, the value and its series, and the rule that
        decided, with the value of every param it reads."""
        check = self.check
        shown_labels = labels_text(labels)
        where = f" ({shown_labels})" if shown_labels else ""
        if decision.rule == "no_data":
            declared = "" if decision.status == "no_data" else \
                f"; the check declares no_data: {decision.status}"
            return f"{check.id} {decision.status}: a series has no value{where}{declared}"
        if decision.error is not None:
            return f"{check.id} error: {decision.error}{where}"
        if decision.status == "no_baseline" and decision.expression is not None:
            return (f"{check.id} no_baseline: {decision.rule} rule {decision.expression.text} "
                    f"compares with the baseline, but {decision.missing}{where}")
        head = f"{check.id} {decision.status}: {_format_value(value, check.unit, check.precision)}"
        if decision.expression is None:
            return f"{head}{where} matched no fail or warn rule"
        text = annotated(decision.expression, self.params, check.unit, check.precision)
        if decision.rule == "pass" and decision.status == "fail":
            return f"{head}{where} did not meet pass rule {text}"
        verb = "met" if decision.rule == "pass" else "matched"
        return f"{head}{where} {verb} {decision.rule} rule {text}"

    def result(self, status: Status, value: float | None, reason: str, rule: str | None,
               expression: Expression | None, series: tuple[SeriesResult, ...],
               error: str | None = None,
               compared: Mapping[str, str] | None = None) -> CheckResult:
        """The check's result; `compared` are the labels of the series whose baseline
        its value is set beside (a check that judges each series), else the check's."""
        check = self.check
        baseline = None
        if self.prior.given or rules_read_baseline(check.rules):
            baseline = self.prior.comparison(value, compared)
        fetched = self.outcome.fetched
        series, rest = self._keep_worst(series)
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
            keep_points=self.keep_points if check.mode == "range" else None, band=rest,
            warnings=fetched.warnings if fetched else (), error=error,
            measurements=fetched.measurements if fetched else {},
            evidence=fetched.evidence if fetched else {},
            duration_seconds=self.outcome.seconds, coverage=self.coverage, line=check.line,
            baseline=baseline,
        )


def annotated(expression: Expression, params: Mapping[str, ParamValue], unit: str,
              precision: int) -> str:
    """The rule on one line with the value of each param it reads after its name:
    `value >= p99_latency_ms_max (1,000 ms)`. A param that is a bound of the value
    is shown in the value's unit."""
    source = expression.text.strip().replace("\r\n", " ").replace("\n", " ")
    bounds = {c.bound.text for c in expression.comparisons}
    encoded = source.encode("utf-8")
    inserts: list[tuple[int, str]] = []
    for node in ast.walk(expression.tree):
        name = _param_read(node) if isinstance(node, ast.expr) else None
        if name is None or name not in params or name in SERIES_NAMES:
            continue
        value = params[name]
        text = ast.get_source_segment(source, node) or name
        # A bound is shown as the value is; another number (a factor such as 1.25)
        # with all its digits, never rounded to the value's precision.
        shown = (format_bound(value, unit, precision) if text in bounds
                 else format_bound(value, "", 6)) \
            if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
        # The parser counts UTF-8 bytes; the text is inserted at a character offset.
        end = len(encoded[:getattr(node, "end_col_offset", 0) or 0].decode("utf-8", "ignore"))
        inserts.append((end, f" ({shown})"))
    for offset, text in sorted(inserts, reverse=True):
        source = source[:offset] + text + source[offset:]
    return " ".join(source.split())


def _param_read(node: ast.AST) -> str | None:
    """The param a node reads: `name`, or `params.name`."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
            and node.id != "params":
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "params":
        return node.attr
    return None
