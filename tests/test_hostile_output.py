"""Hostile inputs, part 1: the output directory, the tarball and received packages.

gacert writes only its own files, removes only files it can prove it wrote,
never follows a link out of the output, never reads a file a results
document names, and finds an output it cannot write before fetching
anything. Each case runs the real CLI in a subprocess and checks that a
directory beside the output (holding a secret) was not touched.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from hostile_support import MAX_RSS, SECRET, command_policy, gacert, outside, snapshot
from sample_results import POLICY_TEXT, sample_results, write_results

from gacert.demo.servers import HttpServer


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def forge_listing(package: Path, extra: dict[str, str]) -> None:
    """Add lines to a package's manifest and keep its metadata consistent, as anyone
    who sends a package can: the proof of ownership holds, the hashes decide."""
    manifest = package / "MANIFEST.sha256"
    lines = {line[66:]: line[:64] for line in manifest.read_text().splitlines()}
    del lines["certification_metadata.json"]
    lines.update(extra)
    others = "".join(f"{lines[name]}  {name}\n" for name in sorted(lines))
    metadata_path = package / "certification_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["manifest_sha256"] = hashlib.sha256(others.encode()).hexdigest()
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    lines["certification_metadata.json"] = sha256(metadata_path)
    manifest.write_text("".join(f"{lines[name]}  {name}\n" for name in sorted(lines)))


# -- defect 1: deleting files gacert did not write ---------------------------------------


def test_a_manifest_made_by_sha256sum_never_makes_gacert_delete(tmp_path: Path) -> None:
    """`mkdir -p rel/bin; echo x > rel/bin/app; sha256sum bin/app > MANIFEST.sha256`."""
    release = tmp_path / "rel"
    (release / "bin").mkdir(parents=True)
    (release / "bin" / "app").write_text("x\n")
    subprocess.run("sha256sum bin/app > MANIFEST.sha256", shell=True, cwd=release, check=True)
    before = snapshot(release)
    policy = command_policy(tmp_path)
    ran = gacert("run", str(policy), "-o", str(release), "--no-pdf", cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert f"--output {release}: holds files that are not a gacert package (bin)" in ran.stderr
    assert "--allow-nonempty-output" in ran.stderr
    assert snapshot(release) == before


def test_told_to_write_beside_foreign_files_gacert_removes_none(tmp_path: Path) -> None:
    release = tmp_path / "rel"
    (release / "bin").mkdir(parents=True)
    (release / "bin" / "app").write_text("x\n")
    (release / "MANIFEST.sha256").write_text(f"{sha256(release / 'bin' / 'app')}  bin/app\n")
    policy = command_policy(tmp_path)
    ran = gacert("run", str(policy), "-o", str(release), "--no-pdf", "--allow-nonempty-output",
                 cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert (release / "bin" / "app").read_text() == "x\n"
    assert (release / "results.json").is_file()
    # A second run proves the package its own, and still leaves bin/app alone.
    ran = gacert("run", str(policy), "-o", str(release), "--no-pdf", cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert (release / "bin" / "app").read_text() == "x\n"


def test_a_received_package_with_a_link_and_an_extra_line_deletes_nothing_outside(
        tmp_path: Path) -> None:
    victim = outside(tmp_path)
    package = tmp_path / "received"
    ran = gacert("render", str(write_results(tmp_path / "run")), "-o", str(package),
                 "--no-pdf", "--certify-only", cwd=tmp_path)
    assert ran.code == 0, ran.output
    # The sender adds a link out of the package and lists a file behind it, with the
    # right hash, so that a stale-file cleanup would remove it.
    (package / "link").symlink_to(victim / "keep")
    forge_listing(package, {"link/secret.txt": sha256(victim / "keep" / "secret.txt")})
    before = snapshot(victim)
    ran = gacert("render", str(package / "results.json"), "-o", str(package), "--no-pdf",
                 "--certify-only", cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert snapshot(victim) == before
    assert (package / "link").is_symlink()  # not ours to remove either


def test_only_unchanged_files_of_the_earlier_package_are_removed(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    notes, kept = tmp_path / "notes.txt", tmp_path / "kept.txt"
    notes.write_text("notes\n")
    kept.write_text("kept\n")
    out = tmp_path / "out"
    ran = gacert("run", str(policy), "-o", str(out), "--no-pdf", "--certify-only",
                 "--include-artifacts", str(notes), str(kept), cwd=tmp_path)
    assert ran.code == 0, ran.output
    (out / "artifacts" / "kept.txt").write_text("edited by hand since\n")
    ran = gacert("run", str(policy), "-o", str(out), "--no-pdf", "--certify-only",
                 cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert not (out / "artifacts" / "notes.txt").exists()  # gacert's, unchanged: stale
    assert (out / "artifacts" / "kept.txt").read_text() == "edited by hand since\n"


# -- defect 2: render reading files a results document names -----------------------------


@pytest.mark.parametrize("named", ["/etc/shadow", "SECRET_FILE"])
def test_render_reads_no_template_a_results_document_names(tmp_path: Path,
                                                            named: str) -> None:
    victim = outside(tmp_path)
    secret_file = victim / "keep" / "secret.txt"
    doc = sample_results()
    doc["policy"]["report_templates"] = {
        "email": str(secret_file) if named == "SECRET_FILE" else named}
    results = write_results(tmp_path / "run", doc)
    out = tmp_path / "out"
    before = snapshot(victim)
    ran = gacert("render", str(results), "-o", str(out), "--no-pdf", cwd=tmp_path)
    assert ran.code == 0, ran.output
    assert not (out / "templates").exists()
    for path in out.rglob("*"):
        assert SECRET not in path.read_text("utf-8", "replace"), path
    assert "Subject: " in (out / "EMAIL_SUMMARY.txt").read_text()  # the built-in template
    assert snapshot(victim) == before


def test_render_never_reads_the_policy_path_a_results_document_names(tmp_path: Path) -> None:
    victim = outside(tmp_path)
    secret_file = victim / "keep" / "secret.txt"
    doc = sample_results(policy_path=str(secret_file))
    doc["policy"]["sha256"] = sha256(secret_file)  # as if the secret were the policy
    results = tmp_path / "results.json"
    results.write_text(json.dumps(doc))
    ran = gacert("render", str(results), "-o", str(tmp_path / "out"), "--no-pdf",
                 cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert f"is not found at {tmp_path / 'policy.yaml'}" in ran.stderr
    assert not any(SECRET in p.read_text("utf-8", "replace")
                   for p in (tmp_path / "out").rglob("*") if p.is_file())


def test_a_packaged_template_that_links_out_of_the_package_is_refused(tmp_path: Path) -> None:
    victim = outside(tmp_path)
    policy_text = POLICY_TEXT + "report:\n  templates:\n    email: templates/email.txt.j2\n"
    package = tmp_path / "received"
    (package / "templates").mkdir(parents=True)
    (package / "templates" / "email.txt.j2").symlink_to(victim / "keep" / "secret.txt")
    (package / "policy.yaml").write_text(policy_text)
    doc = sample_results(policy_path="policy.yaml")
    doc["policy"]["sha256"] = hashlib.sha256(policy_text.encode()).hexdigest()
    (package / "results.json").write_text(json.dumps(doc))
    ran = gacert("render", str(package / "results.json"), "-o", str(tmp_path / "out"),
                 "--no-pdf", cwd=tmp_path)
    assert ran.code == 3, ran.output
    assert "the package holds no usable templates/email.txt.j2" in ran.stderr
    assert SECRET not in ran.output


# -- defect 4: --tarball over anything --------------------------------------------------


def test_the_tarball_never_replaces_the_policy(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    text = policy.read_text()
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                 "--tarball", str(policy), cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert f"--tarball {policy}: is the policy file" in ran.stderr
    assert policy.read_text() == text
    assert not (tmp_path / "out").exists()


def test_the_tarball_never_replaces_a_file_that_is_not_a_gacert_tarball(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    other = tmp_path / "backup.tar.gz"
    with tarfile.open(other, "w:gz") as archive:
        archive.add(policy, "backup/p.yaml")
    before = other.read_bytes()
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                 "--tarball", str(other), cwd=tmp_path)
    assert ran.code == 2, ran.output
    assert "exists and is not a gacert tarball" in ran.stderr
    assert other.read_bytes() == before
    # An earlier gacert tarball is replaced, as a re-run should.
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                 "--tarball", str(tmp_path / "mine.tar.gz"), cwd=tmp_path)
    assert ran.code == 0, ran.output
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                 "--tarball", str(tmp_path / "mine.tar.gz"), cwd=tmp_path)
    assert ran.code == 0, ran.output


# -- defect 11: an unwritable output found only after fetching ----------------------------


@pytest.mark.parametrize("where", ["under a file", "a file"])
def test_an_output_that_cannot_be_written_is_refused_before_any_query(
        tmp_path: Path, where: str) -> None:
    (tmp_path / "plain").write_text("a file, not a directory\n")
    output = tmp_path / "plain" / "out" if where == "under a file" else tmp_path / "plain"
    with HttpServer() as server:
        policy = tmp_path / "p.yaml"
        policy.write_text(f"""\
