"""Waivers and the optional score.

The end-to-end tests run `gacert run` on the latency-spike day of the test
Prometheus (one service, dashboard-api, breaks its P99 bound) with a small
policy that holds a waiver in force, an expired one, or a series waiver; the
unit tests judge hand-made series with the engine's own evaluator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notify_support import Receiver
from test_watch import PROMETHEUS_CHECKS, run_watch, webhook_policy

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.engine.evaluate import evaluate_check
from gacert.engine.results import to_document, verdict
from gacert.engine.score import score_document
from gacert.engine.waivers import apply_waivers
from gacert.model import Fetched, Outcome, RunResult, ScoreRule, Series, Timings
from gacert.policy.load import check_policy_file, load_policy
from gacert.policy.waivers import parse_expiry

ROOT = Path(__file__).resolve().parent.parent
SOON = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
PAST = "2024-06-30"

# The checks of the watch tests: the worst service's P99 latency (fails on the
# latency-spike day, for dashboard-api only) and availability.
POLICY = """\
version: 1
name: waived
sources:
  prometheus: {type: prometheus, url: "${PROMETHEUS_URL}"}
checks:
""" + PROMETHEUS_CHECKS


def waiver(expires: str, series: str = "", check: str = "p99_latency") -> str:
    return (f"waivers:\n  - check: {check}\n{series}"
            "    reason: Slow export path, fixed in 2.4.1.\n"
            f"    approver: sre-lead\n    expires: {expires}\n    ticket: TARS-1234\n")


def write_policy(tmp_path: Path, extra: str = "", name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(POLICY + extra, encoding="utf-8")
    return path


def gacert(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})},
                          cwd=ROOT, check=False)


def run_spike(prometheus: PrometheusServer, policy: Path, out: Path, *extra: str
              ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    start, end = scenario_window("latency_spike")
    proc = gacert("run", str(policy), "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                  "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "--output", str(out), "--no-pdf",
                  "--junit", str(out / "junit.xml"), *extra,
                  env={"PROMETHEUS_URL": prometheus.url})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads((out / "results.json").read_text())


def check_of(results: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in results["checks"] if c["id"] == check_id)


# --- end to end, against the test Prometheus ---------------------------------------


@pytest.mark.prometheus
def test_a_waived_failing_gate_check_passes_and_every_output_shows_the_waiver(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    unwaived, results = run_spike(prometheus, write_policy(tmp_path), tmp_path / "plain")
    assert unwaived.returncode == 1
    assert results["status"] == "fail"

    out = tmp_path / "waived"
    proc, results = run_spike(prometheus, write_policy(tmp_path, waiver(SOON), "w.yaml"), out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["status"] == "pass"
    assert results["exit_code"] == 0
    check = check_of(results, "p99_latency")
    # The check keeps its real status, value and reason.
    assert check["status"] == "fail"
    assert check["value"] >= 1000
    assert check["reason"].startswith("p99_latency fail:")
    assert check["waiver"]["in_force"] is True
    assert check["waiver"]["counts_as"] is None
    assert check["waiver"]["approver"] == "sre-lead"
    assert results["summary"]["waived"] == 1
    assert results["waivers"]["expired"] == 0
    assert "waiver: p99_latency waived until" in proc.stdout
    assert "1 waived" in proc.stdout
    for report in ("report.md", "GA_DAY_REPORT.md"):
        text = (out / report).read_text()
        assert "Slow export path, fixed in 2.4.1." in text, report
        assert "sre-lead" in text, report
        assert "TARS-1234" in text, report
    assert "Slow export path" in (out / "GA_DAY_REPORT.html").read_text()
    metadata = json.loads((out / "certification_metadata.json").read_text())
    assert metadata["waived"] == 1
    assert metadata["waivers"][0]["check"] == "p99_latency"
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    case = next(c for c in suite.iter("testcase") if c.get("name") == "p99_latency")
    skipped = case.find("skipped")
    assert skipped is not None
    assert "approved by sre-lead" in skipped.get("message", "")


@pytest.mark.prometheus
def test_a_watch_keeps_the_real_statuses_but_neither_fails_nor_warns_of_a_waived_check(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    # Unwaived, this watch notifies p99_latency's failure once (see test_watch).
    policy = webhook_policy(tmp_path)
    policy.write_text(policy.read_text(encoding="utf-8") + waiver(SOON), encoding="utf-8")
    with Receiver() as receiver:
        env = {"PROMETHEUS_URL": prometheus.url, "HOOK_URL": receiver.url}
        result = run_watch(policy, tmp_path / "out", env)
    document = result.document
    assert receiver.received == []
    assert document["status"] == "pass"
    assert {s["status"] for s in document["watch"]["snapshots"]} == {"pass"}
    # The trend still shows what the check measured: it turned to fail mid-window.
    trend = next(t for t in document["watch"]["trend"] if t["id"] == "p99_latency")
    statuses = [point[2] for point in trend["points"]]
    assert statuses[0] == "pass"
    assert statuses[-1] == "fail"
    check = check_of(document, "p99_latency")
    assert check["status"] == "fail"
    assert check["waiver"]["in_force"] is True


@pytest.mark.prometheus
def test_an_expired_waiver_no_longer_waives_and_validate_warns(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, waiver(PAST))
    proc, results = run_spike(prometheus, policy, tmp_path / "out")
    assert proc.returncode == 1
    assert results["status"] == "fail"
    check = check_of(results, "p99_latency")
    assert check["waiver"]["in_force"] is False
    assert check["waiver"]["counts_as"] == "fail"
    assert results["waivers"]["expired"] == 1
    assert results["summary"]["waived"] == 0
    assert "EXPIRED" in proc.stdout
    assert "EXPIRED" in (tmp_path / "out" / "report.md").read_text()

    validated = gacert("validate", str(policy))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    shown = validated.stdout + validated.stderr
    line = POLICY.count("\n") + 5  # the waiver's `expires:` line
    assert f"policy.yaml:{line}:" in shown
    assert "warning: waivers[0].expires" in shown
    assert "expired on 2024-06-30" in shown
    assert gacert("validate", "--strict", str(policy)).returncode != 0


@pytest.mark.prometheus
def test_a_series_waiver_waives_only_its_series(prometheus: PrometheusServer,
                                                tmp_path: Path) -> None:
    right = "    series: {service: dashboard-api}\n"
    proc, results = run_spike(prometheus, write_policy(tmp_path, waiver(SOON, right)),
                              tmp_path / "right")
    assert proc.returncode == 0
    assert results["status"] == "pass"
    check = check_of(results, "p99_latency")
    waived = [s for s in check["series"] if s.get("waived")]
    assert [s["labels"]["service"] for s in waived] == ["dashboard-api"]
    assert check["waiver"]["series_waived"] == 1
    assert check["waiver"]["counts_as"] == "pass"

    other = "    series: {service: no-such-service}\n"
    proc, results = run_spike(prometheus, write_policy(tmp_path, waiver(SOON, other), "o.yaml"),
                              tmp_path / "other")
    assert proc.returncode == 1
    assert results["status"] == "fail"
    assert check_of(results, "p99_latency")["waiver"]["counts_as"] == "fail"


@pytest.mark.prometheus
def test_regrade_applies_the_new_policys_waiver_and_says_so(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    run_spike(prometheus, write_policy(tmp_path), tmp_path / "origin")
    waived = write_policy(tmp_path, waiver(SOON), "w.yaml")
    proc = gacert("regrade", str(tmp_path / "origin.tar.gz"), "--policy", str(waived),
                  "-o", str(tmp_path / "regraded"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "regraded" / "results.json").read_text())
    assert results["status"] == "pass"
    change = next(c for c in results["regrade"]["changes"] if c["check"] == "p99_latency")
    assert change["changes"][-1]["field"] == "waiver"
    assert change["changes"][-1]["new"].startswith("in force until")
    assert "waiver" in (tmp_path / "regraded" / "REGRADE_DIFF.md").read_text()


# --- validation -----------------------------------------------------------------------


def problems(tmp_path: Path, extra: str) -> list[tuple[str, str, str]]:
    _, found = check_policy_file(str(write_policy(tmp_path, extra)))
    return [(p.severity, p.path, p.message) for p in found]


def test_a_waiver_of_an_unknown_check_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, waiver(SOON, check="p99_latncy"))
    assert found == [("error", "waivers[0].check", "waiver of unknown check 'p99_latncy'")]
    _, listed = check_policy_file(str(tmp_path / "policy.yaml"))
    assert listed[0].hint == "did you mean 'p99_latency'?"


def test_a_waiver_far_ahead_and_one_of_an_informational_check_are_warnings(
        tmp_path: Path) -> None:
    far = (datetime.now(UTC) + timedelta(days=200)).strftime("%Y-%m-%d")
    found = problems(tmp_path, waiver(far))
    assert [(s, p) for s, p, _ in found] == [("warning", "waivers[0].expires")]
    assert "more than 90 days" in found[0][2]
    informational = POLICY.replace("    unit: \"%\"", "    unit: \"%\"\n    gate: false")
    path = tmp_path / "info.yaml"
    path.write_text(informational + waiver(SOON, check="availability"), encoding="utf-8")
    _, found_info = check_policy_file(str(path))
    assert [(p.severity, p.path) for p in found_info] == [("warning", "waivers[0].check")]


def test_a_waiver_needs_an_expiry_and_a_valid_one(tmp_path: Path) -> None:
    found = problems(tmp_path, "waivers:\n  - {check: p99_latency, reason: r, approver: a}\n")
    assert found
    assert found[0][0] == "error"
    assert "expires" in found[0][2]
    found = problems(tmp_path, waiver("next-week"))
    assert found == [("error", "waivers[0].expires", "'next-week' is not a date (2026-01-31) "
                      "or an RFC 3339 time with a time zone (2026-01-31T12:00:00Z)")]


def test_a_date_waives_through_that_day_and_a_time_needs_a_zone() -> None:
    assert parse_expiry("2026-02-15") == datetime(2026, 2, 16, tzinfo=UTC)
    assert parse_expiry("2026-02-15T12:00:00+02:00") == datetime(2026, 2, 15, 10, tzinfo=UTC)
    assert parse_expiry("2026-02-15T12:00:00") is None


def test_set_cannot_add_or_change_a_waiver(prometheus_free_policy: Path) -> None:
    for name in ("waivers", "waivers.0.expires", "p99_latency.waiver"):
        proc = gacert("run", str(prometheus_free_policy), "--duration", "1h", "--set",
                      f"{name}=2099-01-01", "-o", str(prometheus_free_policy.parent / "o"))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (prometheus_free_policy.parent / "o" / "results.json").exists()


@pytest.fixture
def prometheus_free_policy(tmp_path: Path) -> Path:
    return write_policy(tmp_path, waiver(PAST))


# --- judging, on hand-made series ---------------------------------------------------------


def judged(tmp_path: Path, extra: str, values: dict[str, float], moment: datetime
           ) -> RunResult:
    """The policy's p99_latency judged on instant series, one per service."""
    policy = load_policy(str(write_policy(tmp_path, extra.replace(
        "    mode: range\n    over_time: max\n", ""))))
    check = policy.checks[0]
    series = tuple(Series({"service": s}, [(0.0, v)]) for s, v in values.items())
    result = evaluate_check(check, check.query, Outcome(Fetched(series), None, 0.0), {})
    checks = apply_waivers((result,), policy.waivers, moment)
    return RunResult(verdict(checks), policy, None, {}, (),  # type: ignore[arg-type]
                     Timings("", "", 0, 0), checks, waivers_judged_at=moment)


