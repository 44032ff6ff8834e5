"""Results documents built by hand, for the render, package and verify tests.

`sample_results()` is a GA day in the shape `gacert run` writes: a failing
latency check with a spike on one service, a warning, a check without data,
checks tagged for the hotfix and drift sections, and range series of 1,441
points. With `hostile=True` some label values, reasons and errors carry
markup, Markdown and template syntax, as a hostile or careless exporter
could. Tests assert that the document validates against the results schema.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, cast

from gacert.document import ResultsDocument

ROOT = Path(__file__).resolve().parent.parent
RESULTS_SCHEMA = json.loads((ROOT / "schemas" / "results.schema.json").read_text("utf-8"))
START, END = 1736899200, 1736985600  # 2025-01-15T00:00:00Z, 2025-01-16T00:00:00Z
HOSTILE_LABELS = ["<script>alert(1)</script>", "![x](http://evil.example/x.png)",
                  "[click](javascript:alert(1))", "{{ secret }}", "a|b`c*d_e_"]
POLICY_TEXT = "version: 1\nname: tars-ga\n# stands in for the policy file evaluated\n"


def _points(base: float, spike: float = 0.0, phase: float = 0.0) -> list[list[float]]:
    """1,441 one-minute points of a daily wave, with a spike from 14:00 to 14:20."""
    points = []
    for minute in range(24 * 60 + 1):
        value = base * (1 + 0.15 * math.sin(minute / 1440 * 2 * math.pi + phase))
        if spike and 840 <= minute <= 860:
            value = spike
        points.append([START + minute * 60, round(value, 3)])
    return points


def _check(check_id: str, title: str, status: str, value: Any, *, unit: str = "",
           tags: tuple[str, ...] = (), rules: dict[str, str] | None = None,
           limits: tuple[tuple[str, str, float], ...] = (),
           series: list[dict[str, Any]] | None = None, gate: bool = True,
           mode: str = "instant", over_time: str | None = None, reason: str = "",
           error: str | None = None, precision: int = 2) -> dict[str, Any]:
    written: dict[str, str | None] = {"pass": None, "warn": None, "fail": None, **(rules or {})}
    decided = None if status == "error" else ("no_data" if status == "no_data" else status)
    return {
        "id": check_id, "title": title, "description": f"What {title} measures.",
        "section": "slo", "source": "prometheus", "gate": gate, "tags": list(tags),
        "status": status, "value": value, "unit": unit, "precision": precision,
        "reason": reason or f"{check_id} {status}: {value} {unit}",
        "decided_by": decided if decided in ("pass", "warn", "fail", "no_data") else None,
        "expression": None, "rules": written,
        "thresholds": [{"rule": rule, "operator": operator, "value": value,
                        "expression": written[rule]} for rule, operator, value in limits],
        "no_data": "no_data",
        "query": f'sum(rate(metric_{check_id}{{job="tars"}}[5m]))', "mode": mode,
        "over_time": over_time, "series_reduction": "each",
        "series": series if series is not None else (
            [] if value is None else [{"labels": {}, "value": value, "status": status}]),
        "warnings": [], "error": error, "duration_seconds": 0.01,
        "measurements": {}, "evidence": {},
    }


def _latency_series(hostile: bool) -> list[dict[str, Any]]:
    services = [("dashboard-api", 310.0, 1750.0), ("insight-engine", 280.0, 0.0),
                ("orchestration-agent", 260.0, 0.0), ("automl-pipeline", 240.0, 0.0)]
    if hostile:
        services.append((HOSTILE_LABELS[0], 200.0, 0.0))
    found = []
    for index, (service, base, spike) in enumerate(services):
        points = _points(base, spike, phase=index)
        peak = max(v for _, v in points)
        status = "fail" if peak >= 1000 else ("warn" if peak >= 800 else "pass")
        found.append({"labels": {"service": service}, "value": peak, "status": status,
                      "points": points})
    return found


def _checks(hostile: bool) -> list[dict[str, Any]]:
    evil = HOSTILE_LABELS if hostile else []
    return [
        _check("availability", "Overall availability", "pass", 99.97, unit="%", tags=("slo",),
               rules={"pass": "value >= availability_target"}, precision=3,
               limits=(("pass", ">=", 99.9),)),
        _check("error_rate", "Overall error rate (5xx)", "pass", 0.02, unit="%", tags=("slo",),
               rules={"fail": "value >= error_rate_max"}, precision=3,
               limits=(("fail", ">=", 0.1),)),
        _check("p99_latency", "Worst service P99 latency", "fail", 1750.0, unit="ms",
               tags=("slo", "latency"), mode="range", over_time="max", precision=1,
               rules={"fail": "value >= p99_latency_ms_max",
                      "warn": "value >= p99_latency_ms_warn"},
               limits=(("fail", ">=", 1000.0), ("warn", ">=", 800.0)),
               series=_latency_series(hostile),
               reason="p99_latency fail: 1,750.0 ms matched fail rule value >= "
                      "p99_latency_ms_max (service=dashboard-api)"),
        _check("ws_reconnect_success", "WebSocket reconnect success (TARS-1001)", "pass", 99.0,
               unit="%", tags=("websocket", "tars-1001"),
               rules={"pass": "value >= ws_reconnect_success_min"},
               limits=(("pass", ">=", 95.0),)),
        _check("db_p99_latency", "Database query P99 latency (TARS-1002)", "pass", 21.0,
               unit="ms", tags=("database", "tars-1002"), rules={"fail": "value >= 50"},
               limits=(("fail", ">=", 50.0),),
               series=[{"labels": {"service": s}, "value": 21.0, "status": "pass"}
                       for s in ("dashboard-api", "insight-engine", *evil)]),
        _check("cpu_drift", "CPU drift against the baseline", "pass", -0.4, unit="%",
               tags=("drift", "resources"), rules={"fail": "abs(value) >= drift_max_percent"},
               limits=(("fail", ">=", 10.0), ("fail", "<=", -10.0))),
        _check("cache_hit_rate", "Cache hit rate", "no_data", None, unit="%", tags=("cache",),
               rules={"pass": "value >= 95"}, limits=(("pass", ">=", 95.0),),
               reason="cache_hit_rate no_data: the query returned no series"),
        _check("container_restarts", "Container restarts", "warn", 2, tags=("kubernetes",),
               rules={"warn": "value > 0"}, limits=(("warn", ">", 0.0),), gate=False,
               precision=0),
        _check("hostile_labels" if hostile else "critical_alerts",
               "Critical alerts" + (" <b>bold</b>" if hostile else ""), "error" if hostile
               else "pass", None if hostile else 0, tags=("alerts",),
               rules={"fail": "value > 0"}, limits=(("fail", ">", 0.0),),
               series=[{"labels": {"service": label}, "value": 1.0, "status": "pass"}
                       for label in evil],
               error="source said <img src=x onerror=alert(1)> {{ boom }}" if hostile
               else None,
               reason="hostile_labels error: <img src=x onerror=alert(1)>" if hostile else ""),
        _check("cpu_usage", "CPU per service", "pass", 0.5, unit="cores", mode="range",
               over_time="avg", rules={"pass": "value >= 0"}, limits=(("pass", ">=", 0.0),),
               gate=False, tags=("resources",),
               series=[{"labels": {"service": "dashboard-api"}, "value": 0.5, "status": "pass",
                        "points": _points(0.5)}]),
    ]


def sample_results(*, hostile: bool = False,
                   policy_path: str = "policy.yaml") -> ResultsDocument:
    """A failing GA day's results document (schema version 1)."""
    checks = _checks(hostile)
    counts = {s: sum(1 for c in checks if c["status"] == s)
              for s in ("pass", "warn", "fail", "no_data", "error")}
    # Built from loosely typed parts; the tests validate it against the schema.
    return cast(ResultsDocument, {
        "schema_version": 1, "status": "fail", "exit_code": 1, "gacert_version": "0.1.0",
        "policy": {"name": "tars-ga", "title": "T.A.R.S. GA Day certification",
                   "path": policy_path,
                   "sha256": hashlib.sha256(POLICY_TEXT.encode()).hexdigest(), "version": 1,
                   "description": "Availability, errors and latency over GA day.\n",
                   "labels": {"product": "tars", "release": "v1.0.1"},
                   "report_title": "T.A.R.S. GA Day certification report"},
        "window": {"start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z",
                   "duration_seconds": 86400.0, "step_seconds": 60.0},
        "params": {"availability_target": 99.9, "error_rate_max": 0.1,
                   "p99_latency_ms_max": 1000, "p99_latency_ms_warn": 800,
                   "ws_reconnect_success_min": 95, "drift_max_percent": 10,
                   "job": HOSTILE_LABELS[1] if hostile else "tars"},
        "sources": [{"id": "prometheus", "type": "prometheus",
                     "endpoint": "http://127.0.0.1:9090"}],
        "timings": {"started_at": "2025-01-16T00:05:00Z", "finished_at": "2025-01-16T00:05:02Z",
                    "duration_seconds": 2.1, "fetch_seconds": 1.9},
        "summary": {"total": len(checks), "gate": sum(1 for c in checks if c["gate"]),
                    **counts},
        "sections": [{"id": "slo", "title": "SLO compliance", "description": "Objectives.",
                      "checks": [c["id"] for c in checks[:4]]},
                     {"id": "other", "title": "Other checks", "description": "",
                      "checks": [c["id"] for c in checks[4:]]}],
        "checks": checks,
    })


