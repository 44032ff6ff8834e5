"""Comparing with the last release: `--baseline`, `baseline.value` and `no_baseline`.

The unit tests judge series with the engine's own evaluator against baselines
read from results documents that a run writes (`to_document`), and check what
the results, reports and CI outputs say. The acceptance tests at the end run
examples/baseline.yaml against the real test Prometheus: a clean day is the
baseline of the day with a latency spike.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, JUnitXml
from sample_results import RESULTS_SCHEMA

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.document import ResultsDocument
from gacert.engine.baseline import NO_BASELINE_GIVEN, from_results, stored_baseline
from gacert.engine.evaluate import evaluate_check
from gacert.engine.plan import build_plan
from gacert.engine.regrade import regrade
from gacert.engine.results import EXIT_CODES, to_document, verdict
from gacert.errors import UsageError
from gacert.model import (
    Baseline,
    CheckResult,
    Fetched,
    Outcome,
    Policy,
    RunResult,
    Series,
    SourceInfo,
    Timings,
    Window,
)
from gacert.package.baseline import read_baseline
from gacert.package.build import PackageOptions, write_package
from gacert.package.verify import verify
from gacert.policy.load import check_policy_file, load_policy
from gacert.publish.junit import junit_xml
from gacert.publish.summary import RunSummary
from gacert.watch import WatchOptions, prepare, watch

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 1, 15, tzinfo=UTC)
END = datetime(2025, 1, 16, tzinfo=UTC)

POLICY = """\
version: 1
name: relative
params:
  p99_max: 1000
  factor_fail: 1.25
  factor_warn: 1.10
sources:
  prom: {type: prometheus, url: "http://127.0.0.1:9090"}
checks:
  - id: p99
    source: prom
    query: p99_by_service
    unit: ms
    fail: value >= p99_max or value > baseline.value * factor_fail
    warn: value > baseline.value * factor_warn
  - id: errors
    source: prom
    query: error_ratio
    series: max
    unit: "%"
    precision: 3
    fail: value > baseline.value * 2
  - id: requests
    source: prom
    query: requests
    pass: value > 0
"""


def write_policy(path: Path, text: str = POLICY) -> Policy:
    path.write_text(text, encoding="utf-8")
    return load_policy(str(path))


def answers(p99: dict[str, float], errors: tuple[float, ...] = (0.02, 0.01),
            requests: float = 1000.0) -> dict[str, Outcome]:
    at = END.timestamp()
    return {
        "p99": Outcome(Fetched(tuple(Series({"service": s}, ((at, v),))
                                     for s, v in p99.items())), None, 0.1),
        "errors": Outcome(Fetched(tuple(Series({"pod": f"p{i}"}, ((at, v),))
                                        for i, v in enumerate(errors))), None, 0.1),
        "requests": Outcome(Fetched((Series({}, ((at, requests),)),)), None, 0.1),
    }


def judge(policy: Policy, found: dict[str, Outcome],
          baseline: Baseline | None) -> tuple[CheckResult, ...]:
    params = {name: p.default for name, p in policy.params.items()}
    plan = build_plan(policy, Window(START, END, 60.0, 15.0), params)
    return tuple(evaluate_check(p.check, p.query.text, found[p.check.id], params,
                                baseline=baseline) for p in plan.checks)


def document_of(policy: Policy, found: dict[str, Outcome],
                baseline: Baseline | None = None) -> ResultsDocument:
    checks = judge(policy, found, baseline)
    params = {name: p.default for name, p in policy.params.items()}
    run = RunResult(verdict(checks), policy, Window(START, END, 60.0, 15.0), params,
                    (SourceInfo("prom", "prometheus", "http://127.0.0.1:9090"),),
                    Timings("2025-01-16T00:05:00Z", "2025-01-16T00:05:01Z", 1.0, 0.5), checks,
                    baseline=baseline)
    document: ResultsDocument = json.loads(json.dumps(to_document(run), allow_nan=False))
    return document


LAST_RELEASE = {"api": 300.0, "web": 200.0}


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return write_policy(tmp_path / "policy.yaml")


@pytest.fixture
def last(policy: Policy) -> Baseline:
    """The last release's results, read back as a baseline."""
    document = document_of(policy, answers(LAST_RELEASE))
    return from_results(document, "last/results.json", "0" * 64, None)


