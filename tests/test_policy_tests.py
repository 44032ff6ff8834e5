"""`gacert test`: policy tests beside the policies, run with no server.

The shipped tests (policies/*.tests.yaml) run here as CI runs them, and must
cover every check of their policy passing, failing (or warning) and without
data. A wrong expectation fails with expected, got, the reason and the input;
a broken test file is refused with every problem located.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gacert.engine.policytest import run_test_file
from gacert.errors import PolicyError
from gacert.model import Window
from gacert.policy.testfile import load_test_file

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "policies").glob("*.tests.yaml"))
WS_POLICY = ROOT / "policies" / "websocket-health.yaml"

HEAD = f"""\
policy: {WS_POLICY}
input:
  measurements:
    ws:
      success_rate: 100
      reconnects: {{total: 30}}
      latency: {{avg: 180, p99: 600}}
      downtime: {{longest: 700}}
      jitter: {{avg: 150}}
tests:
"""


def gacert(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, check=False,
                          env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def write(tmp_path: Path, tests: str, name: str = "ws.tests.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + tests, encoding="utf-8")
    return path


# --- the shipped tests --------------------------------------------------------------------


def test_both_shipped_policies_have_tests() -> None:
    assert [p.name for p in SHIPPED] == ["ga.tests.yaml", "websocket-health.tests.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_policy_tests_pass(path: Path) -> None:
    proc = gacert("test", str(path.relative_to(ROOT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    count = len(load_test_file(str(path)).tests)
    assert f"{path.relative_to(ROOT)}: {count} tests passed" in proc.stdout


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_tests_cover_every_check(path: Path) -> None:
    """Each check is expected to pass, to fail (when a rule can fail it), to warn
    (when it has a warn rule), and is judged without data at least once."""
    test_file = load_test_file(str(path))
    seen: dict[str, set[str]] = {c.id: set() for c in test_file.policy.checks}
    for outcome in run_test_file(test_file).tests:
        assert outcome.passed, outcome.mismatches
        for result in outcome.checks:
            if result.id in outcome.test.checks:
                seen[result.id].add(result.status)
                if result.decided_by == "no_data":
                    seen[result.id].add("no data")
    missing = {}
    for check in test_file.policy.checks:
        wanted = {"pass", "no data"}
        wanted |= {"fail"} if check.rules.fail or check.rules.pass_ else set()
        wanted |= {"warn"} if check.rules.warn else set()
        if wanted - seen[check.id]:
            missing[check.id] = sorted(wanted - seen[check.id])
    assert missing == {}


def test_without_files_every_test_file_under_policies_runs() -> None:
    proc = gacert("test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [
        "policies/ga.tests.yaml", "policies/websocket-health.tests.yaml"]


def test_a_policy_given_runs_the_tests_beside_it_and_one_without_tests_is_skipped(
        tmp_path: Path) -> None:
    lone = tmp_path / "lone.yaml"
    lone.write_text(WS_POLICY.read_text())
    proc = gacert("test", "policies/websocket-health.yaml", str(lone))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "policies/websocket-health.tests.yaml: 8 tests passed" in proc.stdout
    assert f"{lone}: no tests beside it ({tmp_path / 'lone.tests.yaml'})" in proc.stdout


# --- failures say expected, got, why and with what --------------------------------------


def test_a_wrong_expectation_fails_with_expected_got_reason_and_input(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - name: jitter of 2.5 s passes (it does not)
    measurements:
      ws: {jitter: {avg: 2500}}
    expect:
      verdict: pass
      checks: {reconnect_jitter: pass, reconnect_success: pass}
""")
    proc = gacert("test", str(path))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"FAIL {path}:11: jitter of 2.5 s passes (it does not)",
        "  reconnect_jitter: expected PASS, got WARN",
        "    reconnect_jitter warn: 2,500.0 ms matched warn rule value >= ws_jitter_avg_max_ms "
        "(2,000 ms)",
        "    measurements of ws: jitter.avg = 2,500.0 ms",
        "  verdict: expected PASS, got WARN",
        "    gate checks not passing: reconnect_jitter warn",
        f"{path}: 1 of 1 tests failed (policy {WS_POLICY})",
    ]


def test_a_failing_series_test_shows_each_series_and_its_value(tmp_path: Path) -> None:
    path = tmp_path / "ga.tests.yaml"
    path.write_text(f"""\
policy: {ROOT / "policies" / "ga.yaml"}
tests:
  - name: the worst service decides
    series:
      p99_latency:
        '{{service="api"}}': '300x10 950 300x5'
        '{{service="web"}}': '200 _ stale 1000'
    expect:
      checks: {{p99_latency: warn}}
""")
    proc = gacert("test", str(path))
    assert proc.returncode == 1
    assert "  p99_latency: expected WARN, got FAIL" in proc.stdout
    assert ("    p99_latency fail: 1,000.0 ms (service=web) matched fail rule value >= "
            "p99_latency_ms_max (1,000 ms)") in proc.stdout
    assert "    series {service=\"api\"}: 300x10 950 300x5 -> 950.0 ms" in proc.stdout
    assert "    series {service=\"web\"}: 200 _ stale 1000 -> 1,000.0 ms" in proc.stdout


