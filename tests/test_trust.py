"""What a PASS promises, proven through the real CLI against a real Prometheus.

- evidence that does not cover the window never certifies (a monitoring outage,
  a day whose first half is missing, a window older than the data);
- a window in the future is a usage error, never a quiet no_data;
- NaN, +Inf and -Inf never pass (division by zero, an empty histogram, a
  histogram born inside the window);
- every --set and environment value is recorded and flagged, secrets redacted;
- a param value that would rewrite a query is refused before anything is queried;
- reasons carry the numbers: thresholds with their values, a command's exit code
  and the end of its stderr.

The scenario days are those of gacert.demo.gaday; policies/ga.yaml is used as
shipped, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ci_support import SHORT_PROBES
from test_cli_run import GA_POLICY, gacert, run_scenario, statuses

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers, HttpServer

pytestmark = pytest.mark.prometheus
GA_SHA256 = hashlib.sha256(Path(GA_POLICY).read_bytes()).hexdigest()
# The checks of policies/ga.yaml that read the window's end only, and the probes:
# no coverage of the window is measured for them.
UNMEASURED = {"rollout_complete", "replicas_available", "ws_probe_success",
              "ws_probe_latency_avg", "ws_probe_latency_p99", "ws_probe_downtime",
              "ws_probe_jitter", "dashboard_load", "dashboard_success"}


@pytest.fixture(autouse=True)
def probe_environment(demo_servers: DemoServers, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**demo_servers.environ(), **SHORT_PROBES}.items():
        monkeypatch.setenv(name, value)


def rfc3339(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in results["checks"]}


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- evidence coverage ---------------------------------------------------------------


def test_a_monitoring_outage_mid_window_is_not_a_pass(prometheus: PrometheusServer,
                                                      tmp_path: Path) -> None:
    proc, results = run_scenario("monitoring_outage", prometheus.url, tmp_path)
    assert results["policy"]["sha256"] == GA_SHA256
    assert (results["status"], proc.returncode) == ("fail", 1)
    checks = by_id(results)
    # The counters went on counting, so every value looks normal: only coverage sees it.
    assert {cid for cid, c in checks.items() if c["status"] == "fail"} == set()
    measured = {cid for cid in checks if cid not in UNMEASURED}
    assert {cid for cid in measured if checks[cid]["status"] == "insufficient"} == measured
    availability = checks["availability"]
    assert availability["reason"].startswith(
        "availability insufficient: evidence covers 75.3 % of the window (at least 95 % "
        "needed); largest gap 5h 56m, from 2025-01-24T09:04:00Z to 2025-01-24T15:00:00Z (at "
        "most 15m allowed); the rules alone: pass: 100.000 % met pass rule")
    assert availability["coverage"]["largest_gap"] == {
        "start": "2025-01-24T09:04:00Z", "end": "2025-01-24T15:00:00Z", "seconds": 21360.0}
    assert availability["coverage"]["query"] == \
        'count(up{job="tars", namespace="tars-production"})'
    # The range check is measured on its own points; the alerts check on `up`.
    assert checks["p99_latency"]["coverage"]["method"] == "points"
    assert checks["critical_alerts"]["coverage"]["method"] == "reference"
    assert "26 insufficient" in proc.stdout
    assert "evidence 75.3 %, gap 5h 56m (insufficient)" in proc.stdout
    for report in ("report.md", "GA_DAY_REPORT.md", "EMAIL_SUMMARY.txt"):
        text = one_line((tmp_path / report).read_text())
        assert "evidence covers 75.3 % of the window" in text, report
    html = (tmp_path / "GA_DAY_REPORT.html").read_text()
    assert "<title>no data 09:03 to 15:01</title>" in html  # the chart shades the gap


def test_a_window_whose_first_half_holds_no_data_is_not_a_pass(prometheus: PrometheusServer,
                                                               tmp_path: Path) -> None:
    proc, results = run_scenario("late_start", prometheus.url, tmp_path)
    assert (results["status"], proc.returncode) == ("fail", 1)
    checks = by_id(results)
    assert checks["cpu_drift"]["status"] == "fail"  # a rate over the window halves
    assert checks["availability"]["status"] == "insufficient"
    assert "evidence covers 50.3 % of the window (at least 95 % needed); largest gap 11h " \
           "56m, from 2025-01-25T00:04:00Z to 2025-01-25T12:00:00Z" in \
           checks["availability"]["reason"]


def test_a_window_older_than_the_data_says_so(prometheus: PrometheusServer,
                                              tmp_path: Path) -> None:
    # The dataset starts on 2025-01-08: the first half of this window has no data at all.
    proc = gacert("run", GA_POLICY, "--no-pdf", "--certify-only", "--start",
                  "2025-01-07T12:00:00Z", "--end", "2025-01-08T12:00:00Z", "-o", str(tmp_path),
                  env={"PROMETHEUS_URL": prometheus.url})
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["status"], proc.returncode) == ("fail", 1)
    availability = by_id(results)["availability"]
    assert availability["status"] == "insufficient"
    assert "largest gap 12h 00m, from 2025-01-07T12:00:00Z to 2025-01-08T00:00:00Z" in \
        availability["reason"]
    assert "no data from the start of the window (is it older than the data the source " \
           "holds?)" in availability["reason"]


# --- window sanity ------------------------------------------------------------------


@pytest.mark.parametrize(("options", "fragment"), [
    pytest.param(["--start", rfc3339(datetime.now(UTC) - timedelta(hours=1))],
                 "--start alone means --start plus the policy's window.duration",
                 id="--start alone an hour ago ends 23 hours ahead"),
    pytest.param(["--start", "2099-01-01T00:00:00Z", "--end", "2099-01-02T00:00:00Z"],
                 "no evidence of it exists yet", id="a window wholly in the future"),
])
def test_a_window_that_ends_after_now_is_a_usage_error(tmp_path: Path, options: list[str],
                                                       fragment: str) -> None:
    proc = gacert("run", GA_POLICY, *options, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# --- honest values ---------------------------------------------------------------------

RATIO = ("max(db_pool_connections_in_use{service=\"automl-pipeline\"})"
         " / max(db_pool_connections_max{service=\"automl-pipeline\"})")
POOL_SIZE = "max(db_pool_connections_max{service=\"automl-pipeline\"})"
QUANTILE = ("histogram_quantile(0.99, sum by (le) (increase(db_query_duration_seconds_bucket"
            "{service=\"automl-pipeline\"}[$__range])))")
HONEST = f"""\
version: 1
name: honest-values
sources:
  prometheus: {{type: prometheus, url: "${{PROMETHEUS_URL}}"}}