def by_id(checks: tuple[CheckResult, ...]) -> dict[str, CheckResult]:
    return {c.id: c for c in checks}


# --- judging ----------------------------------------------------------------------


@pytest.mark.parametrize(("p99", "status"), [
    pytest.param({"api": 310.0, "web": 205.0}, "pass", id="close to the last release passes"),
    pytest.param({"api": 310.0, "web": 230.0}, "warn", id="15 % slower warns"),
    pytest.param({"api": 390.0, "web": 200.0}, "fail", id="30 % slower fails"),
])
def test_each_series_is_compared_with_the_series_of_the_same_labels(
        policy: Policy, last: Baseline, p99: dict[str, float], status: str) -> None:
    check = by_id(judge(policy, answers(p99), last))["p99"]
    assert check.status == status
    # Each series carries the value of its namesake in the baseline.
    assert {s.labels["service"]: s.baseline for s in check.series} == LAST_RELEASE


def test_the_comparison_names_the_deciding_series_its_baseline_and_the_change(
        policy: Policy, last: Baseline) -> None:
    check = by_id(judge(policy, answers({"api": 310.0, "web": 300.0}), last))["p99"]
    assert (check.status, check.value) == ("fail", 300.0)
    assert "(service=web)" in check.reason
    assert "baseline.value * factor_fail (1.25)" in check.reason
    assert check.baseline is not None
    assert check.baseline.value == 200.0
    assert check.baseline.change == 100.0
    assert check.baseline.relative_change == pytest.approx(0.5)
    assert (check.baseline.missing, check.baseline.same_query) == ("", True)


def test_a_reduced_check_compares_with_the_check_value_of_the_baseline(
        policy: Policy, last: Baseline) -> None:
    # errors: series max; the baseline's max was 0.02, twice that is 0.04.
    checks = by_id(judge(policy, answers(LAST_RELEASE, errors=(0.039, 0.01)), last))
    assert checks["errors"].status == "pass"
    checks = by_id(judge(policy, answers(LAST_RELEASE, errors=(0.041, 0.01)), last))
    assert checks["errors"].status == "fail"
    assert checks["errors"].baseline is not None
    assert checks["errors"].baseline.value == 0.02


def test_without_a_baseline_a_relative_rule_is_no_baseline_and_the_verdict_fails(
        policy: Policy) -> None:
    checks = by_id(judge(policy, answers(LAST_RELEASE), None))
    assert checks["p99"].status == "no_baseline"
    assert checks["errors"].status == "no_baseline"
    assert NO_BASELINE_GIVEN in checks["p99"].reason
    assert checks["p99"].reason.startswith("p99 no_baseline: fail rule ")
    assert checks["requests"].status == "pass"  # reads no baseline: judged as always
    assert checks["requests"].baseline is None
    assert verdict(tuple(checks.values())) == "fail"
    assert EXIT_CODES[verdict(tuple(checks.values()))] == 1


def test_a_rule_that_decides_without_the_baseline_still_decides(policy: Policy) -> None:
    # value >= p99_max or ...: an absolute bound needs no baseline.
    checks = by_id(judge(policy, answers({"api": 1200.0}), None))
    assert checks["p99"].status == "fail"
    assert "matched fail rule" in checks["p99"].reason


def test_a_series_the_last_release_did_not_have_is_no_baseline(policy: Policy,
                                                               last: Baseline) -> None:
    check = by_id(judge(policy, answers({"api": 300.0, "search": 10.0}), last))["p99"]
    assert check.status == "no_baseline"
    assert "the baseline has no series with these labels (service=search)" in check.reason
    statuses = {s.labels["service"]: (s.status, s.baseline) for s in check.series}
    assert statuses == {"api": ("pass", 300.0), "search": ("no_baseline", None)}


@pytest.mark.parametrize(("value", "why"), [
    pytest.param(None, "missing", id="a baseline check without a value"),
    pytest.param(math.nan, "not a finite number", id="a NaN baseline"),
])
def test_a_baseline_value_that_is_not_a_number_is_no_baseline(
        policy: Policy, last: Baseline, value: float | None, why: str) -> None:
    errors = last.checks["errors"]
    broken = Baseline(**{**last.__dict__, "checks": {
        **last.checks, "errors": type(errors)(value, errors.series, errors.query)}})
    check = by_id(judge(policy, answers(LAST_RELEASE), broken))["errors"]
    assert check.status == "no_baseline"
    assert why in check.reason


