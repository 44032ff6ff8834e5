"""The certification package: files, exact policy, metadata, manifest, tarball, artifacts, PDF."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from sample_results import POLICY_TEXT, RESULTS_SCHEMA, sample_results, write_results

from gacert.cli.main import cli, spread_artifacts
from gacert.cli.summary import print_package
from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer, free_port
from gacert.demo.servers import DemoServers, HttpServer, WebSocketServer
from gacert.errors import OutputError, UsageError
from gacert.package.build import Package, PackageOptions, write_package
from gacert.package.verify import verify

ROOT = Path(__file__).resolve().parent.parent
GA_POLICY = ROOT / "policies" / "ga.yaml"
NO_PDF = PackageOptions(pdf=False)
REPORTS = ["report.md", "GA_DAY_REPORT.md", "GA_DAY_REPORT.html", "EMAIL_SUMMARY.txt"]


def gacert(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = write_results(tmp_path / "run")
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(json.loads(path.read_text()))
    return path


def package(results: Path, out: Path, options: PackageOptions = NO_PDF) -> Package:
    return write_package(json.loads(results.read_text()), str(results), str(out), options)


def files_in(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_a_package_holds_every_file_and_sha256sum_checks_it(results: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    proc = gacert("render", str(results), "--output", str(out), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert files_in(out) == sorted(["results.json", "policy.yaml", *REPORTS,
                                    "certification_metadata.json", "MANIFEST.sha256"])
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(files_in(out)) - 1
    assert f"tarball: {out}.tar.gz" in proc.stdout
    assert "pdf:     not written: skipped (--no-pdf)" in proc.stdout
    assert (out / "results.json").read_bytes() == results.read_bytes()


def test_the_exact_policy_is_copied_byte_for_byte(results: Path, tmp_path: Path) -> None:
    package(results, tmp_path / "pkg")
    copied = (tmp_path / "pkg" / "policy.yaml").read_bytes()
    assert copied == POLICY_TEXT.encode()
    sha256 = json.loads(results.read_text())["policy"]["sha256"]
    assert hashlib.sha256(copied).hexdigest() == sha256


def test_a_policy_edited_since_the_run_is_refused(results: Path, tmp_path: Path) -> None:
    policy = results.parent / "policy.yaml"
    original = policy.read_text()
    policy.write_text(original + "# edited after the run\n")
    with pytest.raises(OutputError, match=r"the policy evaluated had SHA-256 [0-9a-f]{64}; "
                                          r".*policy\.yaml has another: give the exact file"):
        package(results, tmp_path / "pkg")
    saved = tmp_path / "saved.yaml"
    saved.write_text(original)
    package(results, tmp_path / "pkg", PackageOptions(policy_path=str(saved), pdf=False))
    assert (tmp_path / "pkg" / "policy.yaml").read_text() == original


def test_the_metadata_describes_the_package(results: Path, tmp_path: Path) -> None:
    built = package(results, tmp_path / "pkg")
    out = tmp_path / "pkg"
    metadata = json.loads((out / "certification_metadata.json").read_text())
    assert metadata["gacert_version"] == "0.1.0"
    assert metadata["policy"]["name"] == "tars-ga"
    assert metadata["policy"]["sha256"] == hashlib.sha256(POLICY_TEXT.encode()).hexdigest()
    assert metadata["window"]["start"] == "2025-01-15T00:00:00Z"
    assert metadata["generated_at"] == "2025-01-16T00:05:02Z"
    assert metadata["verdict"] == "fail"
    assert metadata["certification"] == "not_certified"
    assert metadata["pdf"] == {"written": False, "engine": None,
                               "reason": "skipped (--no-pdf)"}
    listed = {f["path"]: f["size"] for f in metadata["files"]}
    assert listed == {name: (out / name).stat().st_size for name in files_in(out)
                      if name not in ("certification_metadata.json", "MANIFEST.sha256")}
    assert metadata["total_size_bytes"] == sum(listed.values())
    manifest = (out / "MANIFEST.sha256").read_text().splitlines(keepends=True)
    others = "".join(line for line in manifest if not line.endswith(
        "  certification_metadata.json\n"))
    assert metadata["manifest_sha256"] == hashlib.sha256(others.encode()).hexdigest()
    assert built.manifest_sha256 == metadata["manifest_sha256"]


def test_two_packagings_of_the_same_results_give_the_same_tarball(results: Path,
                                                                   tmp_path: Path) -> None:
    first = package(results, tmp_path / "a" / "pkg")
    second = package(results, tmp_path / "b" / "elsewhere")
    assert first.tarball
    assert second.tarball
    data = Path(first.tarball).read_bytes()
    assert data == Path(second.tarball).read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert data[3] & 0x08 == 0  # gzip header without a file name
    with tarfile.open(first.tarball) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names[0] == "tars-ga-20250116T000000Z"
    files = [m.name for m in members if m.isfile()]
    assert files == sorted(files)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mtime for m in members} == {1736985600}  # the window end
    assert {m.mode for m in members if m.isfile()} == {0o644}


def test_certify_only_writes_no_tarball(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    proc = gacert("render", str(results), "-o", str(out), "--certify-only", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "pkg.tar.gz").exists()
    assert "tarball: not written (--certify-only)" in proc.stdout


def test_the_tarball_cannot_go_inside_the_package(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    with pytest.raises(UsageError, match="cannot be inside the package directory"):
        package(results, out, PackageOptions(tarball_path=str(out / "p.tar.gz"), pdf=False))


def test_artifacts_are_added_under_artifacts(results: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    (evidence / "k6").mkdir(parents=True)
    (evidence / "k6" / "summary.json").write_text('{"p95": 120}')
    (evidence / "notes.txt").write_text("load test notes")
    single = tmp_path / "pytest-report.json"
    single.write_text("{}")
    (evidence / "latest.txt").symlink_to("notes.txt")  # a link inside is followed
    proc = gacert("render", str(results), "-o", str(tmp_path / "pkg"), "--no-pdf",
                  "--include-artifacts", str(evidence), str(single))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "pkg"
    assert [n for n in files_in(out) if n.startswith("artifacts/")] == [
        "artifacts/evidence/k6/summary.json", "artifacts/evidence/latest.txt",
        "artifacts/evidence/notes.txt", "artifacts/pytest-report.json"]
    assert not (out / "artifacts" / "evidence" / "latest.txt").is_symlink()
    assert verify(str(out)).ok
    assert verify(str(tmp_path / "pkg.tar.gz")).ok


@pytest.mark.parametrize(("layout", "message"), [
    pytest.param("outside-link", "is a link to .*outside", id="a link pointing outside is refused"),
    pytest.param("dir-link", "is a link to a directory", id="a link to a directory is refused"),
    pytest.param("given-link", "is a link to .*outside",
                 id="a link given on the command line must stay in its directory"),
    pytest.param("missing", "no such file or directory", id="a missing path is refused"),
    pytest.param("twice", "two artifacts would be stored as artifacts/notes.txt",
                 id="two artifacts with one name are refused"),
])
def test_unsafe_artifacts_are_refused(results: Path, tmp_path: Path, layout: str,
                                      message: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "notes.txt").write_text("notes")
    paths = [str(evidence)]
    if layout == "outside-link":
        (evidence / "leak.txt").symlink_to(secret)
    elif layout == "dir-link":
        (evidence / "sub").mkdir()
        (evidence / "again").symlink_to(evidence / "sub")
    elif layout == "given-link":
        (evidence / "leak.txt").symlink_to(secret)
        paths = [str(evidence / "leak.txt")]
    elif layout == "missing":
        paths = [str(tmp_path / "nowhere.json")]
    else:
        paths = [str(evidence / "notes.txt"), str(tmp_path / "other" / "notes.txt")]
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("other")
    with pytest.raises(UsageError, match=message):
        package(results, tmp_path / "pkg", PackageOptions(artifacts=tuple(paths), pdf=False))
    assert not (tmp_path / "pkg").exists()


def test_run_refuses_bad_artifacts_before_contacting_anything(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = gacert("run", str(GA_POLICY), "--duration", "1h", "-o", str(tmp_path / "out"),
                  "--include-artifacts", str(tmp_path / "missing.json"),
                  env={"PROMETHEUS_URL": url})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"--include-artifacts {tmp_path / 'missing.json'}: no such file" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "spread"), [
    pytest.param(["p.yaml", "--include-artifacts", "a", "b", "-o", "x"],
                 ["p.yaml", "--include-artifacts", "a", "--include-artifacts", "b", "-o", "x"],
                 id="the option takes every path up to the next option"),
    pytest.param(["--include-artifacts", "a", "--", "b"], ["--include-artifacts", "a", "--", "b"],
                 id="nothing after -- is taken"),
    pytest.param(["--include-artifacts=a", "b"], ["--include-artifacts=a", "b"],
                 id="the = form takes one path"),
])
def test_include_artifacts_takes_several_paths(args: list[str], spread: list[str]) -> None:
    assert spread_artifacts(args) == spread


def test_without_a_pdf_engine_no_pdf_is_written_and_that_is_said(
        results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pkg"
    assert package(results, out, PackageOptions(tarball=False)).pdf.written
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint fails
    built = package(results, out, PackageOptions())
    assert not built.pdf.written
    assert "no PDF engine is installed" in built.pdf.reason
    assert "pip install 'gacert[pdf]'" in built.pdf.reason
    assert not (out / "GA_DAY_REPORT.pdf").exists()
    metadata = json.loads((out / "certification_metadata.json").read_text())
    assert metadata["pdf"]["written"] is False
    assert "no PDF engine is installed" in metadata["pdf"]["reason"]
    print_package(built)
    assert "pdf:     not written: no PDF engine is installed (install the PDF extra: " \
           "pip install 'gacert[pdf]')" in capsys.readouterr().out


def test_with_weasyprint_the_pdf_is_written_and_reproducible(results: Path,
                                                             tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="the optional PDF extra is not installed")
    first = package(results, tmp_path / "a" / "pkg", PackageOptions())
    second = package(results, tmp_path / "b" / "pkg", PackageOptions())
    assert first.pdf.written
    assert (first.pdf.engine or "").startswith("WeasyPrint")
    pdf = (tmp_path / "a" / "pkg" / "GA_DAY_REPORT.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert Path(first.tarball or "").read_bytes() == Path(second.tarball or "").read_bytes()


def test_packaging_again_removes_what_the_new_package_lacks(results: Path,
                                                            tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    out = tmp_path / "pkg"
    package(results, out, PackageOptions(artifacts=(str(notes),), pdf=False))
    assert (out / "artifacts" / "notes.txt").exists()
    package(results, out)
    assert not (out / "artifacts").exists()
    assert verify(str(out)).ok


def test_re_rendering_a_package_in_place_keeps_its_artifacts(results: Path,
                                                             tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    out = tmp_path / "pkg"
    package(results, out, PackageOptions(artifacts=(str(notes),), pdf=False))
    first = (tmp_path / "pkg.tar.gz").read_bytes()
    notes.unlink()
    proc = gacert("render", str(out / "results.json"), "-o", str(out), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert (out / "artifacts" / "notes.txt").read_text() == "notes"
    assert (tmp_path / "pkg.tar.gz").read_bytes() == first
    assert verify(str(out)).ok


def test_re_rendering_refuses_an_artifact_changed_since_packaging(results: Path,
                                                                  tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    out = tmp_path / "pkg"
    package(results, out, PackageOptions(artifacts=(str(notes),), pdf=False))
    (out / "artifacts" / "notes.txt").write_text("edited")
    proc = gacert("render", str(out / "results.json"), "-o", str(tmp_path / "again"))
    assert proc.returncode == 3
    assert "notes.txt: changed, missing or not a plain file since the package was made" \
        in proc.stderr


def test_render_refuses_a_file_that_is_not_results(tmp_path: Path) -> None:
    bogus = tmp_path / "results.json"
    bogus.write_text(json.dumps({"schema_version": 1, "status": "maybe"}))
    proc = gacert("render", str(bogus), "-o", str(tmp_path / "pkg"))
    assert proc.returncode == 3
    assert "not a gacert results document" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_policy_templates_travel_with_the_package(tmp_path: Path) -> None:
    policy_text = POLICY_TEXT + "report:\n  templates:\n    email: templates/email.txt.j2\n"
    template = tmp_path / "policy" / "templates" / "email.txt.j2"
    template.parent.mkdir(parents=True)
    template.write_text("Subject: {{ doc.policy.name }} is {{ doc.status }}\n")
    policy = tmp_path / "policy" / "ga.yaml"
    policy.write_text(policy_text)
    doc = sample_results(policy_path=str(policy))
    doc["policy"]["sha256"] = hashlib.sha256(policy_text.encode()).hexdigest()
    results = write_results(tmp_path / "run", doc)
    runner = CliRunner()
    first = runner.invoke(cli, ["render", str(results), "--policy", str(policy), "-o",
                                str(tmp_path / "pkg"), "--no-pdf", "-q"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "pkg" / "templates" / "email.txt.j2").read_text() == template.read_text()
    assert (tmp_path / "pkg" / "EMAIL_SUMMARY.txt").read_text() == "Subject: tars-ga is fail\n"
    # Re-rendered from the package alone, with the policy's directory gone.
    template.unlink()
    policy.unlink()
    outcome = runner.invoke(cli, ["render", str(tmp_path / "pkg" / "results.json"),
                                  "-o", str(tmp_path / "again"), "--no-pdf", "-q"],
                            catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    assert (tmp_path / "again" / "EMAIL_SUMMARY.txt").read_text() == "Subject: tars-ga is fail\n"


def _policy_with_templates(tmp_path: Path, text: str) -> Path:
    policy = tmp_path / "ga.yaml"
    policy.write_text(GA_POLICY.read_text() + "  templates:\n    ga_day: ours.md.j2\n")
    (tmp_path / "ours.md.j2").write_text(text)
    return policy


def test_a_policy_naming_templates_validates(tmp_path: Path) -> None:
    policy = _policy_with_templates(tmp_path, "# ours\n")
    proc = gacert("validate", str(policy))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_run_refuses_a_broken_template_before_fetching(
        tmp_path: Path, http_server: Callable[..., HttpServer],
        ws_server: Callable[..., WebSocketServer]) -> None:
    policy = _policy_with_templates(tmp_path, "# ours\n\n{% if %}\n")
    line = policy.read_text().splitlines().index("    ga_day: ours.md.j2") + 1
    # Every source of the policy is a local server that counts what it is asked (and
    # the probes are short, so that a run that did fetch fails quickly).
    prometheus, dashboard, websocket = http_server(), http_server(), ws_server()
    proc = gacert("run", str(policy), "--duration", "1h", "-o", str(tmp_path / "out"),
                  env={"PROMETHEUS_URL": prometheus.url, "TARS_DASHBOARD_URL": dashboard.url,
                       "TARS_WS_URL": websocket.url, "TARS_WS_ITERATIONS": "1",
                       "TARS_WS_INTERVAL": "20ms", "TARS_DASHBOARD_REQUESTS": "1"})
    # Nothing was fetched, nothing was written.
    assert (prometheus.requests, dashboard.requests, websocket.handshakes) == (0, 0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ga.yaml", "ours.md.j2"]
    # Loading the policy compiles the templates it names: a broken one is a policy
    # error located in the policy and in the template, exit 2.
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[0].startswith(
        f"{policy}:{line}:13: report.templates.ga_day: template does not compile: "
        f"report template {tmp_path / 'ours.md.j2'}:3: ")
    assert "Traceback" not in proc.stderr


@pytest.mark.prometheus
def test_run_writes_a_package_that_verifies(prometheus: PrometheusServer,
                                            demo_servers: DemoServers, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # The policy's probes reach the demo servers, briefly (as in test_cli_run.py).
    for name, value in {**demo_servers.environ(), "TARS_WS_ITERATIONS": "5",
                        "TARS_WS_INTERVAL": "20ms", "TARS_DASHBOARD_REQUESTS": "5"}.items():
        monkeypatch.setenv(name, value)
    start, end = scenario_window("latency_spike")
    evidence = tmp_path / "k6-summary.json"
    evidence.write_text('{"http_req_duration": {"p(95)": 180}}')
    out = tmp_path / "out"
    proc = gacert("run", str(GA_POLICY), "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}",
                  "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}", "-o", str(out), "--no-pdf",
                  "--include-artifacts", str(evidence), env={"PROMETHEUS_URL": prometheus.url})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for name in [*REPORTS, "policy.yaml", "artifacts/k6-summary.json"]:
        assert f"         {name}" in proc.stdout
    assert (out / "policy.yaml").read_bytes() == GA_POLICY.read_bytes()
    ga_day = (out / "GA_DAY_REPORT.md").read_text()
    assert "**NOT CERTIFIED**" in ga_day
    html = (out / "GA_DAY_REPORT.html").read_text()
    assert 'id="chart-p99_latency"' in html
    check = gacert("verify", str(out.parent / "out.tar.gz"))
    assert check.returncode == 0, check.stdout
    # The package re-renders to the same package, artifacts and tarball included.
    again = gacert("render", str(out / "results.json"), "-o", str(tmp_path / "again"),
                   "--no-pdf")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.tar.gz").read_bytes() == (tmp_path / "out.tar.gz").read_bytes()


def _members(path: str) -> list[tuple[str, Any]]:
    with tarfile.open(path) as archive:
        return [(m.name, m.size) for m in archive.getmembers()]


def test_the_tarball_holds_exactly_the_package(results: Path, tmp_path: Path) -> None:
    built = package(results, tmp_path / "pkg")
    assert built.tarball
    names = {name.split("/", 1)[1] for name, _ in _members(built.tarball) if "/" in name}
    assert names == set(files_in(tmp_path / "pkg"))
    with gzip.open(built.tarball) as stream:
        assert stream.read(1)  # a valid gzip stream