version: 1
name: hostile
sources:
  prom: {{type: prometheus, url: "{server.url}", retries: 0}}
checks:
  - {{id: up, source: prom, query: up, fail: value < 1}}
""")
        ran = gacert("run", str(policy), "-o", str(output), "--no-pdf", cwd=tmp_path)
        assert server.requests == 0
    assert ran.code in (2, 3), ran.output
    assert str(output) in ran.stderr
    assert (tmp_path / "plain").read_text() == "a file, not a directory\n"


# -- defect 12: small ones ----------------------------------------------------------------


def test_a_full_disk_names_the_file(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    # Any file over 4 KiB fails to be written, as on a full disk (EFBIG, like ENOSPC,
    # names no file of its own).
    ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf", cwd=tmp_path,
                 max_file_bytes=4096)
    assert ran.code == 3, ran.output
    assert "gacert: : " not in ran.stderr
    assert f"gacert: {tmp_path / 'out'}/" in ran.stderr
    assert ": cannot write: File too large" in ran.stderr


def test_an_interrupted_rerun_leaves_no_old_tarball_that_verifies(tmp_path: Path) -> None:
    policy = command_policy(tmp_path)
    out = tmp_path / "out"
    assert gacert("run", str(policy), "-o", str(out), "--no-pdf", cwd=tmp_path).code == 0
    assert Path(f"{out}.tar.gz").is_file()
    ran = gacert("run", str(policy), "-o", str(out), "--no-pdf", cwd=tmp_path,
                 max_file_bytes=4096)
    assert ran.code == 3, ran.output
    assert not Path(f"{out}.tar.gz").exists()


def test_a_ten_megabyte_policy_is_reported_at_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 10_000_000)
    ran = gacert("validate", str(big), cwd=tmp_path)
    assert ran.code == 2
    assert "file is 10,000,000 bytes; the limit for a policy is 1,048,576" in ran.output


def test_a_hard_link_and_proc_files_are_not_artifacts(tmp_path: Path) -> None:
    victim = outside(tmp_path)
    linked = tmp_path / "evidence.txt"
    os.link(victim / "keep" / "secret.txt", linked)
    policy = command_policy(tmp_path)
    for artifact, message in ((linked, "has 2 hard links"),
                              (Path("/proc/self/environ"), "is under /proc, /sys or /dev")):
        ran = gacert("run", str(policy), "-o", str(tmp_path / "out"), "--no-pdf",
                     "--include-artifacts", str(artifact), cwd=tmp_path)
        assert ran.code == 2, ran.output
        assert f"--include-artifacts {artifact}: {message}" in ran.stderr
        assert not (tmp_path / "out").exists()


# -- received packages for verify ---------------------------------------------------------


def _package(tmp_path: Path) -> Path:
    out = tmp_path / "pkg"
    ran = gacert("render", str(write_results(tmp_path / "run")), "-o", str(out), "--no-pdf",
                 cwd=tmp_path)
    assert ran.code == 0, ran.output
    return Path(f"{out}.tar.gz")


def _rewrite(tarball: Path, target: Path, add: list[tuple[tarfile.TarInfo, Any]]) -> None:
    """`tarball`'s members plus `add` (members and their content streams), in `target`."""
    with tarfile.open(tarball) as source, tarfile.open(target, "w:gz", compresslevel=1
                                                        ) as archive:
        for member in source:
            archive.addfile(member, source.extractfile(member) if member.isfile() else None)
        for info, stream in add:
            archive.addfile(info, stream)