def test_a_baseline_without_the_check_says_so(policy: Policy, last: Baseline) -> None:
    partial = Baseline(**{**last.__dict__, "checks": {"requests": last.checks["requests"]}})
    check = by_id(judge(policy, answers(LAST_RELEASE), partial))["errors"]
    assert check.status == "no_baseline"
    assert "the baseline (last/results.json) has no check 'errors'" in check.reason


def test_a_baseline_measured_with_another_query_is_flagged(policy: Policy,
                                                           last: Baseline) -> None:
    requests = last.checks["requests"]
    moved = Baseline(**{**last.__dict__, "checks": {
        **last.checks, "requests": type(requests)(requests.value, requests.series, "other")}})
    check = by_id(judge(policy, answers(LAST_RELEASE), moved))["requests"]
    assert check.baseline is not None
    assert check.baseline.same_query is False


# --- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "message"), [
    pytest.param("value > baseline.mean", "baseline has no key 'mean': read baseline.value",
                 id="another key"),
    pytest.param("value > baseline", "baseline is read only as baseline.value", id="bare"),
])
def test_validation_allows_only_baseline_value(tmp_path: Path, rule: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("fail: value > baseline.value * 2", f"fail: {rule}"))
    _, problems = check_policy_file(str(path))
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.path, message in p.message) for p in errors] == [("checks[1].fail", True)]
    assert errors[0].line == 22


def test_a_param_may_not_be_called_baseline(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("  p99_max: 1000\n", "  p99_max: 1000\n  baseline: 5\n"))
    _, problems = check_policy_file(str(path))
    assert any("'baseline' shadows a built-in name" in p.message for p in problems)


# --- the results document and what reads it --------------------------------------


def test_the_results_record_the_baseline_and_validate(policy: Policy, last: Baseline) -> None:
    document = document_of(policy, answers({"api": 390.0, "web": 200.0}), last)
    jsonschema.validate(document, RESULTS_SCHEMA)
    assert document["baseline"] == {
        "path": "last/results.json", "results_sha256": "0" * 64, "manifest_sha256": None,
        # The last release had no baseline itself: its relative checks were no_baseline.
        "status": "fail", "policy": "relative",
        "window": {"start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z"}}
    p99 = next(c for c in document["checks"] if c["id"] == "p99")
    assert p99["baseline"] == {"value": 300.0, "change": 90.0, "relative_change": 0.3,
                               "missing": "", "same_query": True}
    assert [s["baseline"] for s in p99["series"]] == [300.0, 200.0]
    assert document["summary"]["no_baseline"] == 0


def test_a_run_without_a_baseline_records_why_and_counts_no_baseline(policy: Policy) -> None:
    document = document_of(policy, answers(LAST_RELEASE))
    jsonschema.validate(document, RESULTS_SCHEMA)
    assert "baseline" not in document
    assert document["summary"]["no_baseline"] == 2
    p99 = next(c for c in document["checks"] if c["id"] == "p99")
    assert p99["baseline"]["value"] is None
    assert p99["baseline"]["missing"] == NO_BASELINE_GIVEN
    requests = next(c for c in document["checks"] if c["id"] == "requests")
    assert "baseline" not in requests


def test_junit_and_ci_outputs_count_no_baseline_as_failing(policy: Policy) -> None:
    document = document_of(policy, answers(LAST_RELEASE))
    suite = next(iter(JUnitXml.fromstring(junit_xml(document).decode())))
    cases = {case.name: case for case in suite}
    assert [type(r) for r in cases["p99"].result] == [Error]
    assert "no_baseline" in cases["p99"].result[0].message
    summary = RunSummary(document, 1, "results.json")
    assert summary.failing_checks() == ["p99", "errors"]


def test_the_reports_show_both_values_and_the_change(tmp_path: Path, policy: Policy,
                                                     last: Baseline) -> None:
    document = document_of(policy, answers({"api": 390.0, "web": 200.0}), last)
    out = tmp_path / "package"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(document))
    write_package(document, str(out / "results.json"), str(out),
                  PackageOptions(policy_path=policy.path, pdf=False, tarball=False))
    report = (out / "report.md").read_text()
    assert "## Compared with the baseline" in report
    assert "| `p99` | ❌ FAIL | 390.00 ms | 300.00 ms | +30.0 % |" in report
    assert "| Baseline | `last/results.json`" in report
    ga_day = (out / "GA_DAY_REPORT.md").read_text()
    assert "| `p99` | ❌ FAIL | 390.00 ms | 300.00 ms | +30.0 % |" in ga_day
    assert "a results.json on its own (not verified)" in ga_day


