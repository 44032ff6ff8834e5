"""`gacert diff`: what a policy change changes, field by field (gacert.policy.diff).

The acceptance test with demo evidence is in tests/test_regrade.py; here the
shipped policy is compared with edited copies of itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_imports import heavy_imports

from gacert.policy.diff import FieldChange, PolicyDiff, diff_policies
from gacert.policy.load import load_policy

ROOT = Path(__file__).resolve().parent.parent
GA = ROOT / "policies" / "ga.yaml"


def gacert(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, check=False,
                          env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def edited(tmp_path: Path, *edits: tuple[str, str], name: str = "new.yaml") -> Path:
    text = GA.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def diff(tmp_path: Path, *edits: tuple[str, str]) -> PolicyDiff:
    return diff_policies(load_policy(str(GA)), load_policy(str(edited(tmp_path, *edits))))


def test_a_policy_against_itself_has_no_difference(tmp_path: Path) -> None:
    assert diff(tmp_path).empty
    proc = gacert("diff", str(GA), str(GA), "--exit-code")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "no change to params, sources, checks or the report"


def test_a_param_default_shows_as_a_param_and_in_every_check_that_reads_it(
        tmp_path: Path) -> None:
    found = diff(tmp_path, ("p99_latency_ms_warn:\n    default: 800",
                            "p99_latency_ms_warn:\n    default: 700"))
    assert found.params == (FieldChange("p99_latency_ms_warn", "800", "700"),)
    changed = {c.id: c.changes for c in found.changed_checks}
    assert changed == {check: (FieldChange("param p99_latency_ms_warn", "800", "700"),)
                       for check in ("p99_latency", "p95_latency", "p50_latency")}


def test_rules_queries_and_fields_of_a_check_are_named(tmp_path: Path) -> None:
    found = diff(tmp_path,
                 ("    fail: value >= p99_latency_ms_max\n    warn: value >= p99_latency_ms_warn",
                  "    fail: value > p99_latency_ms_max\n    warn: value >= p99_latency_ms_warn"
                  "\n    gate: false"),
                 ("    query: avg(avg_over_time(up{job=\"$job\", namespace=\"$namespace\"}"
                  "[$__range])) * 100",
                  "    query: min(avg_over_time(up{job=\"$job\", namespace=\"$namespace\"}"
                  "[$__range])) * 100"))
    changed = {c.id: c.changes for c in found.changed_checks}
    assert changed["p99_latency"] == (
        FieldChange("rule fail", "value >= p99_latency_ms_max", "value > p99_latency_ms_max"),
        FieldChange("gate", "yes", "no"))
    assert changed["availability"] == (FieldChange(
        "query", 'avg(avg_over_time(up{job="$job", namespace="$namespace"}[$__range])) * 100',
        'min(avg_over_time(up{job="$job", namespace="$namespace"}[$__range])) * 100'),)


def test_a_param_a_query_reads_changes_what_is_measured(tmp_path: Path) -> None:
    found = diff(tmp_path, ("  rate_window:\n    default: 5m", "  rate_window:\n    default: 2m"))
    changed = {c.id: c.changes for c in found.changed_checks}
    assert changed == {"p99_latency": (FieldChange("param rate_window (in the query)", "5m",
                                                   "2m"),)}


def test_checks_params_and_sources_added_and_removed(tmp_path: Path) -> None:
    found = diff(tmp_path,
                 ("  - id: warning_alerts\n", "  - id: warning_alerts_total\n"),
                 ("checks: [critical_alerts, warning_alerts]",
                  "checks: [critical_alerts, warning_alerts_total]"),
                 ("  max_restarts:\n    default: 0\n", "  max_restarts:\n    default: 0\n"
                  "  max_warnings:\n    default: 3\n"),
                 ("    retries: 3\n    concurrency: 8\n", "    retries: 5\n    concurrency: 8\n"))
    assert found.added_checks == ("warning_alerts_total",)
    assert found.removed_checks == ("warning_alerts",)
    assert FieldChange("max_warnings", None, "3") in found.params
    assert found.sources == (FieldChange("prometheus.retries", "3", "5"),)
    assert [c.field for c in found.policy] == ["report.sections"]


def test_text_markdown_and_json_show_the_same_diff(tmp_path: Path) -> None:
    new = edited(tmp_path, ("p99_latency_ms_max:\n    default: 1000",
                            "p99_latency_ms_max:\n    default: 900"))
    text = gacert("diff", str(GA), str(new)).stdout
    assert "params:\n  ~ p99_latency_ms_max: 1000 -> 900\n" in text
    assert "  ~ p99_latency\n      param p99_latency_ms_max: 1000 -> 900\n" in text
    markdown = gacert("diff", str(GA), str(new), "--format", "markdown").stdout
    assert "| `p99_latency_ms_max` | 1000 | 900 |" in markdown
    assert "| `p99_latency` | param p99_latency_ms_max | 1000 | 900 |" in markdown
    document = json.loads(gacert("diff", str(GA), str(new), "--format", "json").stdout)
    assert document["params"] == [{"field": "p99_latency_ms_max", "old": "1000", "new": "900"}]
    assert document["evidence"] is None
    assert gacert("diff", str(GA), str(new), "--exit-code").returncode == 1


def test_an_invalid_policy_is_refused_with_its_problems(tmp_path: Path) -> None:
    new = edited(tmp_path, ("pass: value >= availability_target",
                            "pass: value >= availabilty_target"))
    proc = gacert("diff", str(GA), str(new))
    assert proc.returncode == 2
    assert "uses unknown name 'availabilty_target'" in proc.stderr


@pytest.mark.parametrize("command", ["diff", "test"])
def test_diff_and_test_import_no_heavy_package(tmp_path: Path, command: str) -> None:
    # As fast as validate, for pre-commit: no Jinja2, HTTP client or jsonschema.
    new = edited(tmp_path, ("default: 1000", "default: 900"))
    args = [str(GA), str(new)] if command == "diff" else [str(GA.with_suffix(".tests.yaml"))]
    assert heavy_imports(command, *args) == []
