"""What CI systems read from a run: JUnit XML, GitHub Actions' step summary,
outputs and annotations, and the JSON of `--format json`.

The shipped policy runs against the real Prometheus on the latency-spike day
(one gate check fails), as GitHub Actions would run it: GITHUB_ACTIONS=true
and the summary and output files given. A policy of `file` checks, which
needs no server, covers every status (fail, warn, error, informational) and
text that must be escaped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ci_support import SHORT_PROBES
from junitparser import Error, Failure, JUnitXml, Skipped

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers
from gacert.publish.commands import command, escape_data, escape_property
from gacert.publish.junit import junit_xml

ROOT = Path(__file__).resolve().parent.parent
GA_POLICY = ROOT / "policies" / "ga.yaml"

EVIDENCE = {"latency": {"p95": 1250.5}, "ok": 0.999, "errors": 3,
            "note": "50% of 'a,b' failed:\r\n::error::forged\x1b[31m"}
FILE_POLICY = """\
version: 1
name: evidence
sources:
  ev: {type: file, path: evidence.json}
checks:
  - id: p95
    source: ev
    query: latency.p95
    unit: ms
    fail: value > 1000
  - id: ok_rate
    source: ev
    query: ok
    warn: value < 0.9999
  - id: errors
    source: ev
    query: errors
    gate: false
    fail: value > 0
  - id: missing
    source: ev
    query: nothing
    pass: value > 0
