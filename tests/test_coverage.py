"""Evidence coverage without a server: the share and gaps of points, the presence query
an instant query is measured with, the plan of each kind of check, and how coverage
judges a check (gacert.engine.coverage, gacert.policy.presence, gacert.engine.evaluate).

The same cases against a real Prometheus are in tests/test_trust.py.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_evaluate import LATENCY, check, instant

from gacert.engine.coverage import measure_coverage, plan_coverage, point_coverage
from gacert.engine.evaluate import evaluate_check
from gacert.engine.results import verdict
from gacert.model import (
    DEFAULT_COVERAGE,
    Check,
    CheckResult,
    Coverage,
    CoverageMethod,
    CoverageRule,
    Fetched,
    Gap,
    Outcome,
    Series,
    Window,
)
from gacert.policy.presence import presence

DAY = 86400.0
STEP = 60.0
START = datetime(2025, 1, 24, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(days=1), STEP, 15)
GRID = [i * STEP for i in range(1441)]  # a day of points, from 0


# --- share and gaps ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "share", "gaps"),
    [
        pytest.param(GRID, 1.0, [], id="a point at every step covers the whole window"),
        pytest.param([t for t in GRID if not 9 * 3600 + 300 <= t < 15 * 3600],
                     1086 / 1441, [(9 * 3600 + 240, 15 * 3600)],
                     id="a six-hour hole is one gap, from the last point to the next"),
        pytest.param([t for t in GRID if t >= 12 * 3600], 721 / 1441, [(0, 12 * 3600)],
                     id="no data before noon is a gap from the window's start"),
        pytest.param([t for t in GRID if t <= 18 * 3600], 1081 / 1441, [(18 * 3600, DAY)],
                     id="no data after six is a gap to the window's end"),
        pytest.param([], 0.0, [(0, DAY)], id="no point at all is one gap over the window"),
        pytest.param([t for t in GRID if t != 600], 1440 / 1441, [(540, 660)],
                     id="one missing point is a gap of two steps between its neighbours"),
        pytest.param([t + 17 for t in GRID], 1.0, [],
                     id="points off the step (a server aligning them otherwise) still count"),
        pytest.param([*GRID, *GRID], 1.0, [], id="several series at one step count once"),
    ],
)
def test_share_and_gaps(times: list[float], share: float,
                        gaps: list[tuple[float, float]]) -> None:
    found_share, found_gaps = point_coverage(times, 0.0, DAY, STEP)
    assert found_share == pytest.approx(share)
    assert [(g.start, g.end) for g in found_gaps] == gaps


# --- what an instant query is measured with ------------------------------------------


@pytest.mark.parametrize(
    ("query", "expression", "longest"),
    [
        pytest.param('avg(avg_over_time(up{job="tars"}[1d])) * 100', 'count(up{job="tars"})',
                     DAY, id="a range selector is measured by its presence"),
        pytest.param('100 * (sum(increase(x{s=~"5.."}[1d])) or vector(0)) / sum(increase(x[1d]))',
                     "count(x{})", DAY,
                     id="a selector on the left of `or vector(0)` is optional"),
        pytest.param("sum(increase(a[1d])) / (sum(increase(a[1d])) + sum(increase(b[1d])))",
                     "count(a{}) and count(b{})", DAY,
                     id="every operand is needed, each once"),
        pytest.param("rate(a[1d]) or rate(b[1d])", "((count(a{})) or (count(b{})))", DAY,
                     id="`a or b` with series on both sides needs either"),
        pytest.param("rate(a[1d]) unless rate(b[1d])", "count(a{})", DAY,
                     id="`unless` needs its left side only"),
        pytest.param("rate(x[1d]) / rate(x[1d] offset 7d)",
                     "count(x{}) and count(x{} offset 604800s)", DAY,
                     id="an offset selector is measured in the window it reads"),
        pytest.param("max_over_time(sum(y{a=\"b\"})[1d:1m] offset 1h)",
                     'count(y{a="b"} offset 3600s)', DAY,
                     id="a subquery's selectors carry its range and offset"),
        pytest.param("rate(x[5m])", "count(x{})", 300.0,
                     id="a short range is measured over that range"),
        pytest.param('x{a="q\\"uote"}[1d]', 'count(x{a="q\\"uote"})', DAY,
                     id="label values are quoted back as PromQL strings"),
    ],
)
def test_the_presence_query_of_an_instant_query(query: str, expression: str,
                                                 longest: float) -> None:
    found = presence(query)
    assert found is not None
    assert (found.expression, found.reads_range, found.longest_range_seconds) == (
        expression, True, longest)


@pytest.mark.parametrize(
    ("query", "reads_range"),
    [
        pytest.param("count(max_over_time(ALERTS[1d])) or vector(0)", True,
                     id="a query of optional series only needs none"),
        pytest.param("absent_over_time(up[1d])", True, id="absent needs nothing"),
        pytest.param("kube_replicas_updated / kube_replicas_spec", False,
                     id="a query read at the window's end reads no range"),
        pytest.param("max_over_time(x[1d] @ 1700000000)", False,
                     id="a selector fixed at one instant reads no range of the window"),
    ],
)
def test_queries_that_need_no_series_over_the_window(query: str, reads_range: bool) -> None:
    found = presence(query)
    assert found is not None
    assert (found.expression, found.reads_range) == (None, reads_range)


def test_a_query_that_is_not_promql_has_no_presence() -> None:
    assert presence("rate(x[5m]") is None


# --- the plan of each kind of check --------------------------------------------------


def _check(**fields: Any) -> Check:
    return dataclasses.replace(check(**LATENCY), **{"coverage": DEFAULT_COVERAGE, **fields})


@pytest.mark.parametrize(
    ("built", "query", "source", "method", "fragment"),
    [
        pytest.param(_check(mode="range", over_time="max"), "rate(x[5m])", "prometheus",
                     "points", "points of the check's range query",
                     id="a range check is measured on its own points"),
        pytest.param(_check(), "increase(x[1d])", "prometheus", "selectors",
                     "series the query reads", id="an instant check over the window by "
                     "a presence query"),
        pytest.param(_check(), "count(max_over_time(ALERTS[1d])) or vector(0)", "prometheus",
                     "reference",
                     "reference series up", id="optional series only: the reference"),
        pytest.param(_check(), "kube_replicas", "prometheus", "none", "the window's end only",
                     id="a read of the window's end is not measured"),
        pytest.param(_check(coverage=None), "increase(x[1d])", "prometheus", "none",
                     "coverage: none", id="coverage: none is not measured"),
        pytest.param(_check(), "latency.p99", "http", "none", "a http source",
                     id="a probe is not measured"),
    ],
)
def test_the_coverage_plan_of_each_kind_of_check(built: Check, query: str, source: str,
                                                  method: str, fragment: str) -> None:
    plan = plan_coverage(built, query, source, WINDOW, "up")
    assert plan.method == method
    assert fragment in plan.note
    assert (plan.query is not None) == (method in ("selectors", "reference"))
    if plan.query is not None:
        assert (plan.query.mode, plan.query.end, plan.query.step_seconds) == (
            "range", WINDOW.end, STEP)


def test_a_short_range_is_measured_over_the_end_of_the_window_only() -> None:
    plan = plan_coverage(_check(), "rate(x[5m])", "prometheus", WINDOW, "up")
    assert plan.query is not None
    assert plan.query.start == WINDOW.end - timedelta(minutes=5)
    assert not plan.whole_window


def test_a_failed_coverage_query_leaves_coverage_unmeasured() -> None:
    plan = plan_coverage(_check(), "increase(x[1d])", "prometheus", WINDOW, "up")
    coverage = measure_coverage(plan, STEP, Outcome(Fetched(()), None, 0.1),
                                Outcome(None, "connection refused", 0.1))
    assert (coverage.share, coverage.sufficient) == (None, None)
    assert coverage.note == "could not be measured: connection refused"


def test_nan_points_are_not_evidence() -> None:
    plan = plan_coverage(_check(mode="range", over_time="max"), "q", "prometheus", WINDOW, "up")
    stamps = [WINDOW.start.timestamp() + t for t in GRID]
    series = Series({}, tuple((t, float("nan") if i < 720 else 1.0)
                              for i, t in enumerate(stamps)))
    coverage = measure_coverage(plan, STEP, Outcome(Fetched((series,)), None, 0.1), None)
    assert coverage.share == pytest.approx(721 / 1441)


# --- how coverage judges a check -----------------------------------------------------

RULE = CoverageRule(min_share=0.95, max_gap_seconds=900.0)


def coverage(share: float | None, gap_hours: float = 0.0, rule: CoverageRule | None = RULE,
             method: CoverageMethod = "selectors") -> Coverage:
    t0 = START.timestamp()
    gaps = (Gap(t0 + 9 * 3600, t0 + (9 + gap_hours) * 3600),) if gap_hours else ()
    return Coverage(method, "measured on the series the query reads", t0, t0 + DAY,
                    share, gaps, len(gaps), rule, "count(x)")


def judged(built: Check, value: float | None, cover: Coverage) -> CheckResult:
    series = [] if value is None else [instant(value)]
    return evaluate_check(built, "q", Outcome(Fetched(tuple(series)), None, 0.1), {}, cover)


def test_a_pass_on_evidence_with_a_six_hour_hole_is_insufficient() -> None:
    result = evaluate_check(check(pass_="value >= 99.9", unit="%"), "q",
                            Outcome(Fetched((instant(100.0),)), None, 0.1), {},
                            coverage(0.753, gap_hours=6))
    assert result.status == "insufficient"
    assert result.reason == (
        "p99_latency insufficient: evidence covers 75.3 % of the window (at least 95 % "
        "needed); largest gap 6h 00m, from 2025-01-24T09:00:00Z to 2025-01-24T15:00:00Z (at "
        "most 15m allowed); the rules alone: pass: 100.00 % met pass rule value >= 99.9")
    assert verdict((result,)) == "fail"


@pytest.mark.parametrize(
    ("share", "gap_hours", "status"),
    [
        pytest.param(0.99, 0.0, "warn", id="enough evidence keeps the rules' status"),
        pytest.param(0.94, 0.0, "insufficient", id="too small a share is insufficient"),
        pytest.param(0.99, 0.5, "insufficient", id="a gap over max_gap is insufficient "
                     "however large the share"),
        pytest.param(0.99, 0.25, "warn", id="a gap of exactly max_gap is allowed"),
    ],
)
def test_share_and_gap_are_both_judged(share: float, gap_hours: float, status: str) -> None:
    result = judged(check(**LATENCY), 900.0, coverage(share, gap_hours))
    assert result.status == status


@pytest.mark.parametrize(
    ("built", "value", "status"),
    [
        pytest.param(check(**LATENCY), 1200.0, "fail",
                     id="a failure on partial evidence stays a failure"),
        pytest.param(check(**LATENCY), None, "no_data", id="no data stays no_data"),
        pytest.param(check(no_data="pass", **LATENCY), None, "insufficient",
                     id="no_data: pass on too little evidence is no pass"),
        pytest.param(check(fail="value > job"), 5.0, "error",
                     id="an error stays an error"),
    ],
)
def test_coverage_replaces_only_pass_and_warn(built: Check, value: float | None,
                                              status: str) -> None:
    result = evaluate_check(built, "q", Outcome(Fetched(
        () if value is None else (instant(value),)), None, 0.1), {"job": "x"}, coverage(0.5))
    assert result.status == status


def test_coverage_that_could_not_be_measured_is_an_error_for_a_pass() -> None:
    result = judged(check(**LATENCY), 5.0, coverage(None))
    assert result.status == "error"
    assert "evidence coverage" in result.reason


@pytest.mark.parametrize("cover", [
    pytest.param(coverage(0.1, rule=None), id="coverage not judged (coverage: none)"),
    pytest.param(None, id="no coverage measured at all"),
])
def test_unjudged_coverage_changes_nothing(cover: Coverage | None) -> None:
    result = evaluate_check(check(**LATENCY), "q",
                            Outcome(Fetched((instant(5.0),)), None, 0.1), {}, cover)
    assert result.status == "pass"


def test_the_reference_method_says_what_it_measured() -> None:
    result = judged(check(**LATENCY), 0.0, coverage(0.5, method="reference"))
    assert "measured on the series the query reads" in result.reason


def test_a_range_check_on_its_own_points() -> None:
    built = _check(mode="range", over_time="max")
    plan = plan_coverage(built, "q", "prometheus", WINDOW, "up")
    series = Series({}, tuple((WINDOW.start.timestamp() + STEP * i, 5.0) for i in range(700)))
    outcome = Outcome(Fetched((series,)), None, 0.1)
    result = evaluate_check(built, "q", outcome, {},
                            measure_coverage(plan, STEP, outcome, None))
    assert result.status == "insufficient"
    assert "evidence covers 48.5 % of the window" in result.reason