def write_results(directory: Path, document: ResultsDocument | None = None) -> Path:
    """results.json and the policy file it names, in `directory`; returns the results path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.yaml").write_text(POLICY_TEXT)
    path = directory / "results.json"
    path.write_text(json.dumps(document or sample_results(
        policy_path=str(directory / "policy.yaml")), indent=2))
    return path


def with_report_layout(document: ResultsDocument, policy_path: Path) -> ResultsDocument:
    """`document` with the GA Day report layout and the SLOs of the policy at
    `policy_path`, as `gacert run` would have recorded them (a copy)."""
    from gacert.engine.results import ga_day_document, slo_document
    from gacert.policy.load import load_policy

    policy = load_policy(str(policy_path))
    slos = {check.id: check.slo for check in policy.checks}
    copy: ResultsDocument = json.loads(json.dumps(document))
    copy["policy"]["ga_day"] = ga_day_document(policy.ga_day)
    for check in copy["checks"]:
        check["slo"] = slo_document(slos.get(check["id"]))
    return copy


def write_package_of(directory: Path, series: int) -> Path:
    """A package (directory and tarball beside it) whose range check `cpu_usage` holds
    `series` series with all their 1,441 points each, as results of gacert versions
    that kept every point were: a results.json of about 0.1 MB a series."""
    from gacert.engine.results import results_bytes
    from gacert.package.build import PackageOptions, write_package

    document = sample_results(policy_path=str(directory / "policy.yaml"))
    check = next(c for c in document["checks"] if c["id"] == "cpu_usage")
    check["series"] = [{"labels": {"pod": f"pod-{i:04d}"}, "value": 0.5, "status": "pass",
                        "points": cast(Any, _points(0.5, phase=i / 7))} for i in range(series)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.yaml").write_text(POLICY_TEXT)
    results = directory / "results.json"
    results.write_bytes(results_bytes(document))
    package = directory / "pkg"
    write_package(document, str(results), str(package), PackageOptions(pdf=False))
    return package
