"""gacert.engine.evaluate and the verdict: statuses, reductions, precedence, reasons."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from gacert.engine.evaluate import evaluate_check
from gacert.engine.results import json_number, verdict
from gacert.formatting import format_value
from gacert.model import Check, CheckResult, Fetched, Outcome, ParamValue, Rules, Series, Status
from gacert.policy.expressions import compile_expression

NAN = math.nan
INF = math.inf


def check(*, pass_: str | None = None, warn: str | None = None, fail: str | None = None,
          **overrides: Any) -> Check:
    fields: dict[str, Any] = {
        "id": "p99_latency", "title": "Worst service P99 latency", "description": "",
        "source": "prometheus", "query": "q", "mode": "instant", "over_time": None,
        "series": "each", "unit": "ms", "precision": 2, "no_data": "no_data", "gate": True,
        "tags": (), "section": "other",
    }
    fields.update(overrides)
    rules = Rules(pass_=compile_expression(pass_) if pass_ else None,
                  warn=compile_expression(warn) if warn else None,
                  fail=compile_expression(fail) if fail else None)
    return Check(rules=rules, **fields)


def instant(value: float, **labels: str) -> Series:
    return Series(labels=labels, points=((1736899200.0, value),))


def ranged(values: list[float], **labels: str) -> Series:
    return Series(labels=labels,
                  points=tuple((1736899200.0 + 60 * i, v) for i, v in enumerate(values)))


def run(rule_check: Check, series: list[Series] | None = None, *,
        params: dict[str, ParamValue] | None = None, error: str | None = None) -> CheckResult:
    fetched = Fetched(series=tuple(series)) if series is not None else None
    outcome = Outcome(fetched=fetched, error=error, seconds=0.25)
    return evaluate_check(rule_check, "rendered query", outcome, params or {})


LATENCY = {"fail": "value >= 1000", "warn": "value >= 800"}


# --- one value, one status ----------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "value", "status", "decided_by"),
    [
        pytest.param(LATENCY, 1200.0, "fail", "fail", id="fail beats warn when both match"),
        pytest.param(LATENCY, 900.0, "warn", "warn", id="warn when only warn matches"),
        pytest.param(LATENCY, 100.0, "pass", None, id="pass when neither matches"),
        pytest.param({**LATENCY, "pass_": "value < 10"}, 900.0, "warn", "warn",
                     id="warn beats a pass rule that is not met"),
        pytest.param({"fail": "value > 5", "pass_": "value > 1"}, 6.0, "fail", "fail",
                     id="fail beats a pass rule that is met"),
        pytest.param({"warn": "value > 5", "pass_": "value > 1"}, 6.0, "warn", "warn",
                     id="warn beats a pass rule that is met"),
        pytest.param({"pass_": "value >= 99.9"}, 99.95, "pass", "pass",
                     id="a pass rule that is met passes"),
        pytest.param({"pass_": "value >= 99.9"}, 99.0, "fail", "pass",
                     id="a pass rule that is not met fails"),
        pytest.param({"warn": "value > 5"}, 3.0, "pass", None,
                     id="only warn given and not matched passes"),
    ],
)
def test_rule_precedence(rules: dict[str, str], value: float, status: Status,
                         decided_by: str | None) -> None:
    result = run(check(**rules), [instant(value)])
    assert result.status == status
    assert result.decided_by == decided_by
    assert result.value == value


@pytest.mark.parametrize(
    ("rules", "value", "unit", "reason"),
    [
        pytest.param(LATENCY, 1750.2, "ms", "p99_latency fail: 1,750.20 ms matched fail rule "
                     "value >= 1000", id="a fail reason names value, unit and rule"),
        pytest.param(LATENCY, 850.0, "ms", "p99_latency warn: 850.00 ms matched warn rule "
                     "value >= 800", id="a warn reason names the warn rule"),
        pytest.param(LATENCY, 5.0, "ms", "p99_latency pass: 5.00 ms matched no fail or warn "
                     "rule", id="a pass without pass rule says nothing matched"),
        pytest.param({"pass_": "value >= 99.9"}, 99.0, "%", "p99_latency fail: 99.00 % did not "
                     "meet pass rule value >= 99.9", id="an unmet pass rule says so"),
        pytest.param({"pass_": "value >= 99.9"}, 99.95, "", "p99_latency pass: 99.95 met pass "
                     "rule value >= 99.9", id="a met pass rule says met and has no unit"),
        pytest.param({"fail": "value\n  >= 1000\n"}, 1000.0, "ms", "p99_latency fail: "
                     "1,000.00 ms matched fail rule value >= 1000",
                     id="a folded rule is shown on one line"),
    ],
)
def test_reason_text(rules: dict[str, str], value: float, unit: str, reason: str) -> None:
    result = run(check(unit=unit, **rules), [instant(value)])
    assert result.reason == reason


def test_reason_names_the_series_labels_without_the_metric_name() -> None:
    result = run(check(**LATENCY), [instant(1750.2, service="dashboard-api",
                                            __name__="latency", env="prod")])
    assert result.reason == ("p99_latency fail: 1,750.20 ms (env=prod, service=dashboard-api) "
                             "matched fail rule value >= 1000")


def test_reason_uses_the_precision() -> None:
    result = run(check(precision=0, **LATENCY), [instant(1750.6)])
    assert result.reason.startswith("p99_latency fail: 1,751 ms ")


def test_result_carries_the_check_and_the_rules() -> None:
    result = run(check(tags=("latency",), **LATENCY), [instant(900.0, service="a")])
    assert result.id == "p99_latency"
    assert result.query == "rendered query"
    assert result.expression == "value >= 800"
    assert result.rules == {"pass": None, "warn": "value >= 800", "fail": "value >= 1000"}
    assert result.tags == ("latency",)
    assert result.duration_seconds == 0.25
    assert result.error is None
    assert [(s.labels, s.value, s.status, s.points) for s in result.series] == [
        ({"service": "a"}, 900.0, "warn", None)]


# --- series: each ---------------------------------------------------------------


def test_each_the_worst_status_wins_and_its_series_is_reported() -> None:
    result = run(check(**LATENCY), [instant(900.0, service="b"),
                                    instant(1750.2, service="dashboard-api"),
                                    instant(10.0, service="c")])
    assert result.status == "fail"
    assert result.value == 1750.2
    assert result.reason == ("p99_latency fail: 1,750.20 ms (service=dashboard-api) matched "
                             "fail rule value >= 1000")
    assert [s.status for s in result.series] == ["warn", "fail", "pass"]


def test_each_larger_is_worse_for_a_fail_rule_on_a_tie_of_status() -> None:
    result = run(check(**LATENCY), [instant(1200.0, service="a"), instant(3000.0, service="b"),
                                    instant(1500.0, service="c")])
    assert (result.status, result.value) == ("fail", 3000.0)
    assert "(service=b) matched" in result.reason


def test_each_smaller_is_worse_for_a_pass_rule_on_a_tie_of_status() -> None:
    result = run(check(pass_="value >= 99.9", unit="%"),
                 [instant(99.5, service="a"), instant(98.0, service="b"),
                  instant(99.95, service="c")])
    assert (result.status, result.value) == ("fail", 98.0)
    assert result.reason == ("p99_latency fail: 98.00 % (service=b) did not meet pass rule "
                             "value >= 99.9")
    assert [s.status for s in result.series] == ["fail", "fail", "pass"]


@pytest.mark.parametrize(
    ("rules", "worst"),
    [
        pytest.param({"fail": "1000 <= value"}, 3000.0,
                     id="a bound on the left still says larger is worse"),
        pytest.param({"fail": "value >= 1000 and labels.service != 'canary'"}, 3000.0,
                     id="a comparison joined with a label test still gives the direction"),
        pytest.param({"pass_": "not value >= 1000"}, 1200.0,
                     id="a comparison under not gives no direction: the first series"),
        pytest.param({"fail": "value > 2000 or value < 1300"}, 1200.0,
                     id="a band gives no direction: the first series"),
        pytest.param({"fail": "value < 1300 or value > 2000", "warn": "value > 0"}, 3000.0,
                     id="a band leaves the direction to the next rule"),
        pytest.param({"fail": "abs(value) > 1100"}, 1200.0,
                     id="abs(value) gives no direction"),
    ],
)
def test_each_the_direction_comes_from_the_rules_shape(rules: dict[str, str],
                                                       worst: float) -> None:
    result = run(check(**rules), [instant(1200.0, service="a"), instant(3000.0, service="b"),
                                  instant(1500.0, service="c")])
    assert result.value == worst


def test_each_all_passing_reports_the_series_closest_to_failing() -> None:
    result = run(check(pass_="value >= 99.9"), [instant(99.99, service="a"),
                                                instant(99.91, service="b")])
    assert (result.status, result.value) == ("pass", 99.91)


def test_each_rules_can_read_labels() -> None:
    result = run(check(fail="value > 10 and labels.service != 'canary'"),
                 [instant(50.0, service="canary"), instant(5.0, service="api")])
    assert result.status == "pass"
    assert [s.status for s in result.series] == ["pass", "pass"]


def test_each_series_count_is_the_number_of_series() -> None:
    result = run(check(fail="series_count < 3"), [instant(1.0), instant(2.0)])
    assert result.status == "fail"


def test_each_a_nan_series_is_an_error_and_decides_over_a_warn() -> None:
    result = run(check(**LATENCY), [instant(NAN, service="idle"), instant(900.0, service="a")])
    assert [(s.labels["service"], s.status) for s in result.series] == [
        ("idle", "error"), ("a", "warn")]
    assert result.status == "error"
    assert math.isnan(result.value or 0.0)
    assert result.reason.startswith("p99_latency error: the value is NaN, not a number (0/0")
    assert result.reason.endswith("NaN never passes (service=idle)")
    assert result.error == result.reason.removeprefix("p99_latency error: ").removesuffix(
        " (service=idle)")


def test_each_a_nan_series_is_an_error_whatever_the_no_data_setting() -> None:
    result = run(check(**LATENCY, no_data="pass"),
                 [instant(NAN, service="idle"), instant(900.0, service="a")])
    assert [s.status for s in result.series] == ["error", "warn"]
    assert result.status == "error"


@pytest.mark.parametrize(
    ("value", "rules", "fragment"),
    [
        pytest.param(INF, {"pass_": "value >= 99.9"}, "the value is +Inf, not a finite number",
                     id="+Inf never meets a pass rule"),
        pytest.param(-INF, {"fail": "value >= 5"}, "the value is -Inf, not a finite number",
                     id="-Inf never escapes a fail rule"),
        pytest.param(INF, {"fail": "value > 5"}, "the value is +Inf",
                     id="+Inf does not even decide a fail rule it would match"),
        pytest.param(NAN, {"fail": "value > 5"}, "the value is NaN, not a number",
                     id="NaN never escapes a fail rule"),
    ],
)
def test_a_value_that_is_not_finite_is_an_error_never_a_pass(
        value: float, rules: dict[str, str], fragment: str) -> None:
    for no_data in ("no_data", "pass"):
        result = run(check(no_data=no_data, **rules), [instant(value)])
        assert (result.status, result.decided_by) == ("error", None)
        assert fragment in result.reason
        assert verdict((result,)) == "error"


def test_an_infinite_point_makes_a_range_series_infinite_and_an_error() -> None:
    result = run(check(mode="range", over_time="min", fail="value > 5"),
                 [ranged([1.0, INF, 2.0])])
    assert (result.status, result.value) == ("error", INF)
    assert result.series[0].status == "error"


def test_a_range_series_of_nan_points_only_has_no_evidence() -> None:
    # Each NaN point is a moment without evidence: none at all is no data, and with a
    # coverage rule no_data: pass is insufficient (tests/test_coverage.py).
    result = run(check(mode="range", over_time="min", fail="value > 5"),
                 [ranged([NAN, NAN]), ranged([3.0], service="b")])
    assert [s.status for s in result.series] == ["no_data", "pass"]
    assert result.status == "no_data"
    alone = run(check(mode="range", over_time="min", fail="value > 5"), [ranged([NAN])])
    assert alone.reason == "p99_latency no_data: all 1 series were empty or NaN at every point"


def test_each_a_fail_beats_an_error_on_another_series() -> None:
    result = run(check(fail="value > limit"),
                 [instant(5.0, service="a"), instant(50.0, service="b")],
                 params={"limit": 10})
    assert result.status == "fail"
    result = run(check(fail="value > limit or labels.zone == 'x'"),
                 [instant(5.0, service="a"), instant(50.0, service="b", zone="y")],
                 params={"limit": 10})
    assert [s.status for s in result.series] == ["error", "fail"]
    assert result.status == "fail"
    assert result.error is None


# --- reductions ---------------------------------------------------------------

SERIES_VALUES = [4.0, 1.0, 10.0, 5.0]


@pytest.mark.parametrize(
    ("reducer", "expected"),
    [
        pytest.param("max", 10.0, id="series max takes the largest value"),
        pytest.param("min", 1.0, id="series min takes the smallest value"),
        pytest.param("avg", 5.0, id="series avg averages the values"),
        pytest.param("sum", 20.0, id="series sum adds the values"),
    ],
)
def test_series_reducers(reducer: str, expected: float) -> None:
    result = run(check(series=reducer, fail="value > 1000"),
                 [instant(v, i=str(i)) for i, v in enumerate(SERIES_VALUES)])
    assert result.status == "pass"
    assert result.value == pytest.approx(expected)
    assert result.reason == (f"p99_latency pass: {expected:,.2f} ms matched no fail or warn "
                             "rule")
    assert [s.status for s in result.series] == ["pass", "pass", "pass", "pass"]


@pytest.mark.parametrize("reducer", ["max", "min", "avg", "sum", "count"])
def test_a_series_that_is_not_finite_makes_a_reduced_check_an_error(reducer: str) -> None:
    result = run(check(series=reducer, fail="value > 1000"),
                 [instant(4.0, service="a"), instant(NAN, service="idle")])
    assert result.status == "error"
    assert f"the {reducer} of the series is not computed (service=idle)" in result.reason
    assert [s.status for s in result.series] == ["error", "error"]


def test_series_count_reducer_counts_series() -> None:
    result = run(check(series="count", pass_="value == 3"),
                 [instant(7.0, i="a"), instant(0.0, i="b"), instant(-2.0, i="c")])
    assert (result.status, result.value) == ("pass", 3.0)
    assert result.reason == "p99_latency pass: 3.00 ms met pass rule value == 3"


def test_a_reduced_value_has_no_labels_to_read() -> None:
    result = run(check(series="max", fail="labels.service == 'b'"),
                 [instant(4.0, service="a"), instant(9.0, service="b")])
    assert result.status == "error"
    assert result.reason.startswith("p99_latency error: evaluating rules: ")
    assert "service" in result.reason
    result = run(check(series="max", fail="value > 5 and series_count == 2"),
                 [instant(4.0, service="a"), instant(9.0, service="b")])
    assert (result.status, result.value) == ("fail", 9.0)


POINTS = [5.0, 1.0, NAN, 9.0, 3.0]


@pytest.mark.parametrize(
    ("over_time", "expected"),
    [
        pytest.param("max", 9.0, id="over_time max"),
        pytest.param("min", 1.0, id="over_time min"),
        pytest.param("avg", 4.5, id="over_time avg ignores NaN samples"),
        pytest.param("sum", 18.0, id="over_time sum ignores NaN samples"),
        pytest.param("last", 3.0, id="over_time last"),
        pytest.param("first", 5.0, id="over_time first"),
        pytest.param("p99", 9.0, id="over_time p99 of few points is the largest"),
        pytest.param("p50", 3.0, id="over_time p50 is the nearest-rank median"),
    ],
)
def test_over_time_reducers(over_time: str, expected: float) -> None:
    result = run(check(mode="range", over_time=over_time, fail="value > 1000"),
                 [ranged(POINTS, service="a")])
    assert result.value == pytest.approx(expected)
    assert result.series[0].value == pytest.approx(expected)
    assert result.series[0].points is not None
    assert len(result.series[0].points) == 5


@pytest.mark.parametrize(
    ("over_time", "expected"),
    [
        pytest.param("p50", 50.0, id="p50 of 1 to 100 is 50"),
        pytest.param("p90", 90.0, id="p90 of 1 to 100 is 90"),
        pytest.param("p95", 95.0, id="p95 of 1 to 100 is 95"),
        pytest.param("p99", 99.0, id="p99 of 1 to 100 is 99"),
    ],
)
def test_over_time_percentiles_of_a_hundred_points(over_time: str, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    result = run(check(mode="range", over_time=over_time, fail="value > 1000"),
                 [ranged(values)])
    assert result.value == expected


@pytest.mark.parametrize(
    ("over_time", "expected"),
    [
        # Rank ceil(0.9 * 6) = ceil(5.4) = 6; rounding 5.4 would pick the 5th.
        pytest.param("p90", 6.0, id="p90 of six points is the sixth (rank 5.4 rounds up)"),
        # Rank ceil(0.5 * 9) = ceil(4.5) = 5; rounding half to even would pick the 4th.
        pytest.param("p50", 5.0, id="p50 of nine points is the fifth (rank 4.5 rounds up)"),
    ],
)
def test_over_time_percentiles_at_a_fractional_rank(over_time: str, expected: float) -> None:
    count = 6 if over_time == "p90" else 9
    values = [float(v) for v in range(count, 0, -1)]
    result = run(check(mode="range", over_time=over_time, fail="value > 1000"),
                 [ranged(values)])
    assert result.value == expected


def test_range_last_skips_trailing_nan() -> None:
    result = run(check(mode="range", over_time="last", fail="value > 1"),
                 [ranged([0.5, 2.0, NAN, NAN])])
    assert (result.status, result.value) == ("fail", 2.0)


def test_instant_takes_the_last_sample_and_keeps_no_points() -> None:
    result = run(check(fail="value > 1"), [ranged([5.0, 0.5])])
    assert (result.status, result.value) == ("pass", 0.5)
    assert result.series[0].points is None


# --- no data --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "reason"),
    [
        pytest.param([], "p99_latency no_data: the query returned no series",
                     id="an empty result is no_data"),
        pytest.param([Series(labels={}, points=())], "p99_latency no_data: all 1 series were "
                     "empty or NaN at every point", id="a series without points is no_data"),
    ],
)
def test_no_data_by_default(series: list[Series], reason: str) -> None:
    result = run(check(**LATENCY), series)
    assert result.status == "no_data"
    assert result.value is None
    assert result.reason == reason
    assert result.decided_by == "no_data"
    assert all(s.status == "no_data" for s in result.series)


@pytest.mark.parametrize("setting", ["pass", "warn", "fail", "error"])
def test_no_data_setting_is_honoured(setting: Status) -> None:
    result = run(check(no_data=setting, **LATENCY), [])
    assert result.status == setting
    assert result.no_data == setting
    assert result.reason == (f"p99_latency {setting}: no data (the query returned no series); "
                             f"the check declares no_data: {setting}")


def test_the_no_data_setting_never_applies_to_nan() -> None:
    result = run(check(no_data="pass", series="max", **LATENCY), [instant(NAN)])
    assert result.status == "error"
    assert "NaN never passes" in result.reason


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param({"pass_": "value > 0"}, id="a source error is never a pass"),
        pytest.param({"fail": "value > 0"}, id="a source error is never a fail"),
    ],
)
def test_source_error(rules: dict[str, str]) -> None:
    result = run(check(**rules), error="connection refused by 127.0.0.1:9090")
    assert result.status == "error"
    assert result.error == "connection refused by 127.0.0.1:9090"
    assert result.reason == "p99_latency error: connection refused by 127.0.0.1:9090"
    assert result.value is None
    assert result.series == ()


def test_a_source_error_wins_over_data_that_came_with_it() -> None:
    outcome = Outcome(fetched=Fetched(series=(instant(5.0),)), error="partial answer", seconds=1)
    result = evaluate_check(check(fail="value > 1"), "q", outcome, {})
    assert (result.status, result.error) == ("error", "partial answer")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        pytest.param({}, "evaluating rules: '>' not supported",
                     id="a str param compared with a number is an error per series"),
        pytest.param({"series": "max"}, "evaluating rules: '>' not supported",
                     id="a str param compared with a reduced value is an error"),
    ],
)
def test_a_rule_raising_at_run_time_is_an_error(overrides: dict[str, Any],
                                                fragment: str) -> None:
    result = run(check(fail="value > job", **overrides), [instant(5.0, service="a")],
                 params={"job": "tars"})
    assert result.status == "error"
    assert fragment in result.reason
    assert result.reason.startswith("p99_latency error: ")
    assert result.error is not None
    assert fragment in result.error
    assert [s.status for s in result.series] == ["error"]
    assert result.value == 5.0  # the value the rule could not judge is still shown


def test_a_rule_error_on_an_unlabelled_series_reads_well() -> None:
    result = run(check(fail="value > job"), [instant(5.0)], params={"job": "tars"})
    assert result.status == "error"
    assert "for : " not in result.reason


# --- thresholds -------------------------------------------------------------------


@pytest.mark.parametrize(("rules", "lines"), [
    pytest.param({"fail": "value >= limit"}, [("fail", ">=", 10.0)], id="a param bound"),
    pytest.param({"warn": "value >= limit * 0.8"}, [("warn", ">=", 8.0)], id="arithmetic"),
    pytest.param({"fail": "value >= params.limit"}, [("fail", ">=", 10.0)],
                 id="a bound read through params"),
    pytest.param({"pass_": "0 < value <= 5"}, [("pass", ">", 0.0), ("pass", "<=", 5.0)],
                 id="a chained comparison gives two lines"),
    pytest.param({"fail": "limit < value"}, [("fail", ">", 10.0)],
                 id="a bound on the left is turned to the value's side"),
    pytest.param({"fail": "abs(value) >= limit"}, [("fail", ">=", 10.0), ("fail", "<=", -10.0)],
                 id="abs(value) gives a line on each side"),
    pytest.param({"fail": "value > 1 or value < -1", "warn": "value > 0.5", "pass_": "value > 0"},
                 [("fail", ">", 1.0), ("fail", "<", -1.0), ("warn", ">", 0.5),
                  ("pass", ">", 0.0)], id="fail first, then warn, then pass"),
    pytest.param({"fail": "labels['service'] == 'x' and value > 1"}, [],
                 id="a rule for some series only gives no line"),
    pytest.param({"fail": "not value > 1"}, [], id="a comparison under not gives no line"),
    pytest.param({"fail": "value > job"}, [], id="a bound that is no number gives no line"),
    pytest.param({"fail": "value > limit * 1e308 * 10"}, [],
                 id="a bound that is not finite gives no line"),
    pytest.param({"fail": "value > series_count"}, [], id="a bound read per series gives none"),
])
def test_thresholds_are_the_rules_bounds_under_the_params(
        rules: dict[str, str], lines: list[tuple[str, str, float]]) -> None:
    result = run(check(**rules), [instant(1.0)], params={"limit": 10, "job": "tars"})
    assert [(t.rule, t.operator, t.value) for t in result.thresholds] == lines
    written = {name.rstrip("_"): text for name, text in rules.items()}
    assert all(t.expression == written[t.rule] for t in result.thresholds)


def test_thresholds_are_written_for_a_check_whose_source_failed() -> None:
    # The chart of a check in error still shows where its lines would be.
    result = run(check(**LATENCY), error="connection refused")
    assert [(t.rule, t.value, t.expression) for t in result.thresholds] == [
        ("fail", 1000.0, "value >= 1000"), ("warn", 800.0, "value >= 800")]


# --- verdict and JSON numbers -----------------------------------------------------

BASE_RESULT = run(check(**LATENCY), [instant(1.0)])


def result(status: Status, gate: bool = True) -> CheckResult:
    return dataclasses.replace(BASE_RESULT, status=status, gate=gate)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(["pass", "pass"], "pass", id="all pass is pass"),
        pytest.param(["pass", "warn"], "warn", id="a warn makes warn"),
        pytest.param(["warn", "error"], "error", id="an error beats warn"),
        pytest.param(["error", "fail", "warn"], "fail", id="a fail beats error"),
        pytest.param(["pass", "no_data"], "fail", id="a gate without data fails"),
        pytest.param(["error", "no_data"], "fail", id="no data beats an error"),
        pytest.param([], "pass", id="no checks at all is pass"),
    ],
)
def test_verdict_of_gate_checks(statuses: list[Status], expected: str) -> None:
    assert verdict(tuple(result(s) for s in statuses)) == expected


@pytest.mark.parametrize(
    "informational",
    [
        pytest.param("fail", id="an informational fail does not fail the verdict"),
        pytest.param("error", id="an informational error does not change the verdict"),
        pytest.param("no_data", id="an informational no_data does not fail the verdict"),
        pytest.param("warn", id="an informational warn does not warn"),
    ],
)
def test_informational_checks_never_change_the_verdict(informational: Status) -> None:
    checks = (result("pass"), result(informational, gate=False))
    assert verdict(checks) == "pass"


def test_an_informational_check_from_the_policy_keeps_its_status() -> None:
    info = run(check(gate=False, **LATENCY), [instant(5000.0)])
    assert (info.status, info.gate) == ("fail", False)
    assert verdict((info, result("warn"))) == "warn"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(NAN, "NaN", id="NaN is written as the string NaN"),
        pytest.param(INF, "+Inf", id="positive infinity is +Inf"),
        pytest.param(-INF, "-Inf", id="negative infinity is -Inf"),
        pytest.param(1.5, 1.5, id="a finite number is kept"),
        pytest.param(0.0, 0.0, id="zero is kept"),
        pytest.param(None, None, id="None is kept"),
    ],
)
def test_json_number(value: float | None, expected: float | str | None) -> None:
    assert json_number(value) == expected


@pytest.mark.parametrize(
    ("value", "unit", "precision", "text"),
    [
        pytest.param(None, "ms", 2, "N/A", id="no value is N/A"),
        pytest.param(NAN, "ms", 2, "NaN", id="NaN is shown as NaN"),
        pytest.param(INF, "ms", 2, "+Inf", id="infinity is shown as +Inf"),
        pytest.param(-INF, "", 2, "-Inf", id="negative infinity is shown as -Inf"),
        pytest.param(1234567.891, "bytes", 1, "1,234,567.9 bytes", id="thousands are grouped"),
        pytest.param(99.5, "%", 0, "100 %", id="precision zero rounds"),
        pytest.param(0.25, "", 3, "0.250", id="no unit leaves no trailing space"),
    ],
)
def test_format_value(value: float | None, unit: str, precision: int, text: str) -> None:
    assert format_value(value, unit, precision) == text
