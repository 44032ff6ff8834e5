"""The shipped pre-commit hooks, run by the real pre-commit in a scratch repository.

The hook repository is a commit of this working tree (so that uncommitted
work is what is tested); pre-commit builds the hooks' environment from it
with pip, which needs PyPI (as CI has). The scratch project installs the
hooks and makes real commits: a valid policy goes in, a broken one is
blocked with its located problem; a policy test with a wrong expectation is
blocked with expected and got, and goes in once it is right.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Building the hook's environment downloads and installs gacert's dependencies.
TIMEOUT = 300
IGNORED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist",
                                 ".mypy_cache", ".pytest_cache", ".ruff_cache", ".demo",
                                 "demo-out", "gacert-out", ".hypothesis")

GOOD = """\
version: 1
name: hooked
sources:
  prom: {type: prometheus, url: "http://localhost:9090"}
checks:
  - id: up
    source: prom
    query: min(up{job="api"})
    pass: value == 1
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
    return {**os.environ, "HOME": str(home), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_CONFIG_NOSYSTEM": "1"}


def hook_repository(tmp_path: Path, env: dict[str, str]) -> tuple[Path, str]:
    """This working tree as a one-commit repository, and that commit."""
    repo = tmp_path / "gacert-hook"
    shutil.copytree(ROOT, repo, ignore=IGNORED)
    git("init", "-q", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "hook under test", cwd=repo, env=env)
    return repo, git("rev-parse", "HEAD", cwd=repo, env=env)


TESTS = """\
policy: good.yaml
tests:
  - name: a target down fails
    series:
      up: {'{}': '1 1 0'}
    expect:
      checks: {up: STATUS}
"""


def commit(project: Path, env: dict[str, str], name: str, text: str
           ) -> subprocess.CompletedProcess[str]:
    (project / "policies" / name).write_text(text, encoding="utf-8")
    git("add", f"policies/{name}", cwd=project, env=env)
    return subprocess.run(["git", "commit", "-m", f"add {name}"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def test_the_hook_passes_a_valid_policy_and_blocks_a_broken_one(
        tmp_path: Path, environment: dict[str, str]) -> None:
    env = environment
    repo, rev = hook_repository(tmp_path, env)
    project = tmp_path / "project"
    (project / "policies").mkdir(parents=True)
    git("init", "-q", cwd=project, env=env)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n      - id: gacert-validate\n"
        "      - id: gacert-test\n",
        encoding="utf-8")
    git("add", ".pre-commit-config.yaml", cwd=project, env=env)
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=project, env=env,
                   capture_output=True, text=True, timeout=60, check=True)

    good = commit(project, env, "good.yaml", GOOD)
    output = good.stdout + good.stderr  # pre-commit reports on stderr
    assert good.returncode == 0, output
    assert re.search(r"^gacert validate\.+Passed$", output, re.MULTILINE), output

    broken = GOOD.replace("    pass: value == 1\n", "    pass: value == 1\n    gatee: false\n") + (
        "  - id: errors\n    source: prom\n    query: sum(rate(errors_total[5m])\n"
        "    fail: value > 0\n")
    blocked = commit(project, env, "broken.yaml", broken)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert re.search(r"^gacert validate\.+Failed$", output, re.MULTILINE), output
    assert ("policies/broken.yaml:10:5: checks[0].gatee: unknown key 'gatee' "
            "(did you mean 'gate'?)") in output
    # PromQL is parsed in the hook's own environment too.
    assert ("policies/broken.yaml:13:12: checks[1].query: query is not valid PromQL: "
            "unclosed left parenthesis") in output
    git("rm", "-q", "--cached", "policies/broken.yaml", cwd=project, env=env)
    (project / "policies" / "broken.yaml").unlink()

    wrong = commit(project, env, "good.tests.yaml", TESTS.replace("STATUS", "pass"))
    output = wrong.stdout + wrong.stderr
    assert wrong.returncode != 0
    # The validate hook leaves test files to the test hook.
    assert re.search(r"^gacert validate\.+\(no files to check\)Skipped$", output,
                     re.MULTILINE), output
    assert re.search(r"^gacert test\.+Failed$", output, re.MULTILINE), output
    assert "FAIL policies/good.tests.yaml:3: a target down fails" in output
    assert "  up: expected PASS, got FAIL" in output
    assert "    series {}: 1 1 0 -> 0.00" in output

    right = commit(project, env, "good.tests.yaml", TESTS.replace("STATUS", "fail"))
    output = right.stdout + right.stderr
    assert right.returncode == 0, output
    assert re.search(r"^gacert test\.+Passed$", output, re.MULTILINE), output
    assert git("log", "--format=%s", cwd=project, env=env).splitlines() == [
        "add good.tests.yaml", "add good.yaml"]