def test_a_test_can_judge_a_stored_results_document(tmp_path: Path) -> None:
    """A results.json is evidence for every check the test gives nothing else for."""
    outcome_file = write(tmp_path, """\
  - name: healthy
    expect: {verdict: pass}
""")
    # Results of websocket-health as a run writes them, made by the engine itself.
    from gacert.engine.results import to_document
    from gacert.model import RunResult, SourceInfo, Timings

    test_file = load_test_file(str(outcome_file))
    outcome = run_test_file(test_file).tests[0]
    run = RunResult(outcome.verdict, test_file.policy,
                    _window(), {n: p.default for n, p in test_file.policy.params.items()},
                    (SourceInfo("ws", "websocket", "ws://127.0.0.1:9/ws"),),
                    Timings("2025-01-16T00:00:00Z", "2025-01-16T00:00:05Z", 5.0, 4.0),
                    outcome.checks)
    (tmp_path / "results.json").write_text(json.dumps(to_document(run), allow_nan=False))
    path = tmp_path / "stored.tests.yaml"
    path.write_text(f"""\
policy: {WS_POLICY}
input:
  results: results.json
tests:
  - name: the stored day passes
    expect: {{verdict: pass, checks: {{reconnect_latency_p99: pass}}}}
  - name: a tighter bound fails the stored day
    params: {{ws_latency_p99_max_ms: 500}}
    expect: {{verdict: fail, checks: {{reconnect_latency_p99: fail}}}}
  - name: measurements laid over the stored ones change only what they name
    measurements:
      ws: {{success_rate: 50}}
    expect: {{checks: {{reconnect_success: fail, reconnect_latency_p99: pass}}}}
""")
    proc = gacert("test", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{path}: 3 tests passed" in proc.stdout


def _window() -> Window:
    from datetime import UTC, datetime

    return Window(datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 1, 16, tzinfo=UTC), 60, 15)


# --- broken test files are refused, every problem located -----------------------------------


@pytest.mark.parametrize(("tests", "expected"), [
    pytest.param("""\
  - name: typo
    expect: {checks: {reconnect_succes: pass}}
""", ["12:23: tests[0].expect.checks.reconnect_succes: the policy has no check "
      "'reconnect_succes' (did you mean 'reconnect_success'?)"],
        id="an unknown check id, with a hint"),
    pytest.param("""\
  - name: bad series
    series:
      reconnect_success: {'{a=1}': '100', '{}': '1+x3'}
    expect: {verdict: pass}
""", ["13:27: tests[0].series.reconnect_success.{a=1}: '{a=1}': expected label=\"value\" at "
      "'a=1'",
      "13:49: tests[0].series.reconnect_success.{}: '1+x3' is not a sample: write a number, "
      "'a+bxN', 'a-bxN', 'axN', '_', '_xN' or 'stale'"],
        id="a series that does not parse"),
    pytest.param("""\
  - name: bad params
    params: {ws_latency_p99_max: 5, ws_latency_avg_max_ms: fast}
    expect: {verdict: pass}
""", ["12:14: tests[0].params.ws_latency_p99_max: the policy has no param "
      "'ws_latency_p99_max' (did you mean 'ws_latency_p99_max_ms'?)",
      "12:60: tests[0].params.ws_latency_avg_max_ms: ws_latency_avg_max_ms is a number param; "
      "'fast' is a string"],
        id="unknown and ill-typed params"),
    pytest.param("""\
  - name: unknown source and missing results
    measurements: {wss: {success_rate: 1}}
    results: nowhere.json
    expect: {verdict: pass}
""", ["12:20: tests[0].measurements.wss: the policy has no source 'wss' "
      "(did you mean 'ws'?)",
      "13:14: tests[0].results: results file {dir}/nowhere.json not found (the path is "
      "relative to this file)"],
        id="an unknown source and a missing results file"),
    pytest.param("""\
  - name: a schema fault
    expect: {verdicts: pass}
""", ["12:14: tests[0].expect.verdicts: unknown key 'verdicts' (did you mean 'verdict'?)"],
        id="the schema, with a hint"),
    pytest.param("""\
  - name: twice
    expect: {verdict: pass}
  - name: twice
    expect: {verdict: pass}
""", ["13:11: tests[1].name: another test has this name (line 11); give each a name of "
      "its own"], id="two tests with one name"),
])
def test_a_broken_test_file_is_refused_with_located_problems(
        tmp_path: Path, tests: str, expected: list[str]) -> None:
    path = write(tmp_path, tests)
    with pytest.raises(PolicyError) as raised:
        load_test_file(str(path))
    assert [p.format() for p in raised.value.problems] == [
        f"{path}:{line.replace('{dir}', str(tmp_path))}" for line in expected]
    proc = gacert("test", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""


def test_a_test_file_of_an_invalid_policy_names_the_policy_problems(tmp_path: Path) -> None:
    policy = tmp_path / "broken.yaml"
    policy.write_text(WS_POLICY.read_text().replace("pass: value >= ws_reconnect_success_min",
                                                    "pass: value >= ws_reconnect_succes_min"))
    path = tmp_path / "broken.tests.yaml"
    path.write_text("policy: broken.yaml\ntests:\n  - name: any\n    expect: {verdict: pass}\n")
    proc = gacert("test", str(path))
    assert proc.returncode == 2
    assert f"{path}:1:9: policy: the policy {policy} is invalid; fix it first " \
        "(gacert validate)" in proc.stderr
    assert f"{policy}:" in proc.stderr
    assert "ws_reconnect_succes_min" in proc.stderr


def test_a_prometheus_source_takes_series_not_measurements(tmp_path: Path) -> None:
    path = tmp_path / "ga.tests.yaml"
    path.write_text(f"policy: {ROOT / 'policies' / 'ga.yaml'}\ntests:\n  - name: x\n"
                    "    measurements: {prometheus: {up: 1}}\n    expect: {verdict: pass}\n")
    with pytest.raises(PolicyError) as raised:
        load_test_file(str(path))
    assert [p.message for p in raised.value.problems] == [
        "source 'prometheus' is a prometheus source: it returns series, not measurements; "
        "give them under series, by check"]
