"""Acceptance tests: the real `gacert` CLI, the shipped policy, a real Prometheus.

The `prometheus` fixture (tests/conftest.py) serves the test dataset of
gacert.demo.gaday: a clean week, then one GA day per scenario. Each test runs
`python -m gacert run policies/ga.yaml` over one scenario's day in a
subprocess, exactly as a user or CI would, and reads the results document.
The policy's probes reach the demo dashboard and WebSocket servers
(`demo_servers`), with short probe settings so that every run stays quick.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ci_support import SHORT_PROBES

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer, free_port
from gacert.demo.servers import DemoServers, WebSocketServer, WsBehaviour

ROOT = Path(__file__).resolve().parent.parent
GA_POLICY = str(ROOT / "policies" / "ga.yaml")

pytestmark = pytest.mark.prometheus
PROBE_CHECKS = ("ws_probe_success", "ws_probe_latency_avg", "ws_probe_latency_p99",
                "ws_probe_downtime", "ws_probe_jitter", "dashboard_load", "dashboard_success")


@pytest.fixture(autouse=True)
def probe_environment(demo_servers: DemoServers, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every gacert run of these tests probes the demo servers, briefly."""
    for name, value in {**demo_servers.environ(), **SHORT_PROBES}.items():
        monkeypatch.setenv(name, value)


def gacert(*args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})},
                          cwd=cwd or ROOT, check=False)