checks:
  - id: plus_inf
    source: prometheus
    query: '{RATIO}'
    pass: value >= 0
  - id: minus_inf
    source: prometheus
    query: '-1 * {RATIO}'
    fail: value >= 5
  - id: nan_instant
    source: prometheus
    query: '{POOL_SIZE} / {POOL_SIZE}'
    pass: value >= 0
    no_data: pass
  - id: nan_range
    source: prometheus
    query: '{POOL_SIZE} / {POOL_SIZE}'
    mode: range
    over_time: max
    fail: value > 1
    no_data: pass
  - id: quantile
    source: prometheus
    query: '{QUANTILE}'
    fail: value > 1000
"""


def run_policy(text: str, scenario: str, url: str, tmp_path: Path,
               *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    policy = tmp_path / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    start, end = scenario_window(scenario)
    proc = gacert("run", str(policy), "--no-pdf", "--certify-only", "--start", rfc3339(start),
                  "--end", rfc3339(end), "-o", str(tmp_path / "out"), *extra,
                  env={"PROMETHEUS_URL": url})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads((tmp_path / "out" / "results.json").read_text())


def test_division_by_zero_never_passes(prometheus: PrometheusServer, tmp_path: Path) -> None:
    proc, results = run_policy(HONEST, "division_by_zero", prometheus.url, tmp_path)
    checks = by_id(results)
    assert {cid: (c["status"], c["value"]) for cid, c in checks.items()
            if cid != "quantile"} == {
        "plus_inf": ("error", "+Inf"), "minus_inf": ("error", "-Inf"),
        "nan_instant": ("error", "NaN"), "nan_range": ("insufficient", None)}
    assert "the value is +Inf, not a finite number" in checks["plus_inf"]["reason"]
    assert "the value is -Inf" in checks["minus_inf"]["reason"]
    # no_data: pass does not make NaN a pass: NaN is a value that is no number.
    assert "NaN never passes" in checks["nan_instant"]["reason"]
    # A range series NaN at every point holds no evidence: no data, which no_data: pass
    # would pass, but the evidence covers none of the window.
    assert checks["nan_range"]["coverage"]["share"] == 0.0
    assert "evidence covers 0.0 % of the window" in checks["nan_range"]["reason"]
    # Insufficient evidence fails the verdict, which outranks the errors.
    assert (results["status"], proc.returncode) == ("fail", 1)


def test_the_quantile_of_an_empty_histogram_never_passes(prometheus: PrometheusServer,
                                                         tmp_path: Path) -> None:
    _, results = run_policy(HONEST, "empty_histogram", prometheus.url, tmp_path)
    quantile = by_id(results)["quantile"]
    assert (quantile["status"], quantile["value"]) == ("error", "NaN")
    assert "such as an empty histogram" in quantile["reason"]


def test_a_histogram_born_inside_the_window_covers_half_of_it(prometheus: PrometheusServer,
                                                              tmp_path: Path) -> None:
    # Prometheus answers a number from half a day of samples; coverage says so.
    _, results = run_policy(HONEST, "histogram_born", prometheus.url, tmp_path)
    quantile = by_id(results)["quantile"]
    assert isinstance(quantile["value"], float)
    assert quantile["status"] == "insufficient"
    assert "largest gap 12h 00m, from 2025-01-29T00:00:00Z to 2025-01-29T12:00:00Z" in \
        quantile["reason"]


# --- overrides ------------------------------------------------------------------------


def test_a_package_made_with_set_shows_the_override_everywhere(prometheus: PrometheusServer,
                                                                tmp_path: Path) -> None:
    proc, results = run_scenario("clean", prometheus.url, tmp_path / "set",
                                 "--set", "p99_latency_ms_warn=300")
    committed_proc, committed = run_scenario("clean", prometheus.url, tmp_path / "committed")
    override = {"name": "p99_latency_ms_warn", "kind": "param", "default": 800, "value": 300,
                "origin": "command line"}
    assert override in results["overrides"]
    assert override not in committed["overrides"]
    assert statuses(results)["p99_latency"] == "warn"  # the override changed the verdict
    assert (results["status"], committed["status"]) == ("warn", "pass")
    metadata = json.loads((tmp_path / "set" / "certification_metadata.json").read_text())
    assert metadata["overrides"] == len(results["overrides"]) > \
        json.loads((tmp_path / "committed" / "certification_metadata.json").read_text())[
            "overrides"]
    assert {"name": "p99_latency_ms_warn", "kind": "param", "committed": 800, "used": 300,
            "origin": "command line"} in metadata["overridden"]
    # The policy in the package is the committed one, byte for byte.
    assert (tmp_path / "set" / "policy.yaml").read_bytes() == Path(GA_POLICY).read_bytes()
    for report in ("report.md", "GA_DAY_REPORT.md", "EMAIL_SUMMARY.txt"):
        text = one_line((tmp_path / "set" / report).read_text())
        assert "p99_latency_ms_warn" in text, report
        assert "overridden on the command line" in text, report
    assert "overridden at run time" in one_line((tmp_path / "set" / "report.md").read_text())
    assert "override: p99_latency_ms_warn = 300 (committed 800), overridden on the command " \
           "line" in proc.stdout
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("verdict:"))
    assert "overridden at run time" in verdict
    assert "p99_latency_ms_warn" not in committed_proc.stdout


def test_environment_values_are_recorded_and_secrets_redacted(prometheus: PrometheusServer,
                                                              tmp_path: Path) -> None:
    token = "s3cr3t-token-0d9e"
    policy = """\
