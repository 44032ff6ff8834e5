"""The CLI without a Prometheus: validate, plan, usage errors, packaging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GA_POLICY = str(ROOT / "policies" / "ga.yaml")


def gacert(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, check=False,
                          env={**os.environ, **(env or {})})


def test_shipped_policies_validate() -> None:
    policies = [p for p in (ROOT / "policies").glob("*.yaml")
                if not p.name.endswith(".tests.yaml")]
    proc = gacert("validate", *map(str, sorted(policies)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ga.yaml: valid (" in proc.stdout


def test_invalid_policy_exits_2_with_every_problem_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(GA_POLICY).read_text()
                   .replace("pass: value >= availability_target", "pass: value >= availabilty")
                   .replace("source: prometheus\n    query: sum(increase(http_requests_total",
                            "source: promethus\n    query: sum(increase(http_requests_total"))
    proc = gacert("validate", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert any("checks[0].pass: expression 'value >= availabilty' uses unknown name "
               "'availabilty' (did you mean 'availability_target'?)" in line for line in lines)
    assert any("checks[6].source: unknown source 'promethus' (did you mean 'prometheus'?)"
               in line for line in lines)
    assert all(line.startswith(f"{bad}:") for line in lines)
    assert "Traceback" not in proc.stderr


def test_validate_json_format(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nsources: {}\nchecks: []\nbogus: 1\n")
    proc = gacert("validate", "--format", "json", GA_POLICY, str(bad))
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report["valid"] is False
    assert [f["valid"] for f in report["files"]] == [True, False]
    located = {(p["line"], p["column"], p["path"]) for p in report["files"][1]["problems"]}
    assert (5, 1, "bogus") in located
    assert (3, 10, "sources") in located


def test_run_with_invalid_policy_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\n")
    proc = gacert("run", str(bad), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "'sources' is a required property" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--start", "yesterday"], "--start 'yesterday' is not an RFC 3339 timestamp",
                 id="a start that is not RFC 3339 is a usage error"),
    pytest.param(["--start", "2025-01-15T00:00:00"], "has no time zone",
                 id="a start without a time zone is a usage error"),
    pytest.param(["--duration", "1 day"], "is not a duration",
                 id="a malformed duration is a usage error"),
    pytest.param(["--set", "availabilty_target=99"], "did you mean 'availability_target'?",
                 id="an unknown param is a usage error with a hint"),
    pytest.param(["--set", "availability_target=high"], "expected a number",
                 id="a param of the wrong type is a usage error"),
    pytest.param(["--start", "2025-01-16T00:00:00Z", "--end", "2025-01-15T00:00:00Z"],
                 "before it starts", id="a window that ends before it starts is a usage error"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = gacert("run", GA_POLICY, "-o", str(tmp_path), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plan_shows_rendered_queries() -> None:
    proc = gacert("plan", GA_POLICY, "--start", "2025-01-15T00:00:00Z",
                  "--end", "2025-01-16T00:00:00Z", "--set", "job=shop")
    assert proc.returncode == 0, proc.stderr
    assert "window: 2025-01-15T00:00:00Z -> 2025-01-16T00:00:00Z (step 60s)" in proc.stdout
    assert 'avg(avg_over_time(up{job="shop", namespace="tars-production"}[86400s])) * 100' \
        in proc.stdout
    assert "[5m]" in proc.stdout
    assert "offset 7d" in proc.stdout
    assert "$" not in proc.stdout.replace("$__", "")


def test_validate_imports_no_network_or_template_libraries() -> None:
    script = (
        "import sys\n"
        "from gacert.cli.main import cli\n"
        "try:\n"
        f"    cli.main(['validate', {GA_POLICY!r}], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('httpx', 'websockets', 'jinja2') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_python_m_gacert_and_version() -> None:
    proc = gacert("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("gacert, version ")


def test_a_regular_install_carries_schemas_and_templates(tmp_path: Path) -> None:
    """`pip install .` (not editable) must work from any directory."""
    wheel_dir = tmp_path / "wheel"
    # Built with the setuptools of the dev extra, without build isolation and with
    # no index, so that the test passes on a machine without a registry.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(wheel_dir), str(ROOT)], check=True,
                   timeout=300, capture_output=True)
    wheel = next(wheel_dir.glob("gacert-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "gacert/schemas/policy.schema.json" in names
    assert "gacert/schemas/results.schema.json" in names
    assert "gacert/report_templates/report.md.j2" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--target", str(target), str(wheel)], check=True, timeout=300,
                   capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = ("import gacert, sys; print(gacert.__file__); "
             "from gacert.cli.main import main; sys.argv = ['gacert', 'validate', "
             f"{GA_POLICY!r}]; main()")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=elsewhere, env={**os.environ, "PYTHONPATH": str(target)},
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(str(target))
    assert "valid (" in proc.stdout
