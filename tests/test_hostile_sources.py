"""Hostile inputs, part 2: what sources answer, and the secrets they must not echo.

A fault-injecting Prometheus (`gacert.demo.servers.FaultyPrometheus`, on
127.0.0.1) answers huge, as a gzip bomb, with non-finite values, with
terminal escapes in label values, slowly, or truncated. Each run is the real
CLI in a subprocess: its exit code, its message, its peak memory (measured,
not timed) and the files beside its output are checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile_support import (
    MAX_RSS,
    MIB,
    SECRET,
    Ran,
    command_policy,
    gacert,
    outside,
    prometheus_policy,
    snapshot,
)

from gacert.demo.servers import TERMINAL_ESCAPES, FaultyPrometheus

TEXT_OUTPUTS = ("report.md", "GA_DAY_REPORT.md", "EMAIL_SUMMARY.txt")


def run_against(tmp_path: Path, server: FaultyPrometheus, settings: str = ""
                ) -> tuple[Ran, dict[str, Any]]:
    victim = outside(tmp_path)
    before = snapshot(victim)
    # Only the slow answer needs a short timeout: it never ends.
    policy = prometheus_policy(tmp_path, server.url, settings=settings,
                               timeout="5s" if server.fault == "slow" else "60s")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path)
    assert snapshot(victim) == before
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    return ran, results["checks"][0]


@pytest.mark.parametrize(("fault", "settings", "error", "bound"), [
    pytest.param("huge", "", "the answer is larger than max_response_bytes (128 MiB)",
                 MAX_RSS, id="an answer of 160 MiB"),
    pytest.param("huge", "    max_response_bytes: 1048576\n",
                 "the answer is larger than max_response_bytes (1 MiB)", 150 * MIB,
                 id="an answer over a limit the policy sets"),
    pytest.param("bomb", "    max_inflated_bytes: 16777216\n",
                 "the answer inflates to more than max_inflated_bytes (16 MiB); received",
                 150 * MIB, id="a gzip bomb of 1 GiB, under a limit the policy sets"),
    # At the default limit (256 MiB) memory stays under that limit plus what a run
    # needs anyway (about 60 MB, and 30 MB of buffers).
    pytest.param("bomb", "", "the answer inflates to more than max_inflated_bytes (256 MiB)",
                 256 * MIB + 150 * MIB, id="a gzip bomb of 1 GiB, default limits"),
    pytest.param("slow", "", "timed out (timeout 5s)", MAX_RSS, id="a body that drips"),
    pytest.param("truncated", "", "peer closed connection without sending complete message body",
                 MAX_RSS, id="a truncated body"),
])
def test_a_hostile_answer_is_a_check_error_with_bounded_memory(
        tmp_path: Path, fault: str, settings: str, error: str, bound: int) -> None:
    with FaultyPrometheus(fault) as server:
        ran, check = run_against(tmp_path, server, settings)
        assert server.requests == 1  # none of these is worth a retry (retries: 0)
    assert ran.code == 3, ran.output
    assert check["status"] == "error"
    assert error in check["error"]
    assert error in ran.stdout
    assert ran.rss < bound, f"peak RSS {ran.rss / MIB:.0f} MiB"


def test_non_finite_values_are_written_as_json_allows_and_do_not_pass(tmp_path: Path) -> None:
    with FaultyPrometheus("nonfinite") as server:
        ran, check = run_against(tmp_path, server)
    # A non-finite value is an error of its series (docs/policy.md): never a pass.
    assert ran.code == 3, ran.output
    assert check["status"] == "error"
    values = {s["labels"]["service"]: s["value"] for s in check["series"]}
    assert values["inf"] == "+Inf"
    assert values["minus-inf"] == "-Inf"
    assert values["nan"] in (None, "NaN")
    assert ran.rss < MAX_RSS


def test_terminal_escapes_in_label_values_are_neutralised_in_every_text_output(
        tmp_path: Path) -> None:
    with FaultyPrometheus("escapes") as server:
        ran, check = run_against(tmp_path, server)
    assert check["series"][0]["labels"]["service"] == TERMINAL_ESCAPES  # the evidence, as is
    assert "\x1b" not in ran.output
    assert "\x07" not in ran.output
    assert "verdict: FAIL" in ran.stdout
    assert "\\x1b[2J\\x1b[H\\x1b[32mverdict: PASS" in ran.stdout  # shown, not obeyed
    for name in TEXT_OUTPUTS:
        text = (tmp_path / "out" / name).read_text()
        assert not any(c in text for c in "\x1b\x07\r"), name
    assert "\\x1b" in (tmp_path / "out" / "report.md").read_text()
    assert ran.rss < MAX_RSS


def test_an_http_probe_stops_reading_a_gzip_bomb(tmp_path: Path) -> None:
    with FaultyPrometheus("bomb") as server:
        policy = command_policy(tmp_path, extra_sources=f"""\
  page:
    type: http
    url: {server.url}/api/v1/query
    requests: 2
    max_inflated_bytes: 8388608
