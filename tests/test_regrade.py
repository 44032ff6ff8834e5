"""`gacert regrade`: stored evidence judged by an edited policy, nothing fetched.

The unit tests make results documents the way a run does (the engine's
evaluator on series and probe measurements, then `to_document`) and re-grade
them with edited copies of the policy. The acceptance tests at the end run
the shipped policy against the real test Prometheus, then re-grade its package.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sample_results import RESULTS_SCHEMA

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers
from gacert.document import OverrideDocument, ResultsDocument
from gacert.engine.evaluate import evaluate_check
from gacert.engine.plan import build_plan
from gacert.engine.regrade import Origin as RegradeOrigin
from gacert.engine.regrade import regrade, regrade_document
from gacert.engine.results import to_document, verdict
from gacert.errors import OutputError, UsageError
from gacert.model import (
    Fetched,
    Outcome,
    ParamValue,
    Policy,
    RunResult,
    Series,
    SourceInfo,
    Timings,
    Window,
)
from gacert.package.build import PackageOptions, write_package
from gacert.package.regrade import RegradeOptions, execute_regrade, read_evidence
from gacert.package.verify import verify
from gacert.policy.load import load_policy

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 1, 15, tzinfo=UTC)
END = datetime(2025, 1, 16, tzinfo=UTC)

POLICY = """\
version: 1
name: unit
params:
  job: {default: tars}
  p99_max: {default: 1000}
  p99_warn: {default: 800}
  reconnects_min: {default: 5}
sources:
  prom: {type: prometheus, url: "http://127.0.0.1:9090"}
  ws: {type: websocket, url: "ws://127.0.0.1:9/ws"}
checks:
  - id: p99
    source: prom
    query: histogram_quantile(0.99, sum by (service, le) (rate(x_bucket{job="$job"}[5m])))
    mode: range
    over_time: max
    unit: ms
    fail: value >= p99_max
    warn: value >= p99_warn
  - id: up
    source: prom
    query: up{job="$job"}
    pass: value == 1
  - id: ws_success
    source: ws
    query: success_rate
    pass: value >= 95 and reconnects.total >= reconnects_min
  - id: ws_jitter
    source: ws
    query: jitter.avg
    warn: value >= 2000
  - id: cache
    source: prom
    query: sum(cache_hits{job="$job"})
    pass: value >= 95
  - id: down
    source: prom
    query: sum(broken{job="$job"})
    pass: value >= 0