class _Zeros:
    """A stream of `size` zero bytes, read in pieces, for a bomb member."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        return b"\0" * count


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0,
            target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, target
    return info


@pytest.mark.parametrize("case", ["a link out", "a path out", "an absolute path",
                                  "a gigabyte of zeros", "a device"])
def test_a_hostile_tarball_is_verified_without_reading_or_writing_outside(
        tmp_path: Path, case: str) -> None:
    victim = outside(tmp_path)
    tarball = _package(tmp_path)
    with tarfile.open(tarball) as archive:
        prefix = archive.getmembers()[0].name
    cases: dict[str, list[tuple[tarfile.TarInfo, Any]]] = {
        "a link out": [(_member(f"{prefix}/artifacts/key", tarfile.SYMTYPE,
                                target=str(victim / "keep" / "secret.txt")), None)],
        "a path out": [(_member(f"{prefix}/../../escape.txt", size=4), io.BytesIO(b"evil"))],
        "an absolute path": [(_member("/tmp/escape.txt", size=4), io.BytesIO(b"evil"))],
        "a gigabyte of zeros": [(_member(f"{prefix}/artifacts/zeros", size=1 << 30),
                                 _Zeros(1 << 30))],
        "a device": [(_member(f"{prefix}/artifacts/tty", tarfile.CHRTYPE), None)],
    }
    members = cases[case]
    hostile = tmp_path / "hostile.tar.gz"
    _rewrite(tarball, hostile, members)
    before = snapshot(victim)
    ran = gacert("verify", str(hostile), cwd=tmp_path)
    assert ran.code == 1, ran.output
    assert "FAILED" in ran.stdout
    expected = "extra: " if case == "a gigabyte of zeros" else "unsafe: "
    assert expected in ran.stdout
    assert ran.rss < MAX_RSS
    assert snapshot(victim) == before
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_package_directory_with_a_link_out_is_verified_without_reading_it(
        tmp_path: Path) -> None:
    victim = outside(tmp_path)
    _package(tmp_path)
    package = tmp_path / "pkg"
    (package / "artifacts").mkdir()
    (package / "artifacts" / "key").symlink_to(victim / "keep" / "secret.txt")
    fifo = package / "artifacts" / "pipe"
    os.mkfifo(fifo)
    forge_listing(package, {"artifacts/key": sha256(victim / "keep" / "secret.txt")})
    before = snapshot(victim)
    ran = gacert("verify", str(package), cwd=tmp_path)
    assert ran.code == 1, ran.output
    assert "unsafe: artifacts/key (not a regular file; not read)" in ran.stdout
    assert "unsafe: artifacts/pipe (not a regular file; not read)" in ran.stdout
    assert snapshot(victim) == before
    shutil.rmtree(package)