def test_a_waiver_is_in_force_until_its_expiry_and_not_after(tmp_path: Path) -> None:
    extra = waiver("2026-03-01T00:00:00Z")
    values = {"api": 1500.0}
    before = judged(tmp_path, extra, values, datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    after = judged(tmp_path, extra, values, datetime(2026, 3, 1, tzinfo=UTC))
    assert before.status == "pass"
    assert before.checks[0].status == "fail"
    assert after.status == "fail"
    assert after.checks[0].waiver is not None
    assert after.checks[0].waiver.in_force is False


def test_series_waivers_match_exact_values_and_any_of_a_list(tmp_path: Path) -> None:
    values = {"api": 1500.0, "web": 1200.0, "db": 10.0}
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    one = "    series: {service: api}\n"
    assert judged(tmp_path, waiver("2026-02-01", one), values, moment).status == "fail"
    both = "    series: [{service: api}, {service: web}]\n"
    run = judged(tmp_path, waiver("2026-02-01", both), values, moment)
    assert run.status == "pass"
    assert run.checks[0].waiver is not None
    assert run.checks[0].waiver.series_waived == 2
    prefix = "    series: {service: ap}\n"  # exact values: no prefix match
    assert judged(tmp_path, waiver("2026-02-01", prefix), values, moment).status == "fail"


# --- the score ---------------------------------------------------------------------------


def test_the_score_weighs_pass_fully_warn_half_and_the_rest_nothing(tmp_path: Path) -> None:
    run = judged(tmp_path, "", {"api": 10.0}, datetime(2026, 1, 1, tzinfo=UTC))
    base = run.checks[0]
    from dataclasses import replace
    checks = [replace(base, id="a", status="pass"), replace(base, id="b", status="warn"),
              replace(base, id="c", status="fail"), replace(base, id="d", status="no_data"),
              replace(base, id="e", status="pass")]
    weights = {"a": 2.0, "b": 2.0, "c": 1.0, "d": 1.0, "e": 0.0}
    score = score_document(ScoreRule(pass_=90, warn=50), checks, weights)
    # Points: 2 (a) + 1 (b, half of 2) + 0 + 0 + 0 of weights 6: 50 %.
    assert (score["points"], score["weights"], score["value"]) == (3.0, 6.0, 50.0)
    assert score["status"] == "warn"
    assert score_document(ScoreRule(pass_=40, warn=10), checks, weights)["status"] == "pass"
    assert score_document(ScoreRule(pass_=90, warn=60), checks, weights)["status"] == "fail"


def test_the_score_never_changes_the_verdict_and_is_absent_without_a_score(
        tmp_path: Path) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    scored = judged(tmp_path, "score: {pass: 10, warn: 5}\n", {"api": 1500.0}, moment)
    document = to_document_of(scored)
    assert document["status"] == "fail"
    assert document["score"]["status"] == "fail"
    plain = judged(tmp_path, "", {"api": 10.0}, moment)
    assert "score" not in to_document_of(plain)


def to_document_of(run: RunResult) -> dict[str, Any]:
    from gacert.model import Window
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = Window(start, start + timedelta(hours=1), 60, 15)
    return dict(to_document(RunResult(run.status, run.policy, window, {}, (), run.timings,
                                      run.checks, waivers_judged_at=run.waivers_judged_at)))


# --- gacert diff and gacert test ------------------------------------------------------------


def test_diff_lists_waivers_added_removed_and_changed(tmp_path: Path) -> None:
    plain = write_policy(tmp_path, "", "plain.yaml")
    waived = write_policy(tmp_path, waiver(SOON), "waived.yaml")
    renewed = write_policy(tmp_path, waiver(SOON).replace("sre-lead", "release-board"),
                           "renewed.yaml")
    added = gacert("diff", str(plain), str(waived))
    assert added.returncode == 0, added.stderr
    assert f"+ waivers.p99_latency: (none) -> the whole check until {SOON}, approved by " \
        "sre-lead, ticket TARS-1234" in added.stdout
    removed = gacert("diff", str(waived), str(plain), "--format", "json")
    fields = {c["field"]: c for c in json.loads(removed.stdout)["policy"]}
    assert fields["waivers.p99_latency"]["new"] is None
    changed = gacert("diff", str(waived), str(renewed), "--format", "markdown")
    assert "| `waivers.p99_latency` |" in changed.stdout
    assert "approved by release-board" in changed.stdout


def test_policy_tests_judge_with_the_policys_waivers(tmp_path: Path) -> None:
    write_policy(tmp_path, waiver(SOON, "    series: {service: api}\n"))
    tests = tmp_path / "policy.tests.yaml"
    tests.write_text("""\
policy: policy.yaml
interval: 1m
input:
  series:
    availability: {'{}': '100'}
    p99_latency: {'{service="api"}': '1500x60', '{service="web"}': '300x60'}
tests:
  - name: the waived series fails and does not gate
    expect: {verdict: pass, checks: {p99_latency: fail}}
  - name: another failing series still gates
    series:
      p99_latency: {'{service="api"}': '1500x60', '{service="web"}': '1300x60'}
    expect: {verdict: fail, checks: {p99_latency: fail}}
""", encoding="utf-8")
    proc = gacert("test", str(tests))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 tests passed" in proc.stdout, proc.stdout


def test_github_annotates_a_waived_failure_as_a_notice_naming_the_waiver(
        tmp_path: Path) -> None:
    from gacert.publish.github import check_annotations
    from gacert.publish.summary import RunSummary
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    waived = to_document_of(judged(tmp_path, waiver("2026-02-01"), {"api": 1500.0}, moment))
    summary = RunSummary(waived, 0, "results.json")  # type: ignore[arg-type]
    assert summary.failing_checks() == []
    assert summary.waived_checks() == ["p99_latency"]
    [line] = check_annotations(summary)
    assert line.startswith("::notice ")
    assert "approved by sre-lead" in line
    expired = to_document_of(judged(tmp_path, waiver("2025-12-01"), {"api": 1500.0}, moment))
    summary = RunSummary(expired, 1, "results.json")  # type: ignore[arg-type]
    assert summary.failing_checks() == ["p99_latency"]
    [line] = check_annotations(summary)
    assert line.startswith("::error ")
    assert "EXPIRED" in line