""", extra_checks="""\
  - id: page_ok
    source: page
    query: success_rate
    fail: value < 100
""")
        ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                     cwd=tmp_path)
    assert ran.code == 1, ran.output
    check = json.loads((tmp_path / "out" / "results.json").read_text())["checks"][1]
    assert check["measurements"]["failures"]["too_large"] == 2
    assert "inflates to more than max_inflated_bytes (8 MiB)" in json.dumps(check["evidence"])
    assert ran.rss < MAX_RSS


# -- defect 3: credentials on the terminal and in documents ------------------------------


def test_a_password_holding_a_slash_is_never_printed(tmp_path: Path) -> None:
    policy = prometheus_policy(tmp_path, "http://alice:pa/ss@127.0.0.1:9/")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert "url 'http://127.0.0.1:9/' is not a valid url" in ran.stderr
    assert "pa/ss" not in ran.output
    assert "alice" not in ran.output


def test_an_access_token_reaches_no_result_report_or_message(tmp_path: Path) -> None:
    with FaultyPrometheus("truncated") as server:
        policy = prometheus_policy(tmp_path, f"{server.url}/?access_token={SECRET}")
        ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                     cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert SECRET not in ran.output
    assert "access_token=REDACTED" in ran.stdout
    for path in (tmp_path / "out").iterdir():
        if path.name != "policy.yaml":  # the policy as written: reviewed like code
            assert SECRET not in path.read_text("utf-8", "replace"), path.name


def test_what_a_command_prints_is_recorded_without_secrets(tmp_path: Path) -> None:
    # The secret comes from the environment, as it should: the policy never holds it.
    policy = command_policy(tmp_path, extra_sources="""\
  leaky:
    type: command
    command: ["sh", "-c", "echo GET https://api.example/x?token=$TOKEN failed >&2;
              echo Authorization: Bearer $TOKEN; echo '{\\"ok\\": 1}'"]
""", extra_checks="""\
  - id: leaky_json
    source: leaky
    query: json.ok
    fail: value != 1
""")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path,
                 env={"TOKEN": SECRET})
    assert ran.code == 0, ran.output
    assert SECRET not in ran.output
    for path in (tmp_path / "out").iterdir():
        assert SECRET not in path.read_text("utf-8", "replace"), path.name
    evidence = json.loads((tmp_path / "out" / "results.json").read_text())["checks"][1]
    assert "token=REDACTED failed" in evidence["evidence"]["stderr"]
    assert "Authorization: Bearer REDACTED" in evidence["evidence"]["stdout"]


# -- defect 10: the file source echoing what it read -------------------------------------


@pytest.mark.parametrize(("content", "query", "expected"), [
    pytest.param(f"root:{SECRET}:19000:0:99999:7:::\n", "root", "no root: the document has "
                 "no key 'root'", id="a shadow file read as YAML"),
    pytest.param(json.dumps({"admin": {"password": SECRET}}), "admin.password",
                 "admin.password is a string, not a number", id="a secret value"),
    pytest.param(json.dumps({SECRET: 1}), "users.count", "no users: the document has no "
                 "key 'users'", id="a secret key"),
    pytest.param(json.dumps({"admin": {SECRET: 1}}), "admin", "admin is a mapping, not a "
                 "number; name a key under it", id="a mapping of secrets"),
    pytest.param(f"a: [{SECRET}\n", "a", "not valid YAML at line 2, column 1", id="bad YAML"),
])
def test_file_source_errors_say_where_and_never_what_was_read(
        tmp_path: Path, content: str, query: str, expected: str) -> None:
    evidence = tmp_path / "evidence.yaml"
    evidence.write_text(content)
    policy = command_policy(tmp_path, extra_sources=f"""\
  evidence:
    type: file
    path: {evidence}
    format: yaml
""", extra_checks=f"""\
  - id: from_file
    source: evidence
    query: {query}
    fail: value > 0
""")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert expected in ran.stdout
    assert SECRET not in ran.output
    for path in (tmp_path / "out").iterdir():
        if path.name != "policy.yaml":
            assert SECRET not in path.read_text("utf-8", "replace"), path.name


def test_a_yaml_evidence_file_that_expands_through_aliases_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    evidence = tmp_path / "laughs.yaml"
    evidence.write_text("\n".join(lines) + "\n")
    policy = command_policy(tmp_path, extra_sources=f"""\
  evidence: {{type: file, path: {evidence}}}
""", extra_checks="""\
  - {id: from_file, source: evidence, query: a0.0, fail: value > 0}
""")
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert "expands through aliases to more than 1,000,000 values" in ran.stdout
    assert ran.rss < MAX_RSS
