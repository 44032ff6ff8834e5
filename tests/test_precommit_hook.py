"""The shipped pre-commit hooks, run by the real pre-commit in a scratch repository.

The hooks are those `.pre-commit-hooks.yaml` ships, with their files
patterns, entries and options, installed as `repo: local` hooks of
`language: system` that run gacert from this environment: pre-commit then
builds no hook environment, so the test needs no package index (CI machines
often have none). One scratch project holds another tool's YAML (a Kyverno
policy under k8s/policies/), a gacert policy outside any policies/ directory
and, in a second commit, a broken gacert policy: only the broken one is
blocked, with every one of its problems reported at once. Another commits a
policy test with a wrong expectation, blocked with expected and got, which
goes in once it is right.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_support import MINIMAL_POLICY

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120

# Four problems in one check: an unknown source, a PromQL typo, an unknown name
# in a rule and a misspelt key. None may hide another.
BROKEN = """\
version: 1
name: broken
params:
  target: 99.9
sources:
  prom: {type: prometheus, url: "http://localhost:9090"}
checks:
  - id: errors
    source: promethus
    query: sum(rate(errors_total[5m])
    pass: value >= targt
    gatee: false
"""

KYVERNO = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-team
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "label 'team' is required"
        pattern:
          metadata:
            labels:
              team: "?*"
"""


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return proc.stdout.strip()


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit (installed by .ci/setup)", pytrace=False)
    home = tmp_path / "home"
    home.mkdir()
    # No package index: whatever pre-commit would fetch must already be here.
    return {**os.environ, "HOME": str(home), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_NOSYSTEM": "1", "PIP_NO_INDEX": "1",
            "PIP_INDEX_URL": "http://127.0.0.1:9/"}


def shipped_hooks() -> dict[str, dict[str, Any]]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in hooks}


def local_hook(hook: dict[str, Any]) -> dict[str, Any]:
    """A shipped hook as a local one that runs gacert from this environment."""
    program, *arguments = shlex.split(hook["entry"])
    assert program == "gacert"
    entry = shlex.join([sys.executable, "-m", "gacert", *arguments])
    return {**hook, "language": "system", "entry": entry}


def project_with_hooks(tmp_path: Path, env: dict[str, str]) -> Path:
    """A scratch git repository with every shipped hook installed."""
    project = tmp_path / "project"
    project.mkdir()
    git("init", "-q", cwd=project, env=env)
    hooks = [local_hook(hook) for hook in shipped_hooks().values()]
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    write(project, ".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    git("add", ".pre-commit-config.yaml", cwd=project, env=env)
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=project, env=env,
                   capture_output=True, text=True, timeout=60, check=True)
    return project


def write(project: Path, name: str, text: str) -> None:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def commit(project: Path, env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    git("add", *names, cwd=project, env=env)
    return subprocess.run(["git", "commit", "-m", f"add {' '.join(names)}"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def test_the_shipped_manifest_is_valid_for_pre_commit(environment: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                    str(ROOT / ".pre-commit-hooks.yaml")], env=environment, check=True,
                   capture_output=True, text=True, timeout=60)
    hook = shipped_hooks()["gacert-validate"]
    assert hook["verbose"] is True  # warnings and skipped files show on a passing commit
    assert "--skip-non-policies" in hook["entry"]


def test_the_hook_blocks_only_the_broken_policy_and_reports_all_its_problems(
        tmp_path: Path, environment: dict[str, str]) -> None:
    env = environment
    project = project_with_hooks(tmp_path, env)

    write(project, "k8s/policies/require-labels.yaml", KYVERNO)
    write(project, "deploy/gates/ga.yaml", MINIMAL_POLICY)
    passed = commit(project, env, "k8s/policies/require-labels.yaml", "deploy/gates/ga.yaml")
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert re.search(r"^gacert validate\.+Passed$", output, re.MULTILINE), output
    # Shown although the hook passed (verbose), with the reason for the skip.
    assert "deploy/gates/ga.yaml: valid (1 checks)" in output
    assert ("k8s/policies/require-labels.yaml: skipped, not a gacert policy: no top-level "
            "checks and sources keys") in output

    write(project, "deploy/gates/broken.yaml", BROKEN)
    blocked = commit(project, env, "deploy/gates/broken.yaml")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert re.search(r"^gacert validate\.+Failed$", output, re.MULTILINE), output
    broken = "deploy/gates/broken.yaml"
    for problem in (f"{broken}:9:13: checks[0].source: unknown source 'promethus' "
                    "(did you mean 'prom'?)",
                    f"{broken}:10:12: checks[0].query: query is not valid PromQL: "
                    "unclosed left parenthesis",
                    f"{broken}:11:11: checks[0].pass: expression 'value >= targt' uses "
                    "unknown name 'targt' (did you mean 'target'?)",
                    f"{broken}:12:5: checks[0].gatee: unknown key 'gatee' "
                    "(did you mean 'gate'?)"):
        assert problem in output, output
    assert git("log", "--format=%s", cwd=project, env=env).splitlines() == [
        "add k8s/policies/require-labels.yaml deploy/gates/ga.yaml"]


TESTS = """\
policy: good.yaml
tests:
  - name: a target down fails
    series:
      up: {'{}': '1 1 0'}
    expect:
      checks: {up: STATUS}
"""


def test_the_test_hook_blocks_a_policy_test_that_no_longer_holds(
        tmp_path: Path, environment: dict[str, str]) -> None:
    env = environment
    project = project_with_hooks(tmp_path, env)
    write(project, "policies/good.yaml", MINIMAL_POLICY)
    good = commit(project, env, "policies/good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr

    write(project, "policies/good.tests.yaml", TESTS.replace("STATUS", "pass"))
    wrong = commit(project, env, "policies/good.tests.yaml")
    output = wrong.stdout + wrong.stderr
    assert wrong.returncode != 0
    # The validate hook leaves test files to the test hook.
    assert re.search(r"^gacert validate\.+\(no files to check\)Skipped$", output,
                     re.MULTILINE), output
    assert re.search(r"^gacert test\.+Failed$", output, re.MULTILINE), output
    assert "FAIL policies/good.tests.yaml:3: a target down fails" in output
    assert "  up: expected PASS, got FAIL" in output
    assert "    series {}: 1 1 0 -> 0.00" in output

    write(project, "policies/good.tests.yaml", TESTS.replace("STATUS", "fail"))
    right = commit(project, env, "policies/good.tests.yaml")
    output = right.stdout + right.stderr
    assert right.returncode == 0, output
    assert re.search(r"^gacert test\.+Passed$", output, re.MULTILINE), output
    assert git("log", "--format=%s", cwd=project, env=env).splitlines() == [
        "add policies/good.tests.yaml", "add policies/good.yaml"]