"""


def gacert(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**environ, **env}, cwd=cwd, check=False)


def github_env(tmp_path: Path, workspace: Path) -> dict[str, str]:
    (tmp_path / "summary.md").write_text("# an earlier step's summary\n", encoding="utf-8")
    (tmp_path / "output.txt").write_text("earlier=kept\n", encoding="utf-8")
    return {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIMITER blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        name, heredoc, delimiter = line.partition("<<")
        if heredoc and "=" not in name:
            value = []
            for item in lines:
                if item == delimiter:
                    break
                value.append(item)
            outputs[name] = "\n".join(value)
        else:
            key, _, value_text = line.partition("=")
            outputs[key] = value_text
    return outputs


def unescape(text: str, *, property_value: bool = False) -> str:
    """What the runner makes of an escaped command part."""
    pairs = [("%0D", "\r"), ("%0A", "\n")] + (
        [("%3A", ":"), ("%2C", ",")] if property_value else [])
    for escaped, plain in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


def policy_line(check_id: str) -> int:
    lines = GA_POLICY.read_text(encoding="utf-8").splitlines()
    return lines.index(f"  - id: {check_id}") + 1


# --- the shipped policy on the latency-spike day, as GitHub Actions runs it --------------


@pytest.fixture(scope="module")
def actions_run(prometheus: PrometheusServer, demo_servers: DemoServers,
                tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[subprocess.CompletedProcess[str], Path]:
    work = tmp_path_factory.mktemp("actions")
    start, end = scenario_window("latency_spike")
    env = {**github_env(work, ROOT), **demo_servers.environ(), **SHORT_PROBES,
           "PROMETHEUS_URL": prometheus.url}
    proc = gacert("run", str(GA_POLICY), "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                  "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "--output", str(work / "package"),
                  "--no-pdf", "--junit", str(work / "junit.xml"), env=env, cwd=work)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, work


@pytest.mark.prometheus
def test_outputs_name_the_verdict_the_failing_checks_and_the_files(
        actions_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, work = actions_run
    assert proc.returncode == 1
    outputs = read_outputs(work / "output.txt")
    assert outputs == {
        "earlier": "kept", "verdict": "fail", "exit_code": "1", "failing_checks": "p99_latency",
        "waived_checks": "",
        "results": str(work / "package" / "results.json"), "package": str(work / "package"),
        "tarball": str(work / "package.tar.gz"),
        "report": str(work / "package" / "GA_DAY_REPORT.html"),
        "junit": str(work / "junit.xml")}
    for name in ("results", "package", "tarball", "report", "junit"):
        assert os.path.exists(outputs[name]), name


@pytest.mark.prometheus
def test_annotations_point_at_the_policy_line_of_each_check_that_needs_attention(
        actions_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, work = actions_run
    commands = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    results = json.loads((work / "package" / "results.json").read_text())
    expected = [c["id"] for c in results["checks"] if c["status"] != "pass"]
    assert expected == ["p99_latency"]
    assert commands == [
        f"::error file=policies/ga.yaml,line={policy_line('p99_latency')},"
        f"title=gacert p99_latency FAIL::{escape_data(results['checks'][2]['reason'])}"]
    assert {c["id"]: c["line"] for c in results["checks"]}["p99_latency"] == \
        policy_line("p99_latency")


@pytest.mark.prometheus
def test_the_step_summary_gives_the_verdict_what_needs_attention_and_the_gate_checks(
        actions_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, work = actions_run
    summary = (work / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# an earlier step's summary\n")  # appended, never replaced
    results = json.loads((work / "package" / "results.json").read_text())
    assert f"## gacert: {results['policy']['report_title']}: ❌ FAIL" in summary
    counts = results["summary"]
    # Every status that fails a verdict is counted, evidence short of the window too.
    assert (f"{counts['fail']} fail, {counts['no_data']} no data, "
            f"{counts['insufficient']} insufficient, {counts['error']} error.") in summary
    attention = summary[summary.index("### Needs attention"):summary.index("### Gate checks")]
    row = r"^\| ❌ FAIL \| Worst service P99 latency \(`p99_latency`\) \| 2,492\.5 ms \| "
    assert re.search(row, attention, re.MULTILINE), attention
    gate_rows = summary[summary.index("### Gate checks"):].splitlines()
    gates = [c for c in results["checks"] if c["gate"]]
    assert len([row for row in gate_rows if row.startswith("| ✅") or row.startswith("| ❌")]) \
        == len(gates)
    assert f"Certification package: {work / 'package'}" in summary.replace("\\", "")


@pytest.mark.prometheus
def test_junit_parses_back_with_one_testcase_per_check(
        actions_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, work = actions_run
    results = json.loads((work / "package" / "results.json").read_text())
    xml = JUnitXml.fromfile(str(work / "junit.xml"))
    (suite,) = list(xml)
    assert suite.name == "tars-ga"
    cases = {case.name: case for case in suite}
    assert list(cases) == [c["id"] for c in results["checks"]]
    informational = [c["id"] for c in results["checks"] if not c["gate"]]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
        len(results["checks"]), 1, 0, len(informational))
    (failure,) = cases["p99_latency"].result
    assert isinstance(failure, Failure)
    assert failure.type == "fail"
    assert "2,492.5 ms" in (failure.message or "")
    out = cases["p99_latency"].system_out or ""
    assert "value: 2,492.5 ms" in out
    assert re.search(r"^rules: .*fail: value >= p99_latency_ms_max", out, re.MULTILINE), out
    assert "query: histogram_quantile(0.99, sum by (service, le)" in out
    assert all(isinstance(r, Skipped) for name in informational for r in cases[name].result)
    assert cases["availability"].is_passed
    properties = suite.properties()  # type: ignore[no-untyped-call]
    assert {p.name: p.value for p in properties}["verdict"] == "fail"


# --- every status, escaping, JSON: a policy of file checks --------------------------------


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    (tmp_path / "evidence.json").write_text(json.dumps(EVIDENCE), encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(FILE_POLICY, encoding="utf-8")
    return tmp_path


def test_format_json_prints_one_stable_object_and_annotations_go_to_stderr(
        evidence: Path) -> None:
    env = github_env(evidence, evidence)
    proc = gacert("run", "policy.yaml", "--duration", "1h", "-o", "out", "--certify-only",
                  "--no-pdf", "--format", "json", env=env, cwd=evidence)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert {k: document[k] for k in ("format_version", "verdict", "exit_code",
                                     "failing_checks", "results", "package", "junit")} == {
        "format_version": 1, "verdict": "fail", "exit_code": 1,
        "failing_checks": ["p95", "missing"], "results": "out/results.json",
        "package": {"directory": "out", "tarball": None,
                    "report": "out/GA_DAY_REPORT.html"}, "junit": None}
    assert [(c["id"], c["status"], c["gate"], c["line"]) for c in document["checks"]] == [
        ("p95", "fail", True, 6), ("ok_rate", "warn", True, 11), ("errors", "fail", False, 15),
        ("missing", "error", True, 20)]
    levels = [line.split(" ")[0] for line in proc.stderr.splitlines() if line.startswith("::")]
    assert levels == ["::error", "::warning", "::notice", "::error"]


def test_fail_on_warn_shows_in_the_exit_code_of_every_output(evidence: Path) -> None:
    policy = (evidence / "policy.yaml").read_text().replace("fail: value > 1000",
                                                           "fail: value > 2000")
    policy = policy.replace("    pass: value > 0\n", "    pass: value > 0\n    gate: false\n")
    (evidence / "policy.yaml").write_text(policy)
    proc = gacert("run", "policy.yaml", "--duration", "1h", "-o", "out", "--certify-only",
                  "--no-pdf", "--format", "json", "--fail-on", "warn",
                  env=github_env(evidence, evidence), cwd=evidence)
    assert proc.returncode == 1
    assert (json.loads(proc.stdout)["verdict"], json.loads(proc.stdout)["exit_code"]) == (
        "warn", 1)
    outputs = read_outputs(evidence / "output.txt")
    assert (outputs["verdict"], outputs["exit_code"], outputs["failing_checks"]) == (
        "warn", "1", "")


def test_outside_github_actions_nothing_github_is_written(evidence: Path) -> None:
    env = {**github_env(evidence, evidence), "GITHUB_ACTIONS": ""}
    proc = gacert("run", "policy.yaml", "--duration", "1h", "-o", "out", "--certify-only",
                  "--no-pdf", "--junit", "reports/junit.xml", env=env, cwd=evidence)
    assert proc.returncode == 1
    assert "::" not in proc.stdout + proc.stderr
    assert (evidence / "output.txt").read_text() == "earlier=kept\n"
    assert (evidence / "summary.md").read_text() == "# an earlier step's summary\n"
    xml = JUnitXml.fromfile(str(evidence / "reports" / "junit.xml"))
    results = {case.name: [type(r) for r in case.result] for suite in xml for case in suite}
    assert results == {"p95": [Failure], "ok_rate": [], "errors": [Skipped],
                       "missing": [Error]}


def test_text_from_data_cannot_end_a_command_early_or_forge_one() -> None:
    message = EVIDENCE["note"]
    assert isinstance(message, str)
    line = command("error", message, file="dir,x/p:1.yaml", line=3, title="a: b, c")
    assert "\n" not in line
    assert "\r" not in line
    head, _, data = line.partition("::")[2].partition("::")
    assert unescape(data) == message
    properties = dict(part.split("=", 1) for part in head.removeprefix("error ").split(","))
    assert {k: unescape(v, property_value=True) for k, v in properties.items()} == {
        "file": "dir,x/p:1.yaml", "line": "3", "title": "a: b, c"}
    assert escape_property("100%:,") == "100%25%3A%2C"


def test_junit_holds_text_that_xml_cannot(evidence: Path) -> None:
    document: Any = {  # a partial document, as an older gacert may have written
        "status": "error", "exit_code": 3, "policy": {"name": "p<&>", "path": "p.yaml"},
        "window": {"start": "a", "end": "b"}, "timings": {},
        "checks": [{"id": "c", "title": "c", "status": "error", "value": None, "unit": "",
                    "reason": "server said \x1b[31mno\x00", "query": "up", "gate": True,
                    "error": "bad \x07 bell", "coverage": 0.5}]}
    path = evidence / "odd.xml"
    path.write_bytes(junit_xml(document))
    (case,) = [case for suite in JUnitXml.fromfile(str(path)) for case in suite]
    (error,) = case.result
    assert isinstance(error, Error)
    assert error.text == "bad \ufffd bell"
    assert "coverage: 50.0%" in (case.system_out or "")


@pytest.mark.parametrize(("status", "kind"), [
    ("pass", None), ("warn", None), ("fail", Failure), ("error", Error),
    ("no_data", Error), ("insufficient", Error)])
def test_junit_counts_every_not_passing_gate_status(evidence: Path, status: str,
                                                    kind: type | None) -> None:
    # The verdict reads fail, error, no_data and insufficient as not-PASS: a CI
    # test viewer must never show one of them as a passing test.
    document: Any = {
        "status": "fail", "exit_code": 1, "policy": {"name": "p", "path": "p.yaml"},
        "window": {"start": "a", "end": "b"}, "timings": {},
        "checks": [{"id": "c", "title": "c", "status": status, "value": 1.0, "unit": "",
                    "reason": f"c {status}", "query": "up", "gate": True}]}
    path = evidence / f"{status}.xml"
    path.write_bytes(junit_xml(document))
    (case,) = [case for suite in JUnitXml.fromfile(str(path)) for case in suite]
    if kind is None:
        assert case.is_passed
    else:
        (result,) = case.result
        assert type(result) is kind
