"""The published JSON Schemas: policy.schema.json and results.schema.json.

The policy schema is what editors (yaml-language-server) and the first step of
`gacert validate` use; the meaning checks (unknown sources, duplicate ids,
expressions, zero durations, registered source types) belong to the engine
and are tested beside it.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
POLICY_SCHEMA = json.loads((ROOT / "schemas" / "policy.schema.json").read_text("utf-8"))
RESULTS_SCHEMA = json.loads((ROOT / "schemas" / "results.schema.json").read_text("utf-8"))
POLICY_VALIDATOR = Draft202012Validator(POLICY_SCHEMA)
RESULTS_VALIDATOR = Draft202012Validator(RESULTS_SCHEMA)

# Uses every key of the policy language at least once.
COMPLETE_POLICY = """\
# yaml-language-server: $schema=../schemas/policy.schema.json
version: 1
name: tars-ga
title: T.A.R.S. GA Day certification
description: |
  Availability, errors and latency of the T.A.R.S. services over GA day.
labels: {team: sre, service: tars}

window:
  duration: 24h
  step: 1m
  scrape_interval: 15s
  coverage: {min: 0.95, max_gap: 15m, reference: 'up{job="$job"}'}

params:
  availability_target: 99.9
  job: tars
  strict: true
  p99_latency_ms_max:
    default: 1000
    description: Worst service P99 latency allowed, in ms.