# --- re-grading ---------------------------------------------------------------------


def test_a_regrade_judges_with_the_baseline_the_run_recorded(tmp_path: Path, policy: Policy,
                                                              last: Baseline) -> None:
    document = document_of(policy, answers({"api": 390.0, "web": 200.0}), last)
    assert stored_baseline(document) is not None
    looser = write_policy(tmp_path / "looser.yaml", POLICY.replace("factor_fail: 1.25",
                                                                   "factor_fail: 1.5"))
    regraded = regrade(document, looser, {name: p.default for name, p in looser.params.items()})
    checks = by_id(regraded.run.checks)
    assert checks["p99"].status == "warn"  # 390 > 300 * 1.10, no longer > 300 * 1.5
    assert checks["p99"].baseline is not None
    assert checks["p99"].baseline.value == 300.0
    assert regraded.run.baseline is not None
    assert regraded.run.baseline.path == "last/results.json"
    assert [c.check for c in regraded.changes if c.flipped] == ["p99"]


def test_a_regrade_of_a_run_without_a_baseline_stays_no_baseline(policy: Policy) -> None:
    document = document_of(policy, answers(LAST_RELEASE))
    regraded = regrade(document, policy, {name: p.default for name, p in policy.params.items()})
    assert by_id(regraded.run.checks)["p99"].status == "no_baseline"
    assert regraded.run.status == "fail"


# --- reading a baseline file ---------------------------------------------------------


def test_a_file_that_is_not_results_is_refused_as_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"checks": []}')
    with pytest.raises(UsageError, match=r"--baseline: .*notes.json: not a gacert results"):
        read_baseline(str(path))


def test_a_lone_results_file_is_read_unverified(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document_of(policy, answers(LAST_RELEASE))))
    baseline = read_baseline(str(path))
    assert baseline.manifest_sha256 is None
    assert baseline.checks["p99"].series


# --- the policy tests ------------------------------------------------------------------