"""

MEASURED = {"success_rate": 100.0, "reconnects": {"total": 6, "succeeded": 6},
            "jitter": {"avg": math.nan}, "latency": {"max": math.inf}}


def write_policy(path: Path, text: str = POLICY, *edits: tuple[str, str]) -> Policy:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return load_policy(str(path))


def ranged(values: list[float], **labels: str) -> Series:
    start = START.timestamp()
    return Series(labels, tuple((start + 60 * i, v) for i, v in enumerate(values)))


def outcomes() -> dict[str, Outcome]:
    at = END.timestamp()
    measured = Fetched((Series({}, ((at, 100.0),)),), measurements=MEASURED,
                       evidence={"samples": [1, 2]})
    return {
        "p99": Outcome(Fetched((ranged([300, 850, 400], service="api"),
                                ranged([200, 250, math.nan], service="web"))), None, 0.5),
        "up": Outcome(Fetched((Series({"instance": "a"}, ((at, 1.0),)),
                               Series({"instance": "b"}, ((at, 1.0),)))), None, 0.1),
        "ws_success": Outcome(measured, None, 2.0),
        "ws_jitter": Outcome(Fetched((), measurements=MEASURED), None, 2.0),
        "cache": Outcome(Fetched(()), None, 0.1),
        "down": Outcome(None, "prometheus source 'prom': connection refused", 0.2),
    }


def run_document(policy: Policy, params: dict[str, ParamValue] | None = None
                 ) -> ResultsDocument:
    """The results document a run of `policy` over these outcomes writes."""
    params = params or {name: p.default for name, p in policy.params.items()}
    plan = build_plan(policy, Window(START, END, 60.0, 15.0), params)
    found = outcomes()
    checks = tuple(evaluate_check(p.check, p.query.text, found[p.check.id], params)
                   for p in plan.checks)
    run = RunResult(verdict(checks), policy, plan.window, params,
                    (SourceInfo("prom", "prometheus", "http://127.0.0.1:9090"),
                     SourceInfo("ws", "websocket", "ws://127.0.0.1:9/ws")),
                    Timings("2025-01-16T00:05:00Z", "2025-01-16T00:05:03Z", 3.0, 2.5), checks)
    document: ResultsDocument = json.loads(json.dumps(to_document(run), allow_nan=False))
    return document


def defaults(policy: Policy) -> dict[str, ParamValue]:
    return {name: p.default for name, p in policy.params.items()}


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in document["checks"]}


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Policy, ResultsDocument]:
    policy = write_policy(tmp_path / "policy.yaml")
    return policy, run_document(policy)


# --- the engine ----------------------------------------------------------------------------


def test_the_same_policy_gives_the_same_results(origin: tuple[Policy, ResultsDocument]
                                                ) -> None:
    policy, document = origin
    regraded = regrade(document, policy, defaults(policy))
    again = json.loads(json.dumps(to_document(regraded.run), allow_nan=False))
    for key in ("status", "window", "params", "sources", "timings", "summary"):
        assert again[key] == document[key], key
    for old, new in zip(document["checks"], again["checks"], strict=True):
        assert new == old, old["id"]
    assert regraded.changes == ()


def test_a_tightened_param_flips_the_check_and_names_the_param(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    _, document = origin
    tight = write_policy(tmp_path / "tight.yaml", POLICY,
                         ("p99_max: {default: 1000}", "p99_max: {default: 850}"))
    regraded = regrade(document, tight, defaults(tight))
    assert regraded.run.status == document["status"] == "fail"  # cache has no data
    (change,) = regraded.changes
    assert (change.check, change.old_status, change.new_status) == ("p99", "warn", "fail")
    assert change.old_value == change.new_value == 850.0
    assert [(c.field, c.old, c.new) for c in change.changes] == [("param p99_max", "1000", "850")]
    p99 = next(c for c in regraded.run.checks if c.id == "p99")
    assert p99.reason == ("p99 fail: 850.00 ms (service=api) matched fail rule value >= "
                          "p99_max (850 ms)")
    # The range check keeps every series' points over the window, as the run stored them.
    assert p99.mode == "range"
    assert p99.over_time == "max"
    assert next(s.points for s in p99.series) == tuple(
        (t, v) for t, v in outcomes()["p99"].fetched.series[0].points)  # type: ignore[union-attr]


def test_a_changed_rule_text_is_named_and_the_across_series_reduction_re_judged(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    _, document = origin
    edited = write_policy(tmp_path / "edited.yaml", POLICY,
                          ("    query: up{job=\"$job\"}\n    pass: value == 1",
                           "    query: up{job=\"$job\"}\n    series: sum\n    pass: value >= 3"))
    (change,) = regrade(document, edited, defaults(edited)).changes
    assert (change.check, change.old_status, change.new_status) == ("up", "pass", "fail")
    assert (change.old_value, change.new_value) == (1.0, 2.0)
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("rule pass", "value == 1", "value >= 3"), ("series", "each", "sum")]


def test_a_probe_rule_reads_the_stored_measurements(tmp_path: Path,
                                                     origin: tuple[Policy, ResultsDocument]
                                                     ) -> None:
    _, document = origin
    edited = write_policy(tmp_path / "edited.yaml", POLICY,
                          ("reconnects_min: {default: 5}", "reconnects_min: {default: 10}"))
    regraded = regrade(document, edited, defaults(edited))
    (change,) = regraded.changes
    assert (change.check, change.old_status, change.new_status) == ("ws_success", "pass", "fail")
    ws = next(c for c in regraded.run.checks if c.id == "ws_success")
    # NaN and infinities come back as the numbers they were, not as strings.
    assert math.isnan(ws.measurements["jitter"]["avg"])
    assert ws.measurements["latency"]["max"] == math.inf
    assert ws.evidence == {"samples": [1, 2]}


def test_no_data_is_judged_again_with_the_new_no_data_setting(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    _, document = origin
    edited = write_policy(tmp_path / "edited.yaml", POLICY,
                          ("    pass: value >= 95\n", "    pass: value >= 95\n    no_data: warn\n"))
    (change,) = regrade(document, edited, defaults(edited)).changes
    assert (change.check, change.old_status, change.new_status) == ("cache", "no_data", "warn")
    assert [(c.field, c.old, c.new) for c in change.changes] == [("no_data", "no_data", "warn")]


def test_a_source_error_stays_an_error_with_its_message(origin: tuple[Policy, ResultsDocument]
                                                        ) -> None:
    policy, document = origin
    down = next(c for c in regrade(document, policy, defaults(policy)).run.checks
                if c.id == "down")
    assert down.status == "error"
    assert down.error == "prometheus source 'prom': connection refused"


@pytest.mark.parametrize(("edit", "why"), [
    pytest.param(("query: up{job=\"$job\"}", "query: up{job=\"$job\", instance!=\"\"}"),
                 "its query changed", id="a changed query is not re-gradable"),
    pytest.param(("    query: up{job=\"$job\"}\n", "    query: up{job=\"$job\"}\n    mode: range\n"
                  "    over_time: min\n"),
                 "its mode changed (instant -> range, min over time)",
                 id="a changed mode is not re-gradable"),
    pytest.param(("  - id: up\n    source: prom", "  - id: up\n    source: prom2"),
                 "its source changed (prom -> prom2)", id="a changed source is not re-gradable"),
])
def test_a_check_whose_evidence_would_differ_is_an_error_that_says_why(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument], edit: tuple[str, str],
        why: str) -> None:
    _, document = origin
    text = POLICY.replace("sources:\n", "sources:\n  prom2: {type: prometheus, url: "
                          "\"http://127.0.0.1:9091\"}\n")
    edited = write_policy(tmp_path / "edited.yaml", text, edit)
    regraded = regrade(document, edited, defaults(edited))
    up = next(c for c in regraded.run.checks if c.id == "up")
    assert up.status == "error"
    assert up.value is None
    assert up.series == ()
    assert up.reason == (f"up error: not re-gradable: {why}; run the policy again to "
                         "measure it")
    (change,) = regraded.changes
    assert (change.regradable, change.note, change.new_status) == (False, why, "error")
    # A gate check that cannot be judged never lets the verdict pass.
    assert regraded.run.status in ("error", "fail")


def test_a_param_in_the_query_that_differs_from_the_run_says_which_set_to_give(
        origin: tuple[Policy, ResultsDocument]) -> None:
    policy, document = origin
    regraded = regrade(document, policy, {**defaults(policy), "job": "other"})
    notes = {c.check: c.note for c in regraded.changes}
    assert notes["up"] == ("its query changed (the run had job=tars: give --set job=tars "
                           "to judge the series it measured)")
    # Probe checks read measurements, not a query with params: they are judged still.
    assert "ws_success" not in notes


def test_added_and_removed_checks_are_listed_and_a_new_check_never_passes(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    _, document = origin
    text = POLICY.replace("  - id: cache\n", "  - id: cache_new\n")
    edited = write_policy(tmp_path / "edited.yaml", text)
    regraded = regrade(document, edited, defaults(edited))
    rows = {c.check: (c.old_status, c.new_status, c.note) for c in regraded.changes}
    assert rows["cache_new"] == (None, "error", "a new check: the results hold no evidence "
                                                "for it")
    assert rows["cache"] == ("no_data", None, "removed from the policy")


def test_the_regrade_document_validates_and_names_its_origin(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    _, document = origin
    tight = write_policy(tmp_path / "tight.yaml", POLICY,
                         ("p99_max: {default: 1000}", "p99_max: {default: 850}"))
    regraded = regrade(document, tight, {**defaults(tight), "p99_warn": 700})
    made = regrade_document(regraded, RegradeOrigin("in/results.json", "a" * 64, None),
                            document, {"p99_warn": 700})
    jsonschema.validate(made, RESULTS_SCHEMA)
    record = made["regrade"]
    assert record["origin"] == {"path": "in/results.json", "results_sha256": "a" * 64,
                                "manifest_sha256": None, "status": "fail",
                                "gacert_version": document["gacert_version"],
                                "policy": {"name": "unit", "sha256": document["policy"]["sha256"],
                                           "path": document["policy"]["path"]}}
    assert record["overrides"] == {"p99_warn": 700}
    assert record["summary"] == {"changed": 1, "flipped": 1, "not_regradable": 0, "added": 0,
                                 "removed": 0}
    assert made["policy"]["sha256"] == tight.sha256
    assert made["timings"] == document["timings"]  # when the evidence was collected


# --- the package stage ------------------------------------------------------------------------


@pytest.fixture
def packaged(tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> Path:
    policy, document = origin
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(document, indent=2))
    write_package(document, str(out / "results.json"), str(out),
                  PackageOptions(policy_path=policy.path, pdf=False))
    return out


def regrade_options(results: Path, policy: Path, out: Path, *overrides: str) -> RegradeOptions:
    return RegradeOptions(str(results), str(policy), str(out), overrides,
                          PackageOptions(pdf=False))


@pytest.mark.parametrize("given", ["directory", "tarball", "results.json"])
def test_a_package_is_verified_and_named_by_its_manifest(packaged: Path, given: str) -> None:
    path = {"directory": packaged, "tarball": packaged.with_suffix(".tar.gz"),
            "results.json": packaged / "results.json"}[given]
    evidence = read_evidence(str(path))
    assert evidence.origin.results_sha256 == hashlib.sha256(
        (packaged / "results.json").read_bytes()).hexdigest()
    assert evidence.origin.manifest_sha256 == hashlib.sha256(
        (packaged / "MANIFEST.sha256").read_bytes()).hexdigest()


def test_a_results_file_outside_a_package_is_read_unverified(tmp_path: Path,
                                                             packaged: Path) -> None:
    alone = tmp_path / "alone.json"
    alone.write_bytes((packaged / "results.json").read_bytes())
    assert read_evidence(str(alone)).origin.manifest_sha256 is None


@pytest.mark.parametrize("given", ["directory", "results.json"])
def test_a_tampered_package_is_refused(packaged: Path, given: str) -> None:
    report = packaged / "report.md"
    report.write_text(report.read_text() + "\nall fine, trust me\n")
    path = packaged if given == "directory" else packaged / "results.json"
    with pytest.raises(OutputError, match=r"does not verify \(changed: report\.md"):
        read_evidence(str(path))


def test_regrade_writes_a_package_that_verifies_and_shows_the_diff(
        tmp_path: Path, packaged: Path) -> None:
    tight = tmp_path / "tight.yaml"
    write_policy(tight, POLICY, ("p99_max: {default: 1000}", "p99_max: {default: 850}"))
    out = tmp_path / "regraded"
    result = execute_regrade(regrade_options(packaged.with_suffix(".tar.gz"), tight, out,
                                             "p99_warn=700"))
    assert verify(str(out)).ok
    assert verify(str(out) + ".tar.gz").ok
    assert result.document["params"]["p99_warn"] == 700
    diff = (out / "REGRADE_DIFF.md").read_text()
    assert "| **`p99`** | ⚠️ WARN 850.00 ms | ❌ FAIL 850.00 ms | param p99_max: 1000 → 850" \
        in diff.replace("<br>", "\n")
    digest = hashlib.sha256((packaged / "results.json").read_bytes()).hexdigest()
    for report in ("report.md", "GA_DAY_REPORT.md", "REGRADE_DIFF.md"):
        assert digest in (out / report).read_text(), report
    metadata = json.loads((out / "certification_metadata.json").read_text())
    assert metadata["regrade_of"]["results_sha256"] == digest


def test_regrade_is_reproducible_and_render_remakes_it(tmp_path: Path, packaged: Path) -> None:
    tight = tmp_path / "tight.yaml"
    write_policy(tight, POLICY, ("p99_max: {default: 1000}", "p99_max: {default: 850}"))
    for name in ("one", "two"):
        execute_regrade(regrade_options(packaged, tight, tmp_path / name))
    one, two = (tmp_path / "one.tar.gz").read_bytes(), (tmp_path / "two.tar.gz").read_bytes()
    assert one == two
    proc = subprocess.run([sys.executable, "-m", "gacert", "render",
                           str(tmp_path / "one" / "results.json"), "-o", str(tmp_path / "three"),
                           "--no-pdf", "-q"], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "three.tar.gz").read_bytes() == one


def test_regrade_never_writes_over_the_evidence(tmp_path: Path, packaged: Path) -> None:
    with pytest.raises(UsageError, match="the evidence being re-graded is there"):
        execute_regrade(regrade_options(packaged, tmp_path / "policy.yaml", packaged))
    assert verify(str(packaged)).ok


def test_diff_with_evidence_compares_the_two_policies_not_the_stored_statuses(
        tmp_path: Path, packaged: Path) -> None:
    # The evidence was judged with p99_warn 800 (warn at 850 ms). OLD raises the warning
    # bound (850 ms passes), NEW lowers the failure bound (850 ms fails): pass -> fail.
    old = tmp_path / "old.yaml"
    write_policy(old, POLICY, ("p99_warn: {default: 800}", "p99_warn: {default: 900}"))
    new = tmp_path / "new.yaml"
    write_policy(new, POLICY, ("p99_warn: {default: 800}", "p99_warn: {default: 900}"),
                 ("p99_max: {default: 1000}", "p99_max: {default: 800}"))
    proc = gacert("diff", str(old), str(new), "--evidence", str(packaged), "--format", "json",
                  "--exit-code")
    assert proc.returncode == 1  # a status flips
    evidence = json.loads(proc.stdout)["evidence"]
    assert (evidence["recorded_status"], evidence["old_status"], evidence["new_status"]) == \
        ("fail", "fail", "fail")
    (change,) = evidence["changes"]
    assert (change["check"], change["old"]["status"], change["new"]["status"]) == \
        ("p99", "pass", "fail")
    assert change["changes"] == [{"field": "param p99_max", "old": "1000", "new": "800"}]


# --- the CLI against the real Prometheus -----------------------------------------------------

GA_POLICY = ROOT / "policies" / "ga.yaml"
SHORT_PROBES = {"TARS_WS_ITERATIONS": "5", "TARS_WS_INTERVAL": "20ms",
                "TARS_DASHBOARD_REQUESTS": "5"}


def gacert(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=ROOT,
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def clean_run(prometheus: PrometheusServer, demo_servers: DemoServers,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of the shipped policy over the clean GA day of the test dataset."""
    start, end = scenario_window("clean")
    out = tmp_path_factory.mktemp("regrade") / "clean"
    proc = gacert("run", str(GA_POLICY), "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}", "--end",
                  f"{end:%Y-%m-%dT%H:%M:%SZ}", "-o", str(out), "--no-pdf", "-q",
                  env={**demo_servers.environ(), **SHORT_PROBES, "PROMETHEUS_URL": prometheus.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def tightened(directory: Path, results: dict[str, Any]) -> Path:
    """ga.yaml with the P99 bounds just under the clean day's worst P99."""
    worst = by_id(results)["p99_latency"]["value"]
    text = GA_POLICY.read_text().replace(
        "p99_latency_ms_max:\n    default: 1000", f"p99_latency_ms_max:\n    default: {int(worst)}"
    ).replace("p99_latency_ms_warn:\n    default: 800",
              f"p99_latency_ms_warn:\n    default: {int(worst) - 50}")
    path = directory / "ga-tight.yaml"
    path.write_text(text)
    return path


@pytest.mark.prometheus
def test_regrading_a_demo_package_with_a_tightened_threshold(clean_run: Path,
                                                             tmp_path: Path) -> None:
    results = json.loads((clean_run / "results.json").read_text())
    policy = tightened(tmp_path, results)
    out = tmp_path / "regraded"
    proc = gacert("regrade", str(clean_run.with_suffix(".tar.gz")), "--policy", str(policy),
                  "-o", str(out), "--no-pdf")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # as run: the verdict is FAIL
    assert "verdict: PASS -> FAIL" in proc.stdout
    flipped = [line for line in proc.stdout.splitlines() if line.startswith("* ")]
    assert [line.split()[1] for line in flipped] == ["p99_latency"]
    assert "param p99_latency_ms_max: 1000 -> " in flipped[0]
    # Every other check keeps its status and value: the evidence is the same.
    regraded = json.loads((out / "results.json").read_text())
    before, after = by_id(results), by_id(regraded)
    assert {k: (v["status"], v["value"]) for k, v in after.items() if k != "p99_latency"} == \
        {k: (v["status"], v["value"]) for k, v in before.items() if k != "p99_latency"}
    assert after["p99_latency"]["status"] == "fail"
    assert after["p99_latency"]["value"] == before["p99_latency"]["value"]
    assert [s["points"] for s in after["p99_latency"]["series"]] == \
        [s["points"] for s in before["p99_latency"]["series"]]
    # The package verifies and names its origin.
    assert gacert("verify", str(out)).returncode == 0
    assert gacert("verify", str(out) + ".tar.gz").returncode == 0
    origin = regraded["regrade"]["origin"]
    assert origin["results_sha256"] == hashlib.sha256(
        (clean_run / "results.json").read_bytes()).hexdigest()
    assert origin["manifest_sha256"] == hashlib.sha256(
        (clean_run / "MANIFEST.sha256").read_bytes()).hexdigest()
    assert (origin["status"], regraded["status"]) == ("pass", "fail")
    assert "`p99_latency`" in (out / "REGRADE_DIFF.md").read_text()
    assert origin["results_sha256"] in (out / "GA_DAY_REPORT.html").read_text()


@pytest.mark.prometheus
def test_diff_with_the_demo_evidence_names_the_flip(clean_run: Path, tmp_path: Path) -> None:
    results = json.loads((clean_run / "results.json").read_text())
    policy = tightened(tmp_path, results)
    proc = gacert("diff", str(GA_POLICY), str(policy), "--evidence", str(clean_run),
                  "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    assert "**Verdict: ✅ PASS → ❌ FAIL**" in proc.stdout
    assert "| **`p99_latency`** | ✅ PASS" in proc.stdout
    assert "| `p99_latency_ms_max` | 1000 |" in proc.stdout


@pytest.mark.prometheus
def test_a_tampered_demo_package_is_not_regraded(clean_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(clean_run, copy)
    (copy / "results.json").write_text((copy / "results.json").read_text().replace(
        '"status": "pass"', '"status": "fail"', 1))
    proc = gacert("regrade", str(copy), "--policy", str(GA_POLICY), "-o", str(tmp_path / "r"))
    assert proc.returncode == 3
    assert "the package does not verify (changed: results.json" in proc.stderr
    assert not (tmp_path / "r").exists()


# --- evidence coverage and overrides in a re-grade -----------------------------------------

HALF_COVERED = {
    "method": "selectors", "note": "measured on the series the query reads",
    "start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z", "share": 0.5,
    "largest_gap": {"start": "2025-01-15T00:00:00Z", "end": "2025-01-15T12:00:00Z",
                    "seconds": 43200.0},
    "gaps": [{"start": "2025-01-15T00:00:00Z", "end": "2025-01-15T12:00:00Z",
              "seconds": 43200.0}],
    "gap_count": 1, "min": 0.95, "max_gap_seconds": 900.0, "sufficient": False,
    "query": 'count(up{job="tars"})'}


def test_a_regrade_judges_the_stored_coverage_with_the_policy_as_it_is_now(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    policy, document = origin
    by_id(dict(document))["up"]["coverage"] = HALF_COVERED
    regraded = regrade(document, policy, defaults(policy))
    up = next(c for c in regraded.run.checks if c.id == "up")
    assert up.status == "insufficient"  # a re-grade cannot conjure evidence
    assert "evidence covers 50.0 % of the window" in up.reason
    rule = "    query: up{job=\"$job\"}\n    pass: value == 1\n"
    lenient = write_policy(tmp_path / "lenient.yaml", POLICY,
                           (rule, rule + "    coverage: {min: 0.4, max_gap: 1d}\n"))
    up = next(c for c in regrade(document, lenient, defaults(lenient)).run.checks
              if c.id == "up")
    assert up.status == "pass"


def test_a_regrade_records_its_set_params_and_the_runs_environment(
        tmp_path: Path, origin: tuple[Policy, ResultsDocument]) -> None:
    policy, document = origin
    setting: OverrideDocument = {
        "name": "sources.prom.url", "kind": "setting", "default": "http://localhost:9090",
        "value": "http://127.0.0.1:9090", "origin": "environment PROMETHEUS_URL"}
    document["overrides"] = [setting]
    regraded = to_document(regrade(document, policy, {**defaults(policy), "p99_max": 900}).run)
    assert regraded["overrides"] == [
        setting, {"name": "p99_max", "kind": "param", "default": 1000, "value": 900,
                  "origin": "command line"}]