def run_scenario(name: str, url: str, out: Path, *extra: str
                 ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    start, end = scenario_window(name)
    # The PDF (about 3 s a run) is covered by tests/test_package.py.
    proc = gacert("run", GA_POLICY, "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                  "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "--output", str(out), "--no-pdf",
                  *extra,
                  env={"PROMETHEUS_URL": url})
    assert "Traceback" not in proc.stderr, proc.stderr
    results = json.loads((out / "results.json").read_text())
    return proc, results


def statuses(results: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in results["checks"]}


# Scenario -> (exit code, verdict, the checks whose status is not pass).
# Every gate check not named must pass: a fault must fail the right check,
# and only it (an availability dip also shows in per-target scrape success).
SCENARIOS = [
    pytest.param("clean", 0, "pass", {}, id="a clean GA day certifies PASS"),
    pytest.param("availability_dip", 1, "fail",
                 {"availability": "fail", "scrape_success": "fail"},
                 id="an availability dip fails availability and scrape success"),
    pytest.param("error_surge", 1, "fail", {"error_rate": "fail", "service_error_rate": "warn"},
                 id="a 5xx surge fails the error rate"),
    pytest.param("latency_spike", 1, "fail", {"p99_latency": "fail"},
                 id="a latency spike on one service fails the worst-service P99"),
    pytest.param("cache_misses", 1, "fail", {"cache_hit_rate": "fail"},
                 id="cache misses fail the cache hit rate"),
    pytest.param("critical_alert", 1, "fail", {"critical_alerts": "fail"},
                 id="a critical alert firing for minutes fails certification"),
    pytest.param("container_restarts", 1, "fail", {"container_restarts": "fail"},
                 id="container restarts fail certification"),
    pytest.param("missing_exporter", 1, "fail",
                 {"cache_hit_rate": "no_data", "cache_memory": "no_data",
                  "cache_clients": "no_data"},
                 id="a missing exporter makes its checks no_data and the run FAIL"),
    pytest.param("warning_alert", 0, "pass", {"warning_alerts": "warn"},
                 id="a warning-severity alert does not fail certification"),
    # The days about the evidence itself (the outage and the late start, whose every
    # check is insufficient, are in tests/test_trust.py).
    pytest.param("counter_reset", 0, "pass", {},
                 id="a full day with counters that reset mid-day still certifies PASS"),
    pytest.param("division_by_zero", 0, "pass", {"db_pool_usage": "error"},
                 id="a division by zero makes its informational check an error, not a pass"),
    pytest.param("empty_histogram", 3, "error", {"db_p99_latency": "error"},
                 id="the NaN quantile of an empty histogram is an error, never a pass"),
    pytest.param("histogram_born", 0, "pass", {},
                 id="a histogram born mid-day among others covers the window together"),
]


@pytest.mark.parametrize(("scenario", "exit_code", "verdict", "not_passing"), SCENARIOS)
def test_scenario_verdicts(prometheus: PrometheusServer, tmp_path: Path, scenario: str,
                           exit_code: int, verdict: str, not_passing: dict[str, str]) -> None:
    proc, results = run_scenario(scenario, prometheus.url, tmp_path)
    found = statuses(results)
    unexpected = {cid: s for cid, s in found.items() if s != "pass" and cid not in not_passing}
    assert unexpected == {}, [c["reason"] for c in results["checks"] if c["id"] in unexpected]
    assert {cid: found[cid] for cid in not_passing} == not_passing
    assert results["status"] == verdict
    assert proc.returncode == exit_code, proc.stdout + proc.stderr
    assert f"verdict: {verdict.upper()}" in proc.stdout


def test_a_failing_check_says_what_it_saw(prometheus: PrometheusServer, tmp_path: Path) -> None:
    _, results = run_scenario("latency_spike", prometheus.url, tmp_path)
    check = next(c for c in results["checks"] if c["id"] == "p99_latency")
    assert check["decided_by"] == "fail"
    assert check["expression"] == "value >= p99_latency_ms_max"
    assert check["value"] >= 1000
    assert "(service=dashboard-api) matched fail rule value >= p99_latency_ms_max (1,000 ms)" \
        in check["reason"]
    worst = max(check["series"], key=lambda s: s["value"])
    assert worst["labels"] == {"service": "dashboard-api"}
    others = [s for s in check["series"] if s["labels"]["service"] != "dashboard-api"]
    assert len(others) == 3
    assert all(s["status"] == "pass" and s["value"] < 1000 for s in others)
    # A range check keeps its points over the window (1441 at a 1-minute step).
    assert len(worst["points"]) == 24 * 60 + 1
    assert "histogram_quantile(0.99" in check["query"]
    assert "$" not in check["query"]
    report = (tmp_path / "report.md").read_text()
    assert "Worst service P99 latency" in report
    assert "FAIL" in report


def test_results_document_is_complete_and_valid(prometheus: PrometheusServer,
                                                tmp_path: Path) -> None:
    import jsonschema

    _, results = run_scenario("clean", prometheus.url, tmp_path)
    schema = json.loads((ROOT / "schemas" / "results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(results)
    policy_bytes = (ROOT / "policies" / "ga.yaml").read_bytes()
    import hashlib

    assert results["policy"]["sha256"] == hashlib.sha256(policy_bytes).hexdigest()
    assert results["window"] == {"start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z",
                                 "duration_seconds": 86400.0, "step_seconds": 60.0,
                                 "coverage": {"min": 0.95, "max_gap_seconds": 900.0,
                                              "reference": "up"}}
    assert results["sources"] == [
        {"id": "prometheus", "type": "prometheus", "endpoint": prometheus.url},
        {"id": "dashboard", "type": "http", "endpoint": os.environ["TARS_DASHBOARD_URL"]},
        {"id": "tars_ws", "type": "websocket", "endpoint": os.environ["TARS_WS_URL"]}]
    assert results["summary"]["total"] == len(results["checks"]) >= 25
    availability = next(c for c in results["checks"] if c["id"] == "availability")
    assert availability["value"] == pytest.approx(100.0)
    assert availability["reason"].startswith("availability pass: 100.000 %")


def test_set_overrides_a_threshold(prometheus: PrometheusServer, tmp_path: Path) -> None:
    # The clean day's overall error rate is ~0.02 %: a 0.01 % limit fails it.
    proc, results = run_scenario("clean", prometheus.url, tmp_path, "--set", "error_rate_max=0.01")
    assert statuses(results)["error_rate"] == "fail"
    assert results["params"]["error_rate_max"] == 0.01
    assert proc.returncode == 1


def test_warn_passes_unless_fail_on_warn(prometheus: PrometheusServer, tmp_path: Path) -> None:
    # A warn threshold below the clean day's P99 (~300 ms) makes the gate check warn.
    proc, results = run_scenario("clean", prometheus.url, tmp_path / "a",
                                 "--set", "p99_latency_ms_warn=100")
    assert statuses(results)["p99_latency"] == "warn"
    assert results["status"] == "warn"
    assert proc.returncode == 0
    proc, _ = run_scenario("clean", prometheus.url, tmp_path / "b",
                           "--set", "p99_latency_ms_warn=100", "--fail-on", "warn")
    assert proc.returncode == 1


def test_prometheus_down_is_error_with_exit_3_and_output(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc, results = run_scenario("clean", url, tmp_path)
    assert proc.returncode == 3
    assert results["status"] == "error"
    queried = [c for c in results["checks"] if c["source"] == "prometheus"]
    assert {c["status"] for c in queried} == {"error"}
    assert all("connection refused" in c["error"] for c in queried)
    assert (tmp_path / "report.md").read_text().count("ERROR") >= len(queried)
    assert "verdict: ERROR" in proc.stdout
    # The probes reach their own endpoints and are not held up by Prometheus.
    assert {statuses(results)[cid] for cid in PROBE_CHECKS} == {"pass"}


def test_unset_env_without_default_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text((ROOT / "policies" / "ga.yaml").read_text().replace(
        "${PROMETHEUS_URL:-http://localhost:9090}", "${GACERT_TEST_UNSET_URL}"))
    env = {k: v for k, v in os.environ.items() if k != "GACERT_TEST_UNSET_URL"}
    proc = subprocess.run([sys.executable, "-m", "gacert", "run", str(policy), "--duration", "1h",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 2
    assert "sources.prometheus.url: environment variable GACERT_TEST_UNSET_URL is not set" \
        in proc.stderr
    assert "Traceback" not in proc.stderr


def test_secrets_never_reach_results_report_or_output(prometheus: PrometheusServer,
                                                      tmp_path: Path) -> None:
    token = "s3cr3t-token-value-7f1c"
    policy = tmp_path / "p.yaml"
    policy.write_text((ROOT / "policies" / "ga.yaml").read_text().replace(
        "    concurrency: 8\n",
        "    concurrency: 8\n    auth:\n      bearer_token: ${GACERT_TEST_TOKEN}\n"
        "    headers:\n      X-Scope-OrgID: ${GACERT_TEST_TENANT:-tenant-1}\n", 1))
    start, end = scenario_window("clean")
    proc = gacert("run", str(policy), "--no-pdf", "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                  "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "-o", str(tmp_path / "out"), "-v",
                  env={"PROMETHEUS_URL": prometheus.url, "GACERT_TEST_TOKEN": token,
                       "TARS_WS_TOKEN": token + "-ws", "TARS_DASHBOARD_TOKEN": token + "-web"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = [p.read_bytes().decode("utf-8", errors="replace")
               for p in (tmp_path / "out").iterdir() if p.is_file()]
    for text in [*written, proc.stdout, proc.stderr]:
        assert token not in text


def test_probe_checks_keep_their_measurements_and_samples(prometheus: PrometheusServer,
                                                          tmp_path: Path) -> None:
    _, results = run_scenario("clean", prometheus.url, tmp_path)
    checks = {c["id"]: c for c in results["checks"]}
    success = checks["ws_probe_success"]
    assert success["query"] == "success_rate"
    assert success["value"] == 100.0
    assert success["measurements"]["reconnects"] == {"total": 5, "succeeded": 5, "failed": 0}
    assert len(success["evidence"]["reconnects"]) == 5
    assert success["evidence"]["probe"]["interval_s"] == 0.02
    latency = checks["ws_probe_latency_p99"]
    assert latency["value"] == latency["measurements"]["latency"]["p99"]
    dashboard = checks["dashboard_load"]
    assert dashboard["measurements"]["requests"]["total"] == 5
    assert [s["status"] for s in dashboard["evidence"]["samples"]] == [200] * 5
    # A probe measures now, not the 2025 window: the results say so.
    assert any("a probe measures when the run happens" in w for w in dashboard["warnings"])


def test_a_websocket_that_refuses_every_other_reconnect_fails_tars_1001(
        prometheus: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without retries, every refused handshake is a failed reconnect: 50 % < 95 %.
    policy = tmp_path / "ga.yaml"
    policy.write_text(Path(GA_POLICY).read_text().replace("    retries: 3\n    backoff: 1s\n",
                                                          "    retries: 0\n", 1))
    with WebSocketServer(WsBehaviour(reject_every=2)) as flaky:
        monkeypatch.setenv("TARS_WS_URL", flaky.url)
        monkeypatch.setenv("TARS_WS_ITERATIONS", "6")
        start, end = scenario_window("clean")
        proc = gacert("run", str(policy), "--no-pdf", "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                      "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "-o", str(tmp_path / "out"),
                      env={"PROMETHEUS_URL": prometheus.url})
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    found = statuses(results)
    assert found["ws_probe_success"] == "fail"
    # Jitter needs two consecutive good reconnects; there are none: warn (no_data: warn).
    assert {cid: s for cid, s in found.items() if s != "pass"} == {
        "ws_probe_success": "fail", "ws_probe_jitter": "warn"}
    check = next(c for c in results["checks"] if c["id"] == "ws_probe_success")
    assert check["value"] == 50.0
    assert check["measurements"]["failures"]["rejected"] == 3
    assert "did not meet pass rule value >= ws_reconnect_success_min" in check["reason"]
    assert proc.returncode == 1
