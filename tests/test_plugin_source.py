"""Third-party source types: the example package under examples/, installed with pip
into a directory of its own, found through the `gacert.sources` entry point group,
and used by a policy that `gacert validate` and `gacert run` handle like any other.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gacert-source-sqlite"
BUILT_IN = "prometheus, http, websocket, command, file"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed by pip into a directory of its own."""
    work = tmp_path_factory.mktemp("plugin")
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = shutil.copytree(EXAMPLE, work / "src")
    target = work / "site"
    # Built with the setuptools and wheel of the dev extra, without build isolation
    # and with no index, so that the test passes on a machine without a registry.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target),
               str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    return target


def gacert(*args: str, site: Path | None, cwd: Path,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    environ.pop("PYTHONPATH", None)
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, env=environ, cwd=cwd, timeout=120, check=False)


@pytest.fixture
def incidents(tmp_path: Path) -> Path:
    """An incidents database: one critical incident inside the window, one outside."""
    path = tmp_path / "incidents.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE incidents (service TEXT, severity TEXT, opened_ms INTEGER, "
                   "closed_ms INTEGER)")
        db.executemany("INSERT INTO incidents VALUES (?, ?, ?, ?)", [
            ("dashboard-api", "critical", 1736942400000, 1736946000000),  # 2025-01-15 12:00
            ("insight-engine", "warning", 1736942400000, None),
            ("insight-engine", "critical", 1736812800000, 1736816400000),  # a day before
        ])
    db.close()
    return path


def test_a_policy_using_an_installed_source_type_runs(site: Path, incidents: Path,
                                                      tmp_path: Path) -> None:
    policy = str(EXAMPLE / "policy.yaml")
    validated = gacert("validate", policy, site=site, cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    ran = gacert("run", policy, "--start", "2025-01-15T00:00:00Z", "--end", "2025-01-16T00:00:00Z",
                 "-o", str(tmp_path / "out"), site=site, cwd=tmp_path,
                 env={"INCIDENTS_DB": str(incidents)})
    assert "Traceback" not in ran.stderr, ran.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    checks = {c["id"]: c for c in results["checks"]}
    assert checks["critical_incidents"]["status"] == "fail"
    assert checks["critical_incidents"]["value"] == 1.0
    assert "1736899200000 AND 1736985600000" in checks["critical_incidents"]["query"]
    assert checks["open_by_service"]["series"] == [
        {"labels": {"service": "insight-engine"}, "value": 1.0, "status": "warn"}]
    assert results["sources"] == [{"id": "incidents", "type": "sqlite",
                                   "endpoint": f"sqlite: {incidents}"}]
    assert ran.returncode == 1


def test_bad_settings_of_a_plugin_are_a_usage_error(site: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text((EXAMPLE / "policy.yaml").read_text().replace(
        "    database: ${INCIDENTS_DB:-incidents.db}\n", "    database: x.db\n    cache: 5\n"))
    ran = gacert("run", str(policy), "--duration", "1h", "-o", str(tmp_path / "out"),
                 site=site, cwd=tmp_path)
    assert ran.returncode == 2
    assert "sources.incidents: unknown settings: cache" in ran.stderr


def test_without_the_package_the_type_is_unknown_and_the_known_ones_are_listed(
        tmp_path: Path) -> None:
    validated = gacert("validate", str(EXAMPLE / "policy.yaml"), site=None, cwd=tmp_path)
    assert validated.returncode == 2
    assert f"unknown source type 'sqlite' (known types: {BUILT_IN})" in validated.stdout \
        + validated.stderr


def test_an_installed_type_is_listed_among_the_known_ones(site: Path, tmp_path: Path) -> None:
    policy = tmp_path / "typo.yaml"
    policy.write_text((EXAMPLE / "policy.yaml").read_text().replace("type: sqlite",
                                                                    "type: sqlit"))
    validated = gacert("validate", str(policy), site=site, cwd=tmp_path)
    assert validated.returncode == 2
    assert f"(known types: {BUILT_IN}, sqlite)" in validated.stdout + validated.stderr