sources:
  prometheus:
    type: prometheus
    dialect: promql
    url: ${PROMETHEUS_URL:-http://localhost:9090}
    timeout: 30s
    retries: 3
    backoff: 500ms
    concurrency: 8
    compression: false
    max_response_bytes: 67108864
    max_inflated_bytes: ${PROMETHEUS_MAX_INFLATED_BYTES:-268435456}
    headers: {X-Scope-OrgID: tenant-1}
    auth:
      bearer_token: ${PROMETHEUS_TOKEN}
    tls:
      insecure_skip_verify: false
      ca_file: /etc/ssl/ca.pem
      cert_file: client.pem
      key_file: client.key
  thanos:
    type: prometheus
    url: https://thanos.example.com
    timeout: ${THANOS_TIMEOUT:-1m}
    auth:
      basic: {username: gacert, password: "${THANOS_PASSWORD}"}
  dashboard:
    type: http
    url: ${TARS_DASHBOARD_URL:-http://localhost:3000/}
    method: GET
    headers: {X-Org: tars}
    auth: {bearer_token: "${DASHBOARD_TOKEN:-}"}
    body: ""
    requests: ${DASHBOARD_REQUESTS:-20}
    concurrency: 2
    interval: 100ms
    timeout: 10s
    follow_redirects: true
    keep_alive: false
    tls: {insecure_skip_verify: false, ca_file: ca.pem, cert_file: c.pem, key_file: c.key}
    expect: {status: [200, 3xx], body_contains: T.A.R.S., json: {status: ok}}
    watch: {requests: 5}
  api:
    type: http
    url: https://api.example.com/query
    method: POST
    json: {query: up}
    duration: 1m
  tars_ws:
    type: websocket
    url: ${TARS_WS_URL:-ws://localhost:8080/ws}
    headers: {X-Client: gacert}
    auth: {basic: {username: probe, password: "${WS_PASSWORD}"}}
    subprotocols: [tars.v1]
    iterations: 60
    interval: 5s
    disconnect: alternate
    check: echo
    message: ping
    connect_timeout: 10s
    answer_timeout: 5s
    retries: 3
    backoff: 1s
    watch: {iterations: "${WS_WATCH_ITERATIONS:-5}"}
  tars_ws_long:
    type: websocket
    url: wss://tars.example.com/ws
    duration: 1h
  rollout:
    type: command
    command: [kubectl, rollout, status, deployment/tars, --timeout=60s]
    shell: false
    timeout: 90s
    env: {KUBECONFIG: /etc/kube/config}
    inherit_env: true
    cwd: /tmp
    max_output: 65536
  k6:
    type: file
    path: reports/k6-summary.json
    format: json
    max_age: 1d

checks:
  - id: availability
    title: Overall availability
    description: Share of successful scrapes over the window.
    source: prometheus
    query: avg_over_time(up{job="$job"}[$__range]) * 100
    series: min
    unit: "%"
    precision: 3
    pass: value >= availability_target
    no_data: fail
    coverage: {min: 0.99, max_gap: 5m}
    tags: [slo]
    slo: {objective: 99.9, value: good}
  - id: p99_latency
    title: Worst service P99 latency
    source: thanos
    query: >
      histogram_quantile(0.99, sum by (service, le)
        (rate(http_request_duration_seconds_bucket{job="$job"}[$__rate_interval]))) * 1000
    mode: range
    over_time: max
    series: each
    unit: ms
    precision: 2
    keep_points: 10
    weight: 2
    fail: value >= p99_latency_ms_max
    warn: value >= p99_latency_ms_max * 0.8
    pass: value < p99_latency_ms_max
    no_data: no_data
    gate: true
    tags: [latency, slo]
  - id: restarts
    source: prometheus
    query: sum(increase(kube_pod_container_status_restarts_total[$__range]))
    warn: value > 0
    gate: false

waivers:
  - check: p99_latency
    series: [{service: export}]
    reason: Known slow export path, fixed in 2.4.1.
    approver: sre-lead
    expires: "2099-01-31"
    ticket: TARS-1234

score: {pass: 90, warn: 75}

report:
  title: GA Day certification report
  keep_points: 3
  sections:
    - id: slo
      title: SLO compliance
      description: Service level objectives over the window.
      checks: [availability, p99_latency]
  ga_day:
    sections:
      - title: Executive Summary
        text: The release and its outcome at a glance.
        parts:
          - {title: Deployment overview, show: overview, fields: {Deployment lead: name}}
          - {title: Critical metrics, show: table, select: gate, tags: [slo]}
          - {show: timeline, events: [Deployment started]}
          - {label: Change approval, fill: ticket}
          - {text: Signed by the release board., show: sign_off, roles: [Release manager]}
  templates:
    report: templates/report.md.j2
    ga_day: templates/ga_day.md.j2
    html: templates/ga_day.html.j2
    email: templates/email.txt.j2

notify:
  alert_on: warn
  report_url: ${CI_JOB_URL:-https://ci.example.com}/GA_DAY_REPORT.html
  retries: 3
  backoff: 1s
  timeout: 10s
  targets:
    - {type: slack, url: "${SLACK_WEBHOOK_URL}", when: [fail, verdict]}
    - {type: webhook, url: "https://hooks.example.com/gacert", secret: "${HOOK_SECRET}",
       when: [change]}
    - type: email
      host: smtp.example.com
      port: 587
      security: starttls
      ca_file: /etc/ssl/smtp-ca.pem
      username: ${SMTP_USER}
      password: ${SMTP_PASSWORD}
      from: gacert@example.com
      to: [sre@example.com]
      when: [verdict]
"""

MINIMAL_POLICY = """\
version: 1
name: minimal
sources:
  prom: {type: prometheus, url: "http://localhost:9090"}
checks:
  - {id: up, source: prom, query: up, pass: value == 1}
"""


def load(text: str) -> Any:
    return yaml.safe_load(textwrap.dedent(text))


def errors(validator: Draft202012Validator, instance: Any) -> list[tuple[str | None, list[Any]]]:
    """(validator keyword, path in the document) of every error, in a stable order."""
    found = [(e.validator, list(e.absolute_path)) for e in validator.iter_errors(instance)]
    return sorted(found, key=repr)


def test_both_schemas_are_valid_draft_2020_12() -> None:
    for schema in (POLICY_SCHEMA, RESULTS_SCHEMA):
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_complete_example_policy_validates() -> None:
    assert errors(POLICY_VALIDATOR, load(COMPLETE_POLICY)) == []


def test_the_complete_example_uses_every_property_of_the_schema() -> None:
    used = set(_keys(load(COMPLETE_POLICY)))
    declared = {name for _, name, _ in _properties(POLICY_SCHEMA) if name}
    assert declared - used == set()


@dataclass(frozen=True)
class Case:
    """A change to the minimal policy and the one error it must cause (None: valid)."""

    id: str
    change: str  # YAML mapping; its top-level keys replace those of MINIMAL_POLICY
    keyword: str | None = None
    path: tuple[Any, ...] = ()


CASES = [
    Case("the minimal policy validates", "{}"),
    Case(
        "a check without pass, warn or fail is rejected",
        "checks: [{id: up, source: prom, query: up}]",
        "anyOf",
        ("checks", 0),
    ),
    Case(
        "a check with only a warn rule validates",
        "checks: [{id: up, source: prom, query: up, warn: value < 1}]",
    ),
    Case(
        "a check without a query passes the schema (the engine requires it for prometheus)",
        "checks: [{id: up, source: prom, fail: value < 1}]",
    ),
    Case(
        "a range check without over_time is rejected",
        "checks: [{id: up, source: prom, query: up, mode: range, pass: value == 1}]",
        "required",
        ("checks", 0),
    ),
    Case(
        "a range check with over_time validates",
        "checks: [{id: up, source: prom, query: up, mode: range, over_time: p95, warn: value < 1}]",
    ),
    Case(
        "over_time on an instant check passes the schema (the engine rejects it with a hint)",
        "checks: [{id: up, source: prom, query: up, over_time: max, pass: value == 1}]",
    ),
    Case(
        "an unknown over_time reduction is rejected",
        "checks: [{id: up, source: prom, query: up, mode: range, over_time: median, pass: 'true'}]",
        "enum",
        ("checks", 0, "over_time"),
    ),
    Case(
        "an unknown mode is rejected",
        "checks: [{id: up, source: prom, query: up, mode: matrix, pass: value == 1}]",
        "enum",
        ("checks", 0, "mode"),
    ),
    Case(
        "an unknown series reduction is rejected",
        "checks: [{id: up, source: prom, query: up, series: median, pass: value == 1}]",
        "enum",
        ("checks", 0, "series"),
    ),
    Case(
        "an unknown no_data status is rejected",
        "checks: [{id: up, source: prom, query: up, no_data: ignore, pass: value == 1}]",
        "enum",
        ("checks", 0, "no_data"),
    ),
    Case(
        "a precision above 10 is rejected",
        "checks: [{id: up, source: prom, query: up, precision: 11, pass: value == 1}]",
        "maximum",
        ("checks", 0, "precision"),
    ),
    Case(
        "a gate written as a string is rejected",
        "checks: [{id: up, source: prom, query: up, gate: 'no', pass: value == 1}]",
        "type",
        ("checks", 0, "gate"),
    ),
    Case(
        "repeated tags are rejected",
        "checks: [{id: up, source: prom, query: up, tags: [slo, slo], pass: value == 1}]",
        "uniqueItems",
        ("checks", 0, "tags"),
    ),
    Case(
        "an empty rule expression is rejected",
        "checks: [{id: up, source: prom, query: up, pass: ''}]",
        "minLength",
        ("checks", 0, "pass"),
    ),
    Case(
        "an unknown check key is rejected",
        "checks: [{id: up, source: prom, query: up, pass: value == 1, threshold: 1}]",
        "additionalProperties",
        ("checks", 0),
    ),
    Case(
        "a check id starting with a digit is rejected",
        "checks: [{id: 1up, source: prom, query: up, pass: value == 1}]",
        "pattern",
        ("checks", 0, "id"),
    ),
    Case(
        "a check without a source is rejected",
        "checks: [{id: up, query: up, pass: value == 1}]",
        "required",
        ("checks", 0),
    ),
    Case("an empty check list is rejected", "checks: []", "minItems", ("checks",)),
    Case("an unknown top-level key is rejected", "owner: sre", "additionalProperties", ()),
    Case("a version other than 1 is rejected", "version: 2", "const", ("version",)),
    Case("an upper-case policy name is rejected", "name: TARS", "pattern", ("name",)),
    Case("a bad duration is rejected", "window: {step: 1 minute}", "pattern", ("window", "step")),
    Case(
        "a duration with its units out of order is rejected",
        "window: {duration: 30m1h}",
        "pattern",
        ("window", "duration"),
    ),
    Case(
        "a duration written as a bare number is rejected",
        "window: {scrape_interval: 15}",
        "type",
        ("window", "scrape_interval"),
    ),
    Case(
        "an empty duration is rejected",
        "window: {duration: ''}",
        "minLength",
        ("window", "duration"),
    ),
    Case(
        "a duration of several units validates",
        "window: {duration: 1d12h, step: 1m30s, scrape_interval: 500ms}",
    ),
    Case(
        "an unknown window key is rejected",
        "window: {end: now}",
        "additionalProperties",
        ("window",),
    ),
    Case("a long-form param validates", "params: {max_ms: {default: 10, description: ms}}"),
    Case(
        "a long-form param without a default is rejected",
        "params: {max_ms: {description: ms}}",
        "anyOf",
        ("params", "max_ms"),
    ),
    Case(
        "a param whose value is a list is rejected",
        "params: {jobs: [a, b]}",
        "anyOf",
        ("params", "jobs"),
    ),
    Case("a param without a value is rejected", "params: {job: }", "anyOf", ("params", "job")),
    Case("an upper-case param name is rejected", "params: {Job: tars}", "pattern", ("params",)),
    Case(
        "a label value that is not a string is rejected",
        "labels: {tier: 1}",
        "type",
        ("labels", "tier"),
    ),
    Case(
        "a source of an unknown type passes the schema (the engine checks types)",
        "sources: {k6: {type: k6-summary, path: results/k6.json, anything: [1, 2]}}",
    ),
    Case(
        "a source without a type is rejected",
        "sources: {prom: {url: x}}",
        "required",
        ("sources", "prom"),
    ),
    Case("an empty sources key is rejected", "sources:", "type", ("sources",)),
    Case("an empty sources mapping is rejected", "sources: {}", "minProperties", ("sources",)),
    Case(
        "an upper-case source id is rejected",
        "sources: {Prom: {type: custom}}",
        "pattern",
        ("sources",),
    ),
    Case(
        "a prometheus source without a url is rejected",
        "sources: {prom: {type: prometheus}}",
        "required",
        ("sources", "prom"),
    ),
    Case(
        "an unknown prometheus setting is rejected",
        "sources: {prom: {type: prometheus, url: x, timout: 5s}}",
        "additionalProperties",
        ("sources", "prom"),
    ),
    Case(
        "a bad prometheus timeout is rejected",
        "sources: {prom: {type: prometheus, url: x, timeout: 30}}",
        "anyOf",
        ("sources", "prom", "timeout"),
    ),
    Case(
        "a prometheus backoff from the environment validates",
        "sources: {prom: {type: prometheus, url: x, backoff: '${BACKOFF:-1s}'}}",
    ),
    Case(
        "more than 10 retries are rejected",
        "sources: {prom: {type: prometheus, url: x, retries: 11}}",
        "maximum",
        ("sources", "prom", "retries"),
    ),
    Case(
        "a concurrency of 0 is rejected",
        "sources: {prom: {type: prometheus, url: x, concurrency: 0}}",
        "minimum",
        ("sources", "prom", "concurrency"),
    ),
    Case(
        "a header value that is not a string is rejected",
        "sources: {prom: {type: prometheus, url: x, headers: {X-Tenant: 7}}}",
        "type",
        ("sources", "prom", "headers", "X-Tenant"),
    ),
    Case(
        "a header name with a space is rejected",
        "sources: {prom: {type: prometheus, url: x, headers: {'X Tenant': a}}}",
        "pattern",
        ("sources", "prom", "headers"),
    ),
    Case(
        "auth with both bearer_token and basic is rejected",
        "sources: {prom: {type: prometheus, url: x,"
        " auth: {bearer_token: t, basic: {username: u, password: p}}}}",
        "maxProperties",
        ("sources", "prom", "auth"),
    ),
    Case(
        "basic auth without a password is rejected",
        "sources: {prom: {type: prometheus, url: x, auth: {basic: {username: u}}}}",
        "required",
        ("sources", "prom", "auth", "basic"),
    ),
    Case(
        "an unknown auth method is rejected",
        "sources: {prom: {type: prometheus, url: x, auth: {oauth2: {}}}}",
        "additionalProperties",
        ("sources", "prom", "auth"),
    ),
    Case(
        "an unknown tls key is rejected",
        "sources: {prom: {type: prometheus, url: x, tls: {verify: false}}}",
        "additionalProperties",
        ("sources", "prom", "tls"),
    ),
    Case(
        "a section without checks is rejected",
        "report: {sections: [{id: slo, title: SLO}]}",
        "required",
        ("report", "sections", 0),
    ),
    Case(
        "a section with an empty check list is rejected",
        "report: {sections: [{id: slo, title: SLO, checks: []}]}",
        "minItems",
        ("report", "sections", 0, "checks"),
    ),
    Case(
        "a section naming a check twice is rejected",
        "report: {sections: [{id: slo, title: SLO, checks: [up, up]}]}",
        "uniqueItems",
        ("report", "sections", 0, "checks"),
    ),
    Case(
        "an unknown report key is rejected",
        "report: {footer: x}",
        "additionalProperties",
        ("report",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_policy_schema(case: Case) -> None:
    policy = load(MINIMAL_POLICY)
    policy.update(load(case.change))
    expected = [] if case.keyword is None else [(case.keyword, list(case.path))]
    assert errors(POLICY_VALIDATOR, policy) == expected


POLICY_REQUIRED = ["version", "name", "sources", "checks"]


@pytest.mark.parametrize(
    "key", POLICY_REQUIRED, ids=[f"a policy without {key} is rejected" for key in POLICY_REQUIRED]
)
def test_a_policy_without_a_required_key_is_rejected(key: str) -> None:
    policy = load(MINIMAL_POLICY)
    del policy[key]
    assert errors(POLICY_VALIDATOR, policy) == [("required", [])]


def test_every_property_has_a_title_and_a_description() -> None:
    missing = [
        where
        for where, _, schema in _properties(POLICY_SCHEMA)
        if not (schema.get("title") and schema.get("description"))
    ]
    assert missing == []


def test_every_default_and_example_is_valid_against_its_own_schema() -> None:
    wrong = []
    for where, schema in _subschemas(POLICY_SCHEMA, "#"):
        validator = POLICY_VALIDATOR.evolve(schema=schema)
        samples = ([schema["default"]] if "default" in schema else []) + schema.get("examples", [])
        wrong += [f"{where}: {sample!r}" for sample in samples if not validator.is_valid(sample)]
    assert wrong == []


def test_descriptions_are_sentences_of_plain_text() -> None:
    for where, _, schema in _properties(POLICY_SCHEMA):
        description = schema["description"]
        assert description[:1].isupper(), where
        assert description.endswith("."), where
        assert "\n" not in description, where


def test_the_complete_example_in_the_docs_validates() -> None:
    text = (ROOT / "docs" / "policy.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    complete = [yaml.safe_load(block) for block in blocks if block.startswith("# yaml-language")]
    assert complete, "docs/policy.md has no complete example (a block starting with the modeline)"
    for policy in complete:
        assert errors(POLICY_VALIDATOR, policy) == []


SAMPLE_RESULTS = """\
{
  "schema_version": 1,
  "status": "fail",
  "exit_code": 1,
  "gacert_version": "0.1.0",
  "policy": {"name": "tars-ga", "title": "T.A.R.S. GA Day certification",
             "path": "policies/ga.yaml", "sha256": "%s", "version": 1},
  "window": {"start": "2025-01-15T00:00:00Z", "end": "2025-01-16T00:00:00Z",
             "duration_seconds": 86400, "step_seconds": 60},
  "params": {"availability_target": 99.9, "job": "tars", "strict": true},
  "sources": [{"id": "prometheus", "type": "prometheus", "endpoint": "http://localhost:9090"}],
  "timings": {"started_at": "2025-01-16T00:05:00Z", "finished_at": "2025-01-16T00:05:01Z",
              "duration_seconds": 1.23, "fetch_seconds": 1.01},
  "summary": {"total": 3, "gate": 2, "pass": 0, "warn": 0, "fail": 1, "no_data": 1, "error": 1},
  "sections": [{"id": "slo", "title": "SLO compliance", "description": "",
                "checks": ["p99_latency"]}],
  "checks": [
    {
      "id": "p99_latency", "title": "Worst service P99 latency", "description": "",
      "section": "slo", "source": "prometheus", "gate": true, "tags": ["latency"],
      "status": "fail", "value": 1750.2, "unit": "ms", "precision": 2,
      "reason": "p99_latency fail: 1750.2 ms matched value >= p99_latency_ms_max",
      "decided_by": "fail", "expression": "value >= p99_latency_ms_max",
      "rules": {"pass": null, "warn": "value >= p99_latency_ms_max * 0.8",
                "fail": "value >= p99_latency_ms_max"},
      "thresholds": [
        {"rule": "fail", "operator": ">=", "value": 1000.0,
         "expression": "value >= p99_latency_ms_max"},
        {"rule": "warn", "operator": ">=", "value": 800.0,
         "expression": "value >= p99_latency_ms_max * 0.8"}
      ],
      "no_data": "no_data",
      "query": "histogram_quantile(0.99, sum by (service, le) (rate(x[5m]))) * 1000",
      "mode": "range", "over_time": "max", "series_reduction": "each",
      "series": [
        {"labels": {"service": "dashboard-api"}, "value": 1750.2, "status": "fail",
         "points": [[1736899200.0, 312.5], [1736899260.0, "NaN"], [1736899320.0, 1750.2]]},
        {"labels": {"service": "insight-engine"}, "value": "+Inf", "status": "fail",
         "points": [[1736899200.0, "+Inf"]]}
      ],
      "warnings": [], "error": null, "duration_seconds": 0.042
    },
    {
      "id": "availability", "title": "availability", "status": "no_data", "value": null,
      "unit": "%%", "reason": "availability no_data: the query returned no series",
      "decided_by": "no_data", "expression": null, "query": "up", "mode": "instant",
      "over_time": null, "series_reduction": "min", "series": [], "error": null,
      "thresholds": []
    },
    {
      "id": "restarts", "title": "restarts", "status": "error", "value": null, "unit": null,
      "reason": "restarts error: prometheus did not answer", "decided_by": null,
      "query": "sum(restarts)", "series": [], "thresholds": [],
      "error": "GET http://localhost:9090/api/v1/query: connection refused"
    }
  ]
}
""" % ("0" * 64)


def test_the_results_schema_requires_the_documented_keys() -> None:
    assert set(RESULTS_REQUIRED) == {
        "status",
        "gacert_version",
        "policy",
        "window",
        "checks",
        "summary",
        "timings",
        "schema_version",
    }
    assert set(RESULTS_SCHEMA["$defs"]["check"]["required"]) == {
        "id",
        "title",
        "status",
        "value",
        "unit",
        "reason",
        "query",
        "series",
        "error",
        "thresholds",
    }


def test_a_sample_results_document_validates() -> None:
    assert errors(RESULTS_VALIDATOR, json.loads(SAMPLE_RESULTS)) == []


@dataclass(frozen=True)
class ResultsCase:
    """One value replaced in the sample results and the one error it must cause."""

    id: str
    where: tuple[Any, ...]  # path of the value to replace
    value: Any
    keyword: str


RESULTS_CASES = [
    ResultsCase("a bad verdict is rejected", ("status",), "no_data", "enum"),
    ResultsCase("a bad check status is rejected", ("checks", 0, "status"), "ok", "enum"),
    ResultsCase(
        "a bad series status is rejected", ("checks", 0, "series", 0, "status"), "ok", "enum"
    ),
    ResultsCase("a lower-case nan value is rejected", ("checks", 0, "value"), "nan", "anyOf"),
    ResultsCase(
        "a point of three numbers is rejected",
        ("checks", 0, "series", 0, "points", 0),
        [1.0, 2.0, 3.0],
        "maxItems",
    ),
    ResultsCase(
        "a point with an infinite timestamp is rejected",
        ("checks", 0, "series", 0, "points", 0, 0),
        "+Inf",
        "type",
    ),
    ResultsCase(
        "a series label value that is not a string is rejected",
        ("checks", 0, "series", 0, "labels", "service"),
        1,
        "type",
    ),
    ResultsCase(
        "a passing check with an error sentence is rejected", ("checks", 0, "error"), "x", "type"
    ),
    ResultsCase("a short policy digest is rejected", ("policy", "sha256"), "abc", "pattern"),
    ResultsCase("a threshold of an unknown rule is rejected",
                ("checks", 0, "thresholds", 0, "rule"), "no_data", "enum"),
    ResultsCase("a threshold operator that is no comparison is rejected",
                ("checks", 0, "thresholds", 0, "operator"), "in", "enum"),
    ResultsCase("an infinite threshold is rejected",
                ("checks", 0, "thresholds", 1, "value"), "+Inf", "type"),
    ResultsCase("a negative count is rejected", ("summary", "fail"), -1, "minimum"),
]


def test_an_error_status_from_the_no_data_setting_needs_no_error_sentence() -> None:
    document = json.loads(SAMPLE_RESULTS)
    document["checks"][1].update(status="error", no_data="error")
    assert errors(RESULTS_VALIDATOR, document) == []


@pytest.mark.parametrize("case", RESULTS_CASES, ids=[case.id for case in RESULTS_CASES])
def test_results_schema(case: ResultsCase) -> None:
    document = json.loads(SAMPLE_RESULTS)
    target = document
    for key in case.where[:-1]:
        target = target[key]
    target[case.where[-1]] = case.value
    assert errors(RESULTS_VALIDATOR, document) == [(case.keyword, list(case.where))]


RESULTS_REQUIRED = RESULTS_SCHEMA["required"]


@pytest.mark.parametrize(
    "key", RESULTS_REQUIRED, ids=[f"results without {key} are rejected" for key in RESULTS_REQUIRED]
)
def test_results_without_a_required_key_are_rejected(key: str) -> None:
    document = json.loads(SAMPLE_RESULTS)
    del document[key]
    assert errors(RESULTS_VALIDATOR, document) == [("required", [])]


# Walking the policy schema.

_NOT_DECLARATIONS = {"if", "const", "enum", "default", "examples", "propertyNames"}


def _subschemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in `schema`, skipping conditions and literal values."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for key, value in schema.items():
        if key in _NOT_DECLARATIONS:
            continue
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                yield from _subschemas(sub, f"{where}/{key}/{name}")
        elif isinstance(value, dict):
            yield from _subschemas(value, f"{where}/{key}")
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                yield from _subschemas(sub, f"{where}/{key}/{index}")


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(location, name, schema) of every declared property and every map value or list item."""
    for where, sub in _subschemas(schema, "#"):
        for name, prop in sub.get("properties", {}).items():
            yield f"{where}/properties/{name}", name, prop
        for key in ("additionalProperties", "items"):
            if isinstance(sub.get(key), dict):
                yield f"{where}/{key}", "", sub[key]
        if where == "#":
            for name, definition in sub.get("$defs", {}).items():
                yield f"#/$defs/{name}", "", definition


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield key
            yield from _keys(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _keys(sub)


def test_the_walk_finds_the_nested_settings() -> None:
    names = {name for _, name, _ in _properties(POLICY_SCHEMA)}
    assert {"insecure_skip_verify", "username", "over_time", "scrape_interval"} <= names


def test_a_copy_of_the_complete_policy_with_a_typo_is_rejected() -> None:
    policy = load(COMPLETE_POLICY)
    policy["checks"][1]["over_tme"] = policy["checks"][1].pop("over_time")
    assert errors(POLICY_VALIDATOR, policy) == [
        ("additionalProperties", ["checks", 1]),
        ("required", ["checks", 1]),
    ]
