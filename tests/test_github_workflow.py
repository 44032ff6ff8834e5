"""The example GitHub Actions workflow (examples/github/ga-certify.yml): valid for
GitHub, and its steps run here with the same commands.

The workflow is checked against GitHub's workflow schema (check-jsonschema's
vendored copy, offline). Then its shell steps run locally in order, as the
runner would run them: `bash -e` on the step's script, its `env:` with every
`${{ ... }}` expression replaced by what GitHub would put there (inputs,
secrets, earlier steps' outputs), GITHUB_ACTIONS=true and a fresh
$GITHUB_OUTPUT per step. The shipped policy runs against the real Prometheus
on the latency-spike day. Two steps cannot run here and are checked instead:
installing gacert from a git URL (it is installed already) and `gh release
upload` (no GitHub): the files it would upload must exist. The GitLab CI,
Kubernetes CronJob and JSON examples of docs/ci.md are checked as well.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_support import SHORT_PROBES

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github" / "ga-certify.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(?P<name>[^}]+?)\s*\}\}")
NOT_RUN_HERE = {"Install gacert", "Attach the package to the release"}


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def steps() -> list[dict[str, Any]]:
    return list(workflow()["jobs"]["certify"]["steps"])


def substitute(text: str, context: Mapping[str, str]) -> str:
    """`text` with each `${{ name }}` replaced; an unknown name fails the test."""
    return EXPRESSION.sub(lambda m: context[m.group("name")], text)


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines())


def test_the_example_workflow_is_valid_for_github() -> None:
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_does_what_the_ga_stage_did() -> None:
    flow = workflow()
    dispatch = flow[True]["workflow_dispatch"]  # YAML 1.1 reads the key `on` as true
    assert {"window", "policy", "notify"} <= set(dispatch["inputs"])
    by_name = {step["name"]: step for step in steps() if "name" in step}
    upload = by_name["Keep the certification package"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["retention-days"] == 90
    assert "gh release upload" in by_name["Attach the package to the release"]["run"]
    assert "gacert run" in by_name["Certify"]["run"]
    # Inputs reach scripts through env only, never spliced into the script text.
    assert not any(EXPRESSION.search(step.get("run", "")) for step in steps())


@pytest.mark.prometheus
def test_the_workflow_steps_run_locally_with_the_same_commands(
        prometheus: PrometheusServer, demo_servers: DemoServers, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "policies", workspace / "policies")
    _, end = scenario_window("latency_spike")
    context = {
        "inputs.window": "24h", "inputs.end": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "inputs.policy": "policies/ga.yaml", "inputs.release": "v1.4.0", "inputs.notify": "true",
        "secrets.PROMETHEUS_URL": prometheus.url, "secrets.PROMETHEUS_TOKEN": "",
        "secrets.SLACK_WEBHOOK_URL": "", "github.token": "unused", "github.run_number": "7",
        "github.server_url": "https://github.example", "github.repository": "acme/tars",
        "github.run_id": "42"}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    base_env.update({**demo_servers.environ(), **SHORT_PROBES, "GITHUB_ACTIONS": "true",
                     "GITHUB_WORKSPACE": str(workspace),
                     "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
                     "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    codes: dict[str, int] = {}
    for index, step in enumerate(steps()):
        if "run" not in step or step["name"] in NOT_RUN_HERE:
            continue
        env = {name: substitute(str(value), context) for name, value in
               (step.get("env") or {}).items()}
        output = tmp_path / f"output-{index}"
        output.touch()
        script = tmp_path / f"step-{index}.sh"
        script.write_text(step["run"], encoding="utf-8")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-e", str(script)],
                              cwd=workspace, env={**base_env, **env, "GITHUB_OUTPUT": str(output)},
                              capture_output=True, text=True, timeout=300, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        codes[step["name"]] = proc.returncode
        if step.get("id"):
            context.update({f"steps.{step['id']}.outputs.{k}": v
                            for k, v in read_outputs(output).items()})
    # The certify step records the verdict and lets the later steps run; the last
    # step fails the job with gacert's exit code.
    assert codes == {"Validate the policy": 0, "Certify": 0, "Notify": 0, "Verdict": 1}
    assert context["steps.certify.outputs.verdict"] == "fail"
    assert context["steps.certify.outputs.failing_checks"] == "p99_latency"
    assert "## gacert:" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    # Every output the workflow reads was written, and the files it publishes exist.
    read = set(re.findall(r"steps\.certify\.outputs\.(\w+)", WORKFLOW.read_text()))
    assert read <= {k.removeprefix("steps.certify.outputs.") for k in context}
    for name in ("package", "tarball", "report", "junit"):
        assert (workspace / context[f"steps.certify.outputs.{name}"]).exists(), name
    attach = {s.get("name"): s for s in steps()}["Attach the package to the release"]
    assert substitute(attach["env"]["RELEASE"], context) == "v1.4.0"


def doc_blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_the_gitlab_example_in_the_docs_is_valid_for_gitlab(tmp_path: Path) -> None:
    (gitlab,) = [b for b in doc_blocks("yaml") if "script:" in b]
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(gitlab, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job = yaml.safe_load(gitlab)["ga-certification"]
    assert job["artifacts"]["reports"]["junit"] == "ga-junit.xml"
    assert any("--junit ga-junit.xml" in line for line in job["script"])


def test_the_cronjob_example_in_the_docs_runs_gacert() -> None:
    (manifest,) = [yaml.safe_load(b) for b in doc_blocks("yaml") if "kind: CronJob" in b]
    spec = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"][:2] == ["sh", "-c"]
    assert container["command"][2].startswith("gacert run /policy/ga.yaml --duration 24h")
    assert spec["restartPolicy"] == "Never"


def test_the_json_format_in_the_docs_has_the_keys_gacert_prints() -> None:
    from gacert.publish.summary import RunSummary

    (example,) = [json.loads(b) for b in doc_blocks("json")]
    document: Any = {"status": example["verdict"], "policy": example["policy"],
                     "window": example["window"], "summary": example["summary"],
                     "checks": [{**c, "series": [], "query": "", "error": None}
                                for c in example["checks"]]}
    printed = RunSummary(document, 1, example["results"], "ga-package", "ga-package.tar.gz",
                         "ga-junit.xml").to_json()
    assert set(printed) == set(example)
    assert set(printed["checks"][0]) == set(example["checks"][0])
    assert set(printed["package"]) == set(example["package"])
