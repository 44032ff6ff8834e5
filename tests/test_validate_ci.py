"""`gacert validate` where CI and pre-commit run it: policies found by content,
other YAML skipped with the reason, --strict, GitHub annotations, and the
MetricsQL dialect's checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ci_support import MINIMAL_POLICY

from gacert.policy.detect import detect_policy
from gacert.policy.metricsql import balance_error

ROOT = Path(__file__).resolve().parent.parent

POLICY = MINIMAL_POLICY
# fail is checked first and matches every value warn matches: a warning.
WARNED = POLICY.replace("    pass: value == 1\n",
                        "    fail: value >= 1000\n    warn: value >= 1200\n")
METRICSQL = POLICY.replace('url: "http://localhost:9090"}',
                           'url: "http://localhost:8428", dialect: metricsql}').replace(
    'min(up{job="api"})', 'WITH (s = {job="api"}) range_median(up{s})')


def gacert(*args: str, cwd: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=60, env={**environ, **(env or {})}, cwd=cwd,
                          check=False)


@pytest.mark.parametrize(("text", "is_policy"), [
    pytest.param(POLICY, True, id="a policy is found by its checks and sources"),
    pytest.param(POLICY.replace("sources:", "sorces:"), True,
                 id="a policy with a misspelt sources key is still checked"),
    pytest.param(POLICY + "  - [unclosed\n", True,
                 id="a policy with a YAML syntax error is still checked"),
    pytest.param("# yaml-language-server: $schema=https://gacert.dev/schemas/policy.schema.json\n"
                 "version: 1\n", True, id="a modeline naming the gacert schema marks a policy"),
    pytest.param("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nspec:\n  rules: []\n", False,
                 id="a Kyverno policy is not a gacert policy"),
    pytest.param("checks:\n  - name: lint\n", False,
                 id="a file with checks but no sources is another tool's"),
    pytest.param("on: push\njobs:\n  test:\n    steps:\n      - run: make\n", False,
                 id="a GitHub workflow is not a gacert policy"),
    pytest.param("# yaml-language-server: $schema=https://json.schemastore.org/github-workflow\n"
                 "on: push\n", False, id="a modeline naming another schema marks nothing"),
    pytest.param("# yaml-language-server: $schema=https://gacert.dev/schemas/"
                 "policy-tests.schema.json\npolicy: ga.yaml\ntests: []\n", False,
                 id="a policy tests file is not a policy"),
    pytest.param("  checks: []\n  sources: {}\n", False,
                 id="nested checks and sources keys are not top-level"),
])
def test_policies_are_detected_by_content(text: str, is_policy: bool) -> None:
    assert detect_policy(text, "any/where.yaml").is_policy is is_policy


def test_a_modeline_with_a_relative_path_to_the_gacert_schema_marks_a_policy(
        tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "policy.schema.json").write_text((ROOT / "schemas" / "policy.schema.json")
                                                .read_text())
    text = "# yaml-language-server: $schema=../schemas/policy.schema.json\nversion: 1\n"
    (tmp_path / "gates").mkdir()
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    assert detect_policy(text, str(tmp_path / "gates" / "x.yaml")).is_policy
    assert not detect_policy(text, str(tmp_path / "elsewhere" / "sub" / "x.yaml")).is_policy
    (schemas / "policy-tests.schema.json").write_text('{"title": "gacert policy tests"}')
    tests = text.replace("policy.schema.json", "policy-tests.schema.json")
    assert not detect_policy(tests, str(tmp_path / "gates" / "x.tests.yaml")).is_policy


def test_skipped_files_are_named_with_the_reason_and_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "kyverno.yaml").write_text("apiVersion: v1\nkind: ClusterPolicy\n")
    (tmp_path / "gate.yaml").write_text(POLICY)
    text = gacert("validate", "--skip-non-policies", "kyverno.yaml", "gate.yaml", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        "kyverno.yaml: skipped, not a gacert policy: no top-level checks and sources keys "
        "(top-level keys: apiVersion, kind) and no modeline naming the gacert schema",
        "gate.yaml: valid (1 checks)"]
    machine = gacert("validate", "--skip-non-policies", "--format", "json", "kyverno.yaml",
                     "gate.yaml", cwd=tmp_path)
    files = json.loads(machine.stdout)["files"]
    assert [(f["file"], f["valid"], f.get("skipped", False)) for f in files] == [
        ("kyverno.yaml", True, True), ("gate.yaml", True, False)]
    # Without the option, every file named is checked as a policy.
    assert gacert("validate", "kyverno.yaml", cwd=tmp_path).returncode == 2


def test_strict_makes_warnings_fail_but_never_notes(tmp_path: Path) -> None:
    (tmp_path / "warned.yaml").write_text(WARNED)
    (tmp_path / "metricsql.yaml").write_text(METRICSQL)
    assert gacert("validate", "warned.yaml", cwd=tmp_path).returncode == 0
    strict = gacert("validate", "--strict", "warned.yaml", cwd=tmp_path)
    assert strict.returncode == 2
    assert "warned.yaml: invalid under --strict (1 warnings)" in strict.stdout
    assert gacert("validate", "--fail-on-warning", "warned.yaml", cwd=tmp_path).returncode == 2
    noted = gacert("validate", "--strict", "metricsql.yaml", cwd=tmp_path)
    assert noted.returncode == 0, noted.stdout + noted.stderr
    assert "note: sources.prom.dialect: 1 query in MetricsQL" in noted.stdout


def test_in_github_actions_each_problem_is_an_annotation_at_its_place(tmp_path: Path) -> None:
    (tmp_path / "gates").mkdir()
    (tmp_path / "gates" / "bad.yaml").write_text(POLICY.replace("value == 1", "value == targt"))
    proc = gacert("validate", "gates/bad.yaml", cwd=tmp_path,
                  env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)})
    assert proc.returncode == 2
    assert ("::error file=gates/bad.yaml,line=9,col=11,title=gacert validate%3A "
            "checks[0].pass::expression 'value == targt' uses unknown name 'targt'"
            ) in proc.stdout


def test_the_hook_command_imports_no_template_or_network_library(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(WARNED)
    script = ("import sys\nfrom gacert.cli.main import cli\ntry:\n"
              "    cli.main(['validate', '--skip-non-policies', 'gate.yaml'], "
              "standalone_mode=False)\nexcept SystemExit:\n    pass\n"
              "print(sorted(m for m in ('httpx', 'websockets', 'jinja2') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=True,
                          env={**os.environ, "GITHUB_ACTIONS": "true"})
    assert "::warning file=gate.yaml" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("query", "fault"), [
    pytest.param('WITH (s = {job="a"}) range_median(up{s})', None,
                 id="a WITH template with balanced brackets passes"),
    pytest.param('sum(rate(x{a=")"}[5m]))', None, id="brackets inside strings do not count"),
    pytest.param("sum(x) # a comment with ( and '\n", None, id="comments do not count"),
    pytest.param('label_match(x, "a", `(`)', None, id="a raw string may hold a bracket"),
    pytest.param("sum(rate(x[5m])", "'(' at column 4 is not closed (expected ')')",
                 id="an unclosed parenthesis is named"),
    pytest.param("sum(x[5m)]", "')' at column 9 does not close '[' opened at column 6",
                 id="crossed brackets are named"),
    pytest.param("x)", "')' at column 2 closes nothing", id="a stray closing bracket is named"),
    pytest.param('x{a="b}', "string opened with \" at column 5 is not closed",
                 id="an unclosed string is named"),
    pytest.param(r'x{a="b\"c"}', None, id="an escaped quote does not close its string"),
])
def test_metricsql_queries_are_checked_for_balance(query: str, fault: str | None) -> None:
    assert balance_error(query) == fault