def gacert(*args: str, env: dict[str, str] | None = None,
           cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=cwd,
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_the_example_policy_tests_pass() -> None:
    proc = gacert("test", "examples/baseline.tests.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 tests passed" in proc.stdout


def test_a_wrong_expectation_about_a_baseline_fails_with_expected_and_got(
        tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "baseline.yaml", tmp_path / "baseline.yaml")
    text = (ROOT / "examples" / "baseline.tests.yaml").read_text()
    wrong = text.replace("checks: {p99_latency: no_baseline}", "checks: {p99_latency: pass}")
    assert wrong != text
    (tmp_path / "baseline.tests.yaml").write_text(wrong)
    proc = gacert("test", "baseline.tests.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert "p99_latency: expected PASS, got NO_BASELINE" in proc.stdout
    assert "the baseline has no series with these labels (service=search)" in proc.stdout


# --- the CLI against the real Prometheus ---------------------------------------------------

EXAMPLE = ROOT / "examples" / "baseline.yaml"


def day(name: str) -> tuple[str, str]:
    start, end = scenario_window(name)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}"


def run_example(prometheus: PrometheusServer, out: Path, window: tuple[str, str],
                *args: str) -> subprocess.CompletedProcess[str]:
    return gacert("run", str(EXAMPLE), "--start", window[0], "--end", window[1], "-o", str(out),
                  "--no-pdf", *args, env={"PROMETHEUS_URL": prometheus.url})


@pytest.fixture(scope="module")
def last_release(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package of the clean day: the last release's evidence."""
    out = tmp_path_factory.mktemp("baseline") / "clean"
    proc = run_example(prometheus, out, day("clean"), "-q")
    # Without a baseline the relative checks are no_baseline: the verdict fails.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 no baseline" in proc.stdout
    return out


@pytest.mark.prometheus
def test_a_latency_spike_fails_against_the_last_release(prometheus: PrometheusServer,
                                                        last_release: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "spike"
    # The absolute bound lifted: the relative criterion alone must catch the spike.
    proc = run_example(prometheus, out, day("latency_spike"), "--baseline",
                       str(last_release.with_suffix(".tar.gz")),
                       "--set", "p99_latency_ms_max=1000000")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    document = json.loads((out / "results.json").read_text())
    p99 = next(c for c in document["checks"] if c["id"] == "p99_latency")
    assert p99["status"] == "fail"
    assert "(service=dashboard-api)" in p99["reason"]
    assert p99["baseline"]["relative_change"] > 5  # 2,492.5 ms against 302.6 ms
    others = [s for s in p99["series"] if s["labels"]["service"] != "dashboard-api"]
    assert len(others) == 3
    assert all(abs(s["value"] / s["baseline"] - 1) < 0.1 for s in others)
    assert document["baseline"]["manifest_sha256"] is not None  # the package verified
    metadata = json.loads((out / "certification_metadata.json").read_text())
    assert metadata["baseline"] == document["baseline"]
    assert "baseline 302.6 ms, +723.6 %" in proc.stdout
    assert "| `p99_latency` | ❌ FAIL | 2,492.5 ms | 302.6 ms | +723.6 % |" in \
        (out / "report.md").read_text()
    assert gacert("verify", str(out)).returncode == 0


@pytest.mark.prometheus
def test_a_clean_day_passes_against_a_clean_last_release(prometheus: PrometheusServer,
                                                         last_release: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "next"
    proc = run_example(prometheus, out, ("2025-01-14T00:00:00Z", "2025-01-15T00:00:00Z"),
                       "--baseline", str(last_release / "results.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout


@pytest.mark.prometheus
def test_a_tampered_last_release_is_refused(prometheus: PrometheusServer, last_release: Path,
                                            tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(last_release, copy)
    results = copy / "results.json"
    results.write_text(results.read_text().replace('"status": "fail"', '"status": "pass"', 1))
    proc = run_example(prometheus, tmp_path / "out", day("clean"), "--baseline", str(copy))
    assert proc.returncode == 2
    assert "the package does not verify" in proc.stderr
    assert "a comparison with changed results would certify nothing" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.prometheus
def test_regrading_against_another_baseline(prometheus: PrometheusServer, last_release: Path,
                                            tmp_path: Path) -> None:
    spike = tmp_path / "spike"
    run_example(prometheus, spike, day("latency_spike"), "--baseline", str(last_release),
                "--set", "p99_latency_ms_max=1000000")
    # Against itself the spike is no regression: the P99 check passes.
    out = tmp_path / "regraded"
    proc = gacert("regrade", str(spike), "--policy", str(EXAMPLE), "-o", str(out), "--no-pdf",
                  "--set", "p99_latency_ms_max=1000000", "--baseline", str(spike))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    regraded = json.loads((out / "results.json").read_text())
    assert [c["status"] for c in regraded["checks"]] == ["pass", "pass", "pass"]
    assert regraded["baseline"]["window"]["start"] == day("latency_spike")[0]
    assert gacert("verify", str(out)).returncode == 0


@pytest.mark.prometheus
def test_a_watch_compares_every_snapshot_with_the_baseline(prometheus: PrometheusServer,
                                                           last_release: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "watch"
    prepared = prepare(WatchOptions(
        policy_path=str(EXAMPLE), output_dir=str(out), start="2025-01-18T04:00:00Z",
        end="2025-01-18T08:00:00Z", interval="20m", speed=1800.0,
        overrides=("p99_latency_ms_max=1000000",), environ={"PROMETHEUS_URL": prometheus.url},
        package=PackageOptions(pdf=False, tarball=False), baseline=str(last_release)))
    result = watch(prepared, threading.Event())
    snapshots = [json.loads(p.read_text()) for p in sorted((out / "snapshots").glob("*.json"))]
    assert len(snapshots) >= 2
    assert all(s["baseline"]["path"] == str(last_release) for s in snapshots)
    # Before the spike (06:00) the P99 is the last release's; after it, a regression.
    first = next(c for c in snapshots[0]["checks"] if c["id"] == "p99_latency")
    assert first["status"] == "pass"
    assert result.document is not None
    final = next(c for c in result.document["checks"] if c["id"] == "p99_latency")
    assert final["status"] == "fail"
    assert (final["baseline"]["relative_change"] or 0) > 5
    assert verify(str(out / "package")).ok