version: 1
name: env-values
sources:
  prometheus:
    type: prometheus
    url: ${GACERT_TEST_URL:-http://localhost:9090}
    headers: {X-Api-Key: "${GACERT_TEST_TOKEN:-}"}
    timeout: ${GACERT_TEST_TIMEOUT:-30s}
checks:
  - id: availability
    source: prometheus
    query: avg(avg_over_time(up[$__range])) * 100
    pass: value >= 99
"""
    host = prometheus.url.removeprefix("http://")
    env = {"GACERT_TEST_URL": f"http://gacert:pa55word@{host}", "GACERT_TEST_TOKEN": token}
    (tmp_path / "policy.yaml").write_text(policy, encoding="utf-8")
    start, end = scenario_window("clean")
    proc = gacert("run", str(tmp_path / "policy.yaml"), "--no-pdf", "--certify-only",
                  "--start", rfc3339(start), "--end", rfc3339(end), "-o", str(tmp_path / "out"),
                  env=env)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["overrides"] == [
        {"name": "sources.prometheus.url", "kind": "setting", "default": "http://localhost:9090",
         "value": prometheus.url, "origin": "environment GACERT_TEST_URL"},
        {"name": "sources.prometheus.headers.X-Api-Key", "kind": "setting", "default": "",
         "value": "REDACTED", "origin": "environment GACERT_TEST_TOKEN"}]
    for path in (tmp_path / "out").iterdir():
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in (token, "pa55word"):
            assert secret not in text, path.name
            assert secret not in proc.stdout + proc.stderr


# --- injection-safe params ----------------------------------------------------------------

INJECTION = """\
version: 1
name: injection
params:
  job: tars
sources:
  prometheus: {type: prometheus, url: "${PROMETHEUS_URL}", retries: 0}
checks:
  - id: availability
    source: prometheus
    query: avg(avg_over_time(up{job="$job"}[$__range])) * 100
    pass: value >= 99.9
"""
BREAKING = 'x"}[1s])) or vector(100) or avg(avg_over_time(up{job="x'


def test_a_breaking_param_is_refused_before_anything_is_queried(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(INJECTION, encoding="utf-8")
    end = rfc3339(datetime(2025, 1, 16, tzinfo=UTC))
    with HttpServer() as server:
        env = {"PROMETHEUS_URL": server.url}
        proc = gacert("run", str(policy), "--end", end, "--set", f"job={BREAKING}",
                      "-o", str(tmp_path / "refused"), env=env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"param job = {BREAKING!r} is refused: it would end the \"...\" string it is " \
               "used in (check availability)" in proc.stderr
        assert server.requests == 0
        assert not (tmp_path / "refused").exists()
        plan = gacert("plan", str(policy), "--end", end, "--set", f"job={BREAKING}", env=env)
        assert plan.returncode == 2
        assert "is refused" in plan.stderr
        # A value that stays a value is sent: the server above does get asked.
        proc = gacert("run", str(policy), "--end", end, "--set", "job=api", "--no-pdf",
                      "-o", str(tmp_path / "sent"), env=env)
        assert proc.returncode == 3  # an HTML page is not the Prometheus API
        assert server.requests > 0


def test_the_breaking_value_would_have_turned_a_failure_into_a_pass(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    # What the refusal prevents: rendered as text, the value rewrites the query so
    # that a day with an availability dip passes. Checked here with the query as a
    # literal, which is not a param and so is what the policy author wrote.
    broken = INJECTION.replace('up{job="$job"}', 'up{job="' + BREAKING + '"}')
    _, results = run_policy(broken, "availability_dip", prometheus.url, tmp_path)
    assert by_id(results)["availability"]["status"] == "pass"
    _, honest = run_policy(INJECTION, "availability_dip", prometheus.url, tmp_path / "honest")
    assert by_id(honest)["availability"]["status"] == "fail"


# --- numbers in every reason --------------------------------------------------------------


def test_reasons_name_the_thresholds_value_in_every_report(prometheus: PrometheusServer,
                                                           tmp_path: Path) -> None:
    proc, results = run_scenario("latency_spike", prometheus.url, tmp_path)
    expected = "matched fail rule value >= p99_latency_ms_max (1,000 ms)"
    assert expected in by_id(results)["p99_latency"]["reason"]
    assert expected in proc.stdout
    for report in ("report.md", "GA_DAY_REPORT.md", "EMAIL_SUMMARY.txt"):
        assert expected in one_line((tmp_path / report).read_text()), report


def test_a_failing_command_says_its_exit_code_and_stderr(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("""\
version: 1
name: command
sources:
  migrations:
    type: command
    shell: true
    command: >-
      echo 'applying 12 migrations' >&2;
      echo 'connecting to https://app:hunter2@db.example/app?token=abc123' >&2;
      echo 'ERROR: relation "orders" does not exist' >&2; exit 3
checks:
  - id: migrations
    source: migrations
    query: exit_code
    pass: value == 0
""", encoding="utf-8")
    proc = gacert("run", str(policy), "--duration", "1h", "--no-pdf", "--certify-only",
                  "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    reason = json.loads((tmp_path / "out" / "results.json").read_text())["checks"][0]["reason"]
    assert reason == (
        "migrations fail: 3.00 did not meet pass rule value == 0; the command exited with code "
        "3; its stderr ends: applying 12 migrations | connecting to "
        "https://db.example/app?token=REDACTED | ERROR: relation \"orders\" does not exist")
    assert reason in proc.stdout
    assert "hunter2" not in proc.stdout
    assert "abc123" not in proc.stdout
    assert reason in one_line((tmp_path / "out" / "report.md").read_text().replace("\\", ""))
