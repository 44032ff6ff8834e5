"""Hypothesis strategies that break a valid policy: in its text and in its data.

Shared by the fuzz test of the validator and the test that the fast schema
check agrees with jsonschema.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

# A valid policy that uses most of the language: long and short params,
# window, env references, auth, headers, range checks, sections, tags.
VALID_POLICY = """\
version: 1
name: fuzz
title: Fuzz base
labels: {team: sre}
window: {duration: 24h, step: 1m, scrape_interval: 15s}
params:
  job: api
  target: 99.9
  rate_window: 5m
  strict: true
  p99_max:
    default: 1000
    description: Worst P99 in ms.
sources:
  prom:
    type: prometheus
    url: ${PROM_URL:-http://localhost:9090}
    timeout: 30s
    retries: 3
    headers: {X-Scope-OrgID: tenant}
    auth: {bearer_token: "${TOKEN}"}
checks:
  - id: availability
    source: prom
    query: avg_over_time(up{job="$job"}[$__range]) * 100
    series: avg
    unit: "%"
    pass: value >= target
    tags: [slo]
  - id: latency
    source: prom
    query: >
      histogram_quantile(0.99, sum by (le)
        (rate(http_request_duration_seconds_bucket{job="$job"}[$rate_window]))) * 1000
    mode: range
    over_time: max
    fail: value >= p99_max
    warn: value >= p99_max * 0.8
  - id: alerts
    source: prom
    query: count(ALERTS{alertstate="firing"})
    no_data: pass
    fail: value > 0
    gate: false
report:
  title: Report
  sections:
    - id: slo
      title: SLO
      checks: [availability, latency]
"""
VALID_DATA: dict[str, Any] = yaml.safe_load(VALID_POLICY)

# Text that YAML, the schema, PromQL or the expressions care about.
SNIPPETS = [
    "{", "}", "[", "]", ":", ": ", "- ", "\n", "  ", "\t", "&a ", "*a", "<<: *a", "'", '"',
    "!!binary ", "!!python/object ", "$", "${", "$__range", "$$", "(", ")", "**", "value",
    " >= ", "1e309", ".nan", "#", "%", "@", "---\n", "...\n", "~", "é", "\u2028", "9" * 30,
    "null", "true", "[$__range]", "offset", "by (", "==", " and ", "lambda", "__class__",
]
VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 1.5, 10**30, float("nan"), float("inf"), "", "x", "value >",
    "rate(", "sum(rate(x[5m]))", "1h", "0s", "5q", [], {}, [1, "a"], {"a": 1}, "${X",
    "$nope", "x[1e19]", "10 ** 400", "value ** 2 ** 100", "'a' * 999999", "params['zz']",
    "value >= job", "labels.zone == 'a'", "value in (1, 2)", "prometheus", "http",
    "range", "instant", "max", "each", "p99", "availability",
]


@st.composite
def text_mutation(draw: st.DrawFn, base: str = VALID_POLICY) -> bytes:
    """The base text with a few characters inserted, deleted or replaced."""
    text = base
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate-line"]))
        snippet = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=4)))
        if kind == "insert":
            text = text[:at] + snippet + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 30)):]
        elif kind == "replace":
            text = text[:at] + snippet + text[at + len(snippet):]
        else:
            lines = text.split("\n")
            index = min(at, len(lines) - 1)
            lines.insert(index, lines[index])
            text = "\n".join(lines)
    return text.encode("utf-8", "surrogatepass")


def values() -> st.SearchStrategy[Any]:
    # A copy each time: later mutations must not change the shared examples.
    return st.sampled_from(VALUES).map(copy.deepcopy)


@st.composite
def data_mutation(draw: st.DrawFn) -> Any:
    """The base policy's data with a few values replaced, keys deleted or renamed."""
    data = copy.deepcopy(VALID_DATA)
    for _ in range(draw(st.integers(1, 4))):
        parent, key = _random_slot(draw, data)
        if parent is None:
            data = draw(values())
            continue
        kind = draw(st.sampled_from(["replace", "replace", "delete", "rename", "grow"]))
        if kind == "replace":
            parent[key] = draw(values())
        elif kind == "delete":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["s", "_", "x", ""]))] = parent.pop(key)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[draw(st.sampled_from(["extra", "tags", "mode", "gate", "type"]))] = \
                draw(values())
    return data


def _random_slot(draw: st.DrawFn, data: Any) -> tuple[Any, Any]:
    """A (container, key) somewhere in `data`; (None, None) for the root itself."""
    parent: Any = None
    key: Any = None
    node = data
    for _ in range(draw(st.integers(0, 6))):
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) \
            if isinstance(node, list) else []
        if not keys:
            break
        parent, key = node, draw(st.sampled_from(keys))
        node = node[key]
    return parent, key


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")
