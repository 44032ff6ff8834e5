"""gacert against a real VictoriaMetrics: the shipped policy, and MetricsQL.

The `victoriametrics` fixture (tests/conftest.py) runs Debian's
victoria-metrics on 127.0.0.1 with the same generated GA-day data as the
`prometheus` fixture, imported through /api/v1/import/prometheus. The shipped
policy must reach the same verdict on both servers, check by check; a policy
whose source declares `dialect: metricsql` validates with a note saying what
was not checked, and its MetricsQL-only queries (WITH templates,
share_gt_over_time, median_over_time) run and agree with the PromQL that
Prometheus answers for the same question.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from ci_support import SHORT_PROBES

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers
from gacert.demo.victoriametrics import VictoriaMetricsServer

ROOT = Path(__file__).resolve().parent.parent
GA_POLICY = str(ROOT / "policies" / "ga.yaml")

pytestmark = [pytest.mark.prometheus, pytest.mark.victoriametrics]

METRICSQL_POLICY = """\
version: 1
name: metricsql
params:
  job: tars
sources:
  vm:
    type: prometheus
    dialect: metricsql
    url: ${VM_URL:-http://localhost:8428}
checks:
  - id: availability
    title: Share of scrapes that succeeded (MetricsQL WITH template)
    source: vm
    query: 'WITH (sel = {job="$job"}) avg(share_gt_over_time(up{sel}[$__range], 0)) * 100'
    unit: "%"
    precision: 3
    pass: value >= 99.9
  - id: median_clients
    title: Median connected redis clients, worst instance
    source: vm
    query: max(median_over_time(redis_connected_clients[$__range]))
    fail: value > 1000
"""


def gacert(*args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})},
                          cwd=ROOT, check=False)


def window_options(scenario: str) -> list[str]:
    start, end = scenario_window(scenario)
    return ["--start", f"{start:%Y-%m-%dT%H:%M:%SZ}", "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}"]


def run_policy(policy: str, scenario: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = gacert("run", policy, *window_options(scenario), "--output", str(out), "--no-pdf",
                  "--certify-only", "--quiet", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert proc.returncode == results["exit_code"], proc.stderr
    return results


def instant_value(server: PrometheusServer, query: str, at: float) -> float:
    form = urllib.parse.urlencode({"query": query, "time": str(at)}).encode()
    with urllib.request.urlopen(f"{server.url}/api/v1/query", form, timeout=30) as response:
        (sample,) = json.load(response)["data"]["result"]
    return float(sample["value"][1])


def test_the_shipped_policy_reaches_the_same_verdict_on_both_servers(
        prometheus: PrometheusServer, victoriametrics: VictoriaMetricsServer,
        demo_servers: DemoServers, tmp_path: Path) -> None:
    probes = {**demo_servers.environ(), **SHORT_PROBES}
    on_prometheus = run_policy(GA_POLICY, "latency_spike", tmp_path / "prom",
                               {**probes, "PROMETHEUS_URL": prometheus.url})
    on_vm = run_policy(GA_POLICY, "latency_spike", tmp_path / "vm",
                       {**probes, "PROMETHEUS_URL": victoriametrics.url})
    assert on_vm["sources"][0]["endpoint"] == victoriametrics.url
    assert (on_vm["status"], on_vm["exit_code"]) == ("fail", 1)
    statuses = {c["id"]: c["status"] for c in on_vm["checks"] if c["source"] == "prometheus"}
    assert statuses == {c["id"]: c["status"] for c in on_prometheus["checks"]
                        if c["source"] == "prometheus"}
    assert [name for name, status in statuses.items() if status != "pass"] == ["p99_latency"]
    # The same data gives the same numbers, where no window edge is involved.
    p99 = {r["id"]: r for r in on_vm["checks"]}["p99_latency"]
    assert p99["value"] == pytest.approx(2492.5, rel=1e-9)


def test_a_metricsql_policy_validates_with_a_note_of_what_was_not_checked(
        tmp_path: Path) -> None:
    policy = tmp_path / "metricsql.yaml"
    policy.write_text(METRICSQL_POLICY, encoding="utf-8")
    validated = gacert("validate", str(policy))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert (f"{policy}:8:14: note: sources.vm.dialect: 2 queries in MetricsQL: checked for "
            "params, variables and balanced brackets and quotes only") in validated.stdout
    # Without the dialect, the PromQL parser refuses the WITH template.
    as_promql = tmp_path / "promql.yaml"
    as_promql.write_text(METRICSQL_POLICY.replace("dialect: metricsql", "dialect: promql"),
                         encoding="utf-8")
    refused = gacert("validate", str(as_promql))
    assert refused.returncode == 2
    assert f"{as_promql}:14:12: checks[0].query: query is not valid PromQL" in refused.stderr
    assert (f"{as_promql}:21:12: checks[1].query: query is not valid PromQL: unknown function "
            "with name 'median_over_time'") in refused.stderr


def test_metricsql_queries_run_and_agree_with_promql_on_prometheus(
        prometheus: PrometheusServer, victoriametrics: VictoriaMetricsServer,
        tmp_path: Path) -> None:
    policy = tmp_path / "metricsql.yaml"
    policy.write_text(METRICSQL_POLICY, encoding="utf-8")
    results = run_policy(str(policy), "availability_dip", tmp_path / "out",
                         {"VM_URL": victoriametrics.url})
    checks = {c["id"]: c for c in results["checks"]}
    assert {name: c["status"] for name, c in checks.items()} == {
        "availability": "fail", "median_clients": "pass"}
    assert "WITH (sel = {job=\"tars\"})" in checks["availability"]["query"]
    _, end = scenario_window("availability_dip")
    promql = instant_value(prometheus, 'avg(avg_over_time(up{job="tars"}[1d])) * 100',
                           end.timestamp())
    assert promql < 99.9
    assert checks["availability"]["value"] == pytest.approx(promql, abs=0.01)
    median = instant_value(
        prometheus, "max(quantile_over_time(0.5, redis_connected_clients[1d]))",
        end.timestamp())
    assert checks["median_clients"]["value"] == pytest.approx(median, rel=0.05)
