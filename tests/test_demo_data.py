"""The generated dataset is what it claims, proven by queries to a real Prometheus.

A clean day meets every threshold of the GA policy; each fault day crosses
its own threshold and no other, and nothing of it leaks into its neighbours.
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gacert.demo import gaday
from gacert.demo.prometheus import PrometheusServer

needs_prometheus = pytest.mark.prometheus


def api(server: PrometheusServer, path: str, **params: str | float) -> Any:
    url = f"{server.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def values(server: PrometheusServer, expr: str, at: datetime) -> dict[str, float]:
    """Instant query at `at`: {service (or "") -> value}."""
    result = api(server, "query", query=expr, time=at.timestamp())["result"]
    return {r["metric"].get("service", ""): float(r["value"][1]) for r in result}


def value(server: PrometheusServer, expr: str, at: datetime) -> float | None:
    """The single value of an instant query, None when it has no result."""
    found = values(server, expr, at)
    assert len(found) <= 1, found
    return next(iter(found.values()), None)


def increase(metric: str) -> str:
    return f"sum(increase({metric}[24h]))"


ERRORS = 'http_requests_total{status=~"5.."}'
P99_5M = (
    "max_over_time((histogram_quantile(0.99, sum by (service, le)"
    "(rate(http_request_duration_seconds_bucket[5m]))))[24h:1m]) * 1000"
)


@dataclass(frozen=True)
class Check:
    """A day-level threshold, as the GA policy sees it (at the end of the day)."""

    query: str
    passes: Callable[[float], bool]
    absent_passes: bool = False  # an absent result is a pass (no ALERTS series)


CHECKS = {
    "availability": Check("avg(avg_over_time(up[24h])) * 100", lambda v: v >= 99.9),
    "error_rate": Check(
        f"100 * {increase(ERRORS)} / {increase('http_requests_total')}",
        lambda v: v < 0.1,
    ),
    "p99_latency": Check(f"max({P99_5M})", lambda v: v < 1000),
    "cache_hit_rate": Check(
        f"100 * {increase('redis_keyspace_hits_total')} / ({increase('redis_keyspace_hits_total')}"
        f" + {increase('redis_keyspace_misses_total')})",
        lambda v: v >= 95,
    ),
    "ws_reconnect_success": Check(
        f"100 * {increase('websocket_reconnect_success_total')}"
        f" / {increase('websocket_reconnect_attempts_total')}",
        lambda v: v >= 95,
    ),
    "db_p99_latency": Check(
        "max(histogram_quantile(0.99, sum by (service, le)"
        "(increase(db_query_duration_seconds_bucket[24h])))) * 1000",
        lambda v: v < 50,
    ),
    "cpu_drift": Check(
        "max(abs(sum by (service) (rate(process_cpu_seconds_total[24h]))"
        " / sum by (service) (rate(process_cpu_seconds_total[24h] offset 7d)) - 1)) * 100",
        lambda v: v < 3,
    ),
    "memory_drift": Check(
        "max(abs(sum by (service) (avg_over_time(process_resident_memory_bytes[24h]))"
        " / sum by (service) (avg_over_time(process_resident_memory_bytes[24h] offset 7d))"
        " - 1)) * 100",
        lambda v: v < 3,
    ),
    "ppo_memory": Check(
        'max(max_over_time(process_resident_memory_bytes{service="orchestration-agent"}[24h]))',
        lambda v: 1.1e9 < v < 1.3e9,
    ),
    "ppo_memory_growth": Check(
        'max(deriv(process_resident_memory_bytes{service="orchestration-agent"}[24h]))',
        lambda v: v <= 0,
    ),
    "rollout": Check(
        "min(kube_deployment_status_replicas_updated / kube_deployment_spec_replicas)",
        lambda v: v == 1,
    ),
    "replicas_available": Check(
        "min(kube_deployment_status_replicas_available / kube_deployment_spec_replicas)",
        lambda v: v == 1,
    ),
    "container_restarts": Check(
        "sum(round(increase(kube_pod_container_status_restarts_total[24h])))", lambda v: v == 0
    ),
    "critical_alerts": Check(
        'count(max_over_time(ALERTS{alertstate="firing",severity="critical"}[24h]))',
        lambda v: v == 0,
        absent_passes=True,
    ),
    "warning_alerts": Check(
        'count(max_over_time(ALERTS{alertstate="firing",severity="warning"}[24h]))',
        lambda v: v == 0,
        absent_passes=True,
    ),
}

# The checks each scenario day fails; no data counts as a failure.
FAILS = {
    "clean": set(),
    "availability_dip": {"availability"},
    "error_surge": {"error_rate"},
    "latency_spike": {"p99_latency"},
    "cache_misses": {"cache_hit_rate"},
    "critical_alert": {"critical_alerts"},
    "container_restarts": {"container_restarts"},
    "missing_exporter": {"cache_hit_rate"},
    "warning_alert": {"warning_alerts"},
    # What these days break is the evidence, which a query at the end of the day
    # cannot see: the counters went on counting through the outage, ratios of
    # increases over the window hold, and only a rate over the whole window shows
    # that half of it is missing.
    "monitoring_outage": set(),
    "late_start": {"cpu_drift"},
    "counter_reset": set(),
    "division_by_zero": set(),
    "empty_histogram": set(),
    "histogram_born": set(),
}


def failing_checks(server: PrometheusServer, end: datetime) -> dict[str, float | None]:
    failing = {}
    for name, check in CHECKS.items():
        found = value(server, check.query, end)
        passed = check.absent_passes if found is None else check.passes(found)
        if not passed:
            failing[name] = found
    return failing


def test_every_scenario_has_an_expected_outcome() -> None:
    assert list(FAILS) == list(gaday.SCENARIOS)


@needs_prometheus
@pytest.mark.parametrize("scenario", list(gaday.SCENARIOS))
def test_each_day_fails_exactly_its_own_checks(prometheus: PrometheusServer, scenario: str) -> None:
    _, end = gaday.scenario_window(scenario)
    failing = failing_checks(prometheus, end)
    assert set(failing) == FAILS[scenario], failing


@needs_prometheus
def test_clean_day_meets_thresholds_with_margin(prometheus: PrometheusServer) -> None:
    _, end = gaday.scenario_window("clean")
    at = {name: value(prometheus, CHECKS[name].query, end) for name in CHECKS}
    assert at["availability"] == 100
    assert at["error_rate"] is not None
    assert 0.01 < at["error_rate"] < 0.05
    assert at["p99_latency"] is not None
    assert at["p99_latency"] < 500
    assert at["cache_hit_rate"] is not None
    assert 97 < at["cache_hit_rate"] < 99
    assert at["ws_reconnect_success"] is not None
    assert at["ws_reconnect_success"] >= 98.5
    assert at["db_p99_latency"] is not None
    assert 15 < at["db_p99_latency"] < 25


@needs_prometheus
def test_fault_days_cross_their_threshold_clearly(prometheus: PrometheusServer) -> None:
    def at_end(scenario: str, check: str) -> float | None:
        return value(prometheus, CHECKS[check].query, gaday.scenario_window(scenario)[1])

    assert (at_end("availability_dip", "availability") or 100) < 99.7
    assert (at_end("error_surge", "error_rate") or 0) > 0.2
    assert (at_end("cache_misses", "cache_hit_rate") or 100) < 93
    assert at_end("container_restarts", "container_restarts") == 2


@needs_prometheus
def test_latency_spike_hits_only_its_service(prometheus: PrometheusServer) -> None:
    _, end = gaday.scenario_window("latency_spike")
    p99 = values(prometheus, P99_5M, end)
    assert set(p99) == set(gaday.SERVICES)
    assert p99.pop("dashboard-api") > 1000
    assert all(v < 1000 for v in p99.values()), p99


@needs_prometheus
def test_missing_exporter_day_has_no_redis_series(prometheus: PrometheusServer) -> None:
    start, end = gaday.scenario_window("missing_exporter")

    def redis_series(first: datetime, last: datetime) -> list[dict[str, Any]]:
        # A range query, as a check over the window sees the data; the series
        # API would not do, as it answers from the block's index, not samples.
        found: list[dict[str, Any]] = api(
            prometheus,
            "query_range",
            query='{__name__=~"redis_.+"}',
            start=first.timestamp(),
            end=last.timestamp(),
            step=60,
        )["result"]
        return found

    assert redis_series(start, end) == []
    # Not even the lookback of a range query's first point sees the day before.
    assert value(prometheus, "redis_connected_clients", start) is None
    assert value(prometheus, "rate(redis_keyspace_hits_total[5m])", start) is None
    # The exporter is back right after the day, and was there the day before.
    day = timedelta(days=1)
    assert len(redis_series(end + timedelta(minutes=1), end + day)) == 4
    assert len(redis_series(start - day, start - timedelta(minutes=15))) == 4


@needs_prometheus
def test_only_the_scenario_alerts_exist_and_fire_for_15_minutes(
    prometheus: PrometheusServer,
) -> None:
    series = api(
        prometheus,
        "series",
        **{"match[]": "ALERTS"},
        start=gaday.DATASET_START.timestamp(),
        end=gaday.DATASET_END.timestamp(),
    )
    assert sorted((s["alertname"], s["severity"]) for s in series) == [
        ("HighErrorRate", "critical"),
        ("HighMemoryUsage", "warning"),
    ]
    _, end = gaday.scenario_window("critical_alert")
    firing = value(prometheus, 'count_over_time(ALERTS{severity="critical"}[24h])', end)
    assert firing == 15  # minutes, one sample a minute


@needs_prometheus
def test_retention_keeps_2025_data(prometheus: PrometheusServer) -> None:
    flags = api(prometheus, "status/flags")
    assert flags["storage.tsdb.retention.time"] == "100y"
    first_sample = gaday.DATASET_START
    assert value(prometheus, "count(up)", first_sample) == 8
    assert value(prometheus, "count(up)", first_sample - timedelta(minutes=10)) is None


# --- the generator, without a server --------------------------------------------

SMALL_START = datetime(2025, 3, 1, tzinfo=UTC)
SMALL_END = SMALL_START + timedelta(hours=2)


def small_faults() -> list[gaday.Fault]:
    begin, end = SMALL_START + timedelta(minutes=30), SMALL_START + timedelta(minutes=60)
    return [gaday.Fault(kind, begin, end) for kind in gaday.FAULT_KINDS]


def generate(seed: int = 0, faults: list[gaday.Fault] | None = None) -> str:
    out = io.StringIO()
    gaday.write_openmetrics(
        out, SMALL_START, SMALL_END, small_faults() if faults is None else faults, 60, seed
    )
    return out.getvalue()


def test_generator_output_is_byte_identical_for_identical_inputs() -> None:
    assert generate() == generate()
    assert generate(seed=1) != generate()


def test_families_are_contiguous_and_series_in_time_order() -> None:
    text = generate(faults=[])
    assert text.endswith("\n# EOF\n")
    families: list[str] = []
    last_time: dict[str, int] = {}
    for line in text.splitlines()[:-1]:
        if line.startswith("# TYPE "):
            families.append(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"(\w+)(\{.*\}) (\S+) (\d+)", line)
        assert match, line
        name, labels, _, stamp = match.groups()
        assert name.startswith(families[-1]), f"{name} outside its family {families[-1]}"
        assert int(stamp) > last_time.get(name + labels, -1)
        last_time[name + labels] = int(stamp)
    assert len(families) == len(set(families))
    assert "ALERTS" not in families  # no alert fires: no ALERTS series at all
    # up 8, http_requests 32, latency 8 x 13, process 16, db latency 4 x 13, db pool 8,
    # redis 4, containers 32, websocket 8, deployments 12, restarts 8.
    assert len(last_time) == 284


def test_faults_reject_unknown_kinds_and_services() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        gaday.Fault("outage", SMALL_START, SMALL_END)
    with pytest.raises(ValueError, match="unknown service"):
        gaday.Fault("latency_spike", SMALL_START, SMALL_END, service="billing")
    with pytest.raises(ValueError, match="timezone-aware"):
        gaday.Fault("latency_spike", datetime(2025, 1, 1), datetime(2025, 1, 2))
