"""Policies with probe sources: the shipped ones validate and run end to end, and
validation knows each probe's query rule and measurement names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gacert.demo.servers import WebSocketServer, WsBehaviour
from gacert.errors import PolicyError
from gacert.policy.load import load_policy

ROOT = Path(__file__).resolve().parent.parent
WS_HEALTH = str(ROOT / "policies" / "websocket-health.yaml")
WsFactory = Callable[..., WebSocketServer]


def run(policy: str, out: Path, *args: str, env: dict[str, str]
        ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "gacert", "run", policy, "--duration", "1h",
                           "-o", str(out), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("name", ["ga.yaml", "websocket-health.yaml"])
def test_the_shipped_policies_validate(name: str) -> None:
    policy = load_policy(str(ROOT / "policies" / name))
    assert {"websocket"} <= {s.type for s in policy.sources.values()}


def test_websocket_health_passes_a_healthy_endpoint(ws_server: WsFactory,
                                                    tmp_path: Path) -> None:
    server = ws_server()
    proc, results = run(WS_HEALTH, tmp_path, env={"WS_URL": server.url, "WS_ITERATIONS": "5",
                                                  "WS_INTERVAL": "20ms"})
    assert {c["id"]: c["status"] for c in results["checks"]} == {
        "reconnect_success": "pass", "reconnect_latency_avg": "pass",
        "reconnect_latency_p99": "pass", "longest_downtime": "pass",
        "reconnect_jitter": "pass"}
    assert proc.returncode == 0
    assert server.handshakes == 6


def test_websocket_health_fails_slow_reconnects_against_a_stricter_threshold(
        ws_server: WsFactory, tmp_path: Path) -> None:
    server = ws_server(WsBehaviour(handshake_delay=0.1))
    proc, results = run(WS_HEALTH, tmp_path, "--set", "ws_latency_p99_max_ms=50",
                        env={"WS_URL": server.url, "WS_ITERATIONS": "3", "WS_INTERVAL": "20ms",
                             "WS_DISCONNECT": "clean", "WS_CHECK": "echo"})
    checks = {c["id"]: c for c in results["checks"]}
    assert checks["reconnect_latency_p99"]["status"] == "fail"
    assert checks["reconnect_latency_p99"]["value"] >= 100.0
    assert checks["reconnect_success"]["status"] == "pass"
    assert checks["reconnect_success"]["evidence"]["probe"]["check"] == "echo"
    assert proc.returncode == 1


def test_an_endpoint_that_never_answers_fails_with_its_cause(tmp_path: Path) -> None:
    from gacert.demo.prometheus import free_port

    url = f"ws://127.0.0.1:{free_port()}/ws"
    proc, results = run(WS_HEALTH, tmp_path, env={"WS_URL": url, "WS_ITERATIONS": "2",
                                                  "WS_INTERVAL": "20ms", "WS_RETRIES": "0"})
    checks = {c["id"]: c for c in results["checks"]}
    assert checks["reconnect_success"]["status"] == "fail"
    assert checks["reconnect_success"]["measurements"]["failures"]["refused"] == 3
    assert checks["reconnect_latency_avg"]["status"] == "no_data"
    assert results["status"] == "fail"
    assert proc.returncode == 1


# -- validation of probe checks -------------------------------------------------------------


def policy(tmp_path: Path, check: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: p
        params: {limit: 100}
        sources:
          ws: {type: websocket, url: "ws://127.0.0.1:1/ws"}
        checks:
        """) + textwrap.indent(textwrap.dedent(check), "  "))
    return str(path)


def problems(path: str) -> str:
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    return str(raised.value)


def test_a_probe_check_needs_a_query(tmp_path: Path) -> None:
    path = policy(tmp_path, "- {id: a, source: ws, pass: value > 1}\n")
    assert "a check on a websocket source needs a query" in problems(path)


def test_rules_may_read_measurements_by_name(tmp_path: Path) -> None:
    path = policy(tmp_path, """\
        - id: a
          source: ws
          query: latency.p99
          pass: value < limit and success_rate >= 95 and latency.avg < limit
        """)
    assert load_policy(path).checks[0].query == "latency.p99"


def test_a_misspelt_measurement_gets_a_hint(tmp_path: Path) -> None:
    path = policy(tmp_path, "- {id: a, source: ws, query: x, pass: succes_rate > 1}\n")
    assert "uses unknown name 'succes_rate' (did you mean 'success_rate'?)" in problems(path)


def test_a_rule_over_measurements_is_evaluated_on_the_probe_run(ws_server: WsFactory,
                                                               tmp_path: Path) -> None:
    server = ws_server(WsBehaviour(reject_every=4))
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        name: p
        sources:
          ws: {{type: websocket, url: "{server.url}", iterations: 8, interval: 20ms,
                retries: 0}}
        checks:
          - id: reconnects
            source: ws
            query: success_rate
            pass: value >= 95 or (reconnects.failed <= 2 and latency.p99 < 1000)
        """))
    proc, results = run(str(path), tmp_path / "out", env={})
    check = results["checks"][0]
    assert check["value"] == 75.0
    assert check["status"] == "pass"
    assert check["measurements"]["reconnects"]["failed"] == 2
    assert proc.returncode == 0


# -- the documented examples ----------------------------------------------------------------


def documented_sources() -> list[Any]:
    """Every YAML example of docs/policy.md that declares sources."""
    import re

    import yaml

    text = (ROOT / "docs" / "policy.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return [yaml.safe_load(b) for b in blocks if b.startswith("sources:")]


def test_every_documented_source_type_has_an_example() -> None:
    types = {s["type"] for block in documented_sources() for s in block["sources"].values()}
    assert types == {"prometheus", "http", "websocket", "command", "file"}


@pytest.mark.parametrize("example", documented_sources())
def test_the_documented_source_examples_are_valid(example: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    from gacert.policy.load import policy_schema

    document = {"version": 1, "name": "docs", "sources": example["sources"],
                "checks": example.get("checks") or [{"id": "c", "source": next(
                    iter(example["sources"])), "query": "x", "pass": "value > 0"}]}
    errors = [e.message for e in Draft202012Validator(policy_schema()).iter_errors(document)]
    assert errors == []
