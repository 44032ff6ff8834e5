"""`gacert verify`: every change to a package is caught and named; unsafe tarballs are refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sample_results import write_results

from gacert.errors import OutputError
from gacert.package.build import PackageOptions, write_package
from gacert.package.manifest import MANIFEST_NAME, manifest_text, parse_manifest
from gacert.package.verify import verify

ROOT = Path(__file__).resolve().parent.parent
Members = dict[str, bytes]


def gacert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gacert", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A fresh package directory; its tarball is beside it as pkg.tar.gz."""
    results = write_results(tmp_path / "run")
    write_package(json.loads(results.read_text()), str(results), str(tmp_path / "pkg"),
                  PackageOptions(pdf=False))
    return tmp_path / "pkg"


def read_tarball(path: Path) -> tuple[str, Members]:
    with tarfile.open(path) as archive:
        members = {m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
                   for m in archive.getmembers() if m.isfile()}
    prefix = next(iter(members)).split("/")[0]
    return prefix, {name.split("/", 1)[1]: data for name, data in members.items()}


def write_tarball(path: Path, prefix: str, members: Members,
                  extra: Callable[[tarfile.TarFile], None] | None = None) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if extra:
            extra(archive)


def flip_a_byte(data: bytes) -> bytes:
    return data[:10] + bytes([data[10] ^ 0x01]) + data[11:]


# Each change made to a fresh package, and the one finding it must give.
CHANGES = [
    pytest.param(lambda m: m.update({"GA_DAY_REPORT.md": flip_a_byte(m["GA_DAY_REPORT.md"])}),
                 "changed: GA_DAY_REPORT.md", id="a 1-byte change is caught"),
    pytest.param(lambda m: m.pop("EMAIL_SUMMARY.txt"), "missing: EMAIL_SUMMARY.txt",
                 id="a removed file is caught"),
    pytest.param(lambda m: m.update({"artifacts/extra.txt": b"added later"}),
                 "extra: artifacts/extra.txt", id="an added file is caught"),
]


def test_a_fresh_package_verifies(built: Path) -> None:
    for target in (built, built.parent / "pkg.tar.gz"):
        proc = gacert("verify", str(target))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == f"{target}: OK, all 7 files match MANIFEST.sha256"


@pytest.mark.parametrize(("change", "finding"), CHANGES)
def test_a_change_to_a_package_directory_is_named(built: Path, change: Callable[[Members], None],
                                                  finding: str) -> None:
    members = {str(p.relative_to(built)): p.read_bytes() for p in built.rglob("*")
               if p.is_file()}
    before = dict(members)
    change(members)
    for name in before.keys() - members.keys():
        (built / name).unlink()
    for name, data in members.items():
        if before.get(name) != data:
            (built / name).parent.mkdir(parents=True, exist_ok=True)
            (built / name).write_bytes(data)
    proc = gacert("verify", str(built))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith(finding)
    assert proc.stdout.splitlines()[-1] == f"{built}: FAILED, 1 problems"


@pytest.mark.parametrize(("change", "finding"), CHANGES)
def test_a_change_to_a_tarball_is_named(built: Path, tmp_path: Path,
                                        change: Callable[[Members], None], finding: str) -> None:
    prefix, members = read_tarball(built.parent / "pkg.tar.gz")
    change(members)
    changed = tmp_path / "changed.tar.gz"
    write_tarball(changed, prefix, members)
    result = verify(str(changed))
    assert [f.format() for f in result.findings] == [
        finding + (" (SHA-256 differs from the manifest)" if "changed" in finding else
                   " (in the manifest, not in the package)" if "missing" in finding else
                   " (not in the manifest)")]
    assert gacert("verify", str(changed)).returncode == 1


def _absolute(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("/tmp/gacert-verify-escape")
    archive.addfile(info, io.BytesIO(b""))


def _climbing(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("pkg/../../gacert-verify-escape")
    archive.addfile(info, io.BytesIO(b""))


def _link(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("pkg/passwd")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive.addfile(info)


def _second_root(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("other/file.txt")
    info.size = 2
    archive.addfile(info, io.BytesIO(b"hi"))


@pytest.mark.parametrize(("add", "refused"), [
    pytest.param(_absolute, "/tmp/gacert-verify-escape", id="an absolute path is refused"),
    pytest.param(_climbing, "pkg/../../gacert-verify-escape", id="a '..' path is refused"),
    pytest.param(_link, "pkg/passwd", id="a symbolic link is refused"),
    pytest.param(_second_root, "other/file.txt", id="a member outside the package is refused"),
])
def test_unsafe_tarball_members_are_refused_unread(built: Path, tmp_path: Path,
                                                   add: Callable[[tarfile.TarFile], None],
                                                   refused: str) -> None:
    prefix, members = read_tarball(built.parent / "pkg.tar.gz")
    hostile = tmp_path / "hostile.tar.gz"
    write_tarball(hostile, "pkg", members, add)
    result = verify(str(hostile))
    assert [f.kind for f in result.findings] == ["unsafe"]
    assert result.findings[0].path == refused
    assert not Path("/tmp/gacert-verify-escape").exists()
    assert prefix  # the original had a package directory too


def test_a_manifest_that_points_outside_is_not_followed(built: Path) -> None:
    manifest = built / "MANIFEST.sha256"
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  ../../etc/passwd\n")
    result = verify(str(built))
    assert [f.kind for f in result.findings] == ["inconsistent"]
    assert "../../etc/passwd" in result.findings[0].detail


DIGEST = "ab" * 32


def bad_part(path: str, line: int = 1) -> str:
    return f"MANIFEST.sha256:{line}: path {path!r} has an empty, '.' or '..' part"


@pytest.mark.parametrize(("lines", "message"), [
    pytest.param([f"{DIGEST}  ./results.json"], bad_part("./results.json"),
                 id="a leading '.' part is refused"),
    pytest.param([f"{DIGEST}  policy.yaml", f"{DIGEST}  artifacts/./k6.json"],
                 bad_part("artifacts/./k6.json", line=2), id="a '.' part inside a path is refused"),
    pytest.param([f"{DIGEST}  artifacts//k6.json"], bad_part("artifacts//k6.json"),
                 id="an empty part is refused"),
    pytest.param([f"{DIGEST}  artifacts/../policy.yaml"], bad_part("artifacts/../policy.yaml"),
                 id="a '..' part is refused"),
    pytest.param([f"{DIGEST}  /etc/passwd"], "MANIFEST.sha256:1: path '/etc/passwd' is absolute",
                 id="an absolute path is refused"),
    pytest.param([f"{DIGEST}  a\\b"], "MANIFEST.sha256:1: path 'a\\\\b' holds a backslash",
                 id="a backslash is refused"),
    pytest.param([f"{DIGEST}  policy.yaml", f"{DIGEST}  results.json", f"{DIGEST}  policy.yaml"],
                 "MANIFEST.sha256:3: policy.yaml is listed twice",
                 id="the same path twice is refused, even with the same digest"),
    pytest.param([f"{DIGEST}  policy.yaml", f"{'cd' * 32}  policy.yaml"],
                 "MANIFEST.sha256:2: policy.yaml is listed twice",
                 id="the same path twice with two digests is refused"),
    pytest.param([f"{DIGEST[:-1]}  policy.yaml"],
                 "MANIFEST.sha256:1: not a '<sha256>  <path>' line", id="a short digest"),
])
def test_a_manifest_line_that_could_mislead_is_refused(lines: list[str], message: str) -> None:
    with pytest.raises(OutputError) as raised:
        parse_manifest("".join(line + "\n" for line in lines), MANIFEST_NAME)
    assert str(raised.value).startswith(message)


def test_the_manifest_gacert_writes_parses_back(built: Path) -> None:
    listed = parse_manifest((built / MANIFEST_NAME).read_text(), MANIFEST_NAME)
    assert sorted(listed) == sorted(str(p.relative_to(built)) for p in built.rglob("*")
                                    if p.is_file() and p.name != MANIFEST_NAME)
    assert manifest_text(listed) == (built / MANIFEST_NAME).read_text()


def rewrite_manifest(package: Path, change: Callable[[list[str]], list[str]]) -> None:
    manifest = package / MANIFEST_NAME
    manifest.write_text("".join(line + "\n" for line in change(manifest.read_text()
                                                                .splitlines())))


@pytest.mark.parametrize(("change", "detail"), [
    pytest.param(lambda lines: [*lines, lines[-1]], "is listed twice",
                 id="a line given twice, which sha256sum -c would accept"),
    pytest.param(lambda lines: [line.replace("  results.json", "  ./results.json")
                                for line in lines], "'./results.json' has an empty, '.'",
                 id="a path spelled with './', which sha256sum -c would accept"),
    pytest.param(lambda lines: [line.replace("  policy.yaml", "  artifacts/../policy.yaml")
                                for line in lines], "'artifacts/../policy.yaml' has an empty",
                 id="a path spelled with '..'"),
])
def test_a_package_whose_manifest_names_a_file_twice_or_oddly_fails(
        built: Path, change: Callable[[list[str]], list[str]], detail: str) -> None:
    """Each file has exactly one name in the manifest, the one it has in the package."""
    rewrite_manifest(built, change)
    result = verify(str(built))
    assert [(f.kind, f.path) for f in result.findings] == [("inconsistent", MANIFEST_NAME)]
    assert detail in result.findings[0].detail
    proc = gacert("verify", str(built))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith(f"inconsistent: {MANIFEST_NAME} (")


def _dot_member(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("pkg/./notes.txt")
    info.size = 2
    archive.addfile(info, io.BytesIO(b"hi"))


def test_a_tarball_member_with_a_dot_part_is_refused_unread(built: Path, tmp_path: Path) -> None:
    _, members = read_tarball(built.parent / "pkg.tar.gz")
    hostile = tmp_path / "hostile.tar.gz"
    write_tarball(hostile, "pkg", members, _dot_member)
    result = verify(str(hostile))
    assert [f.format() for f in result.findings] == [
        "unsafe: pkg/./notes.txt (path has an empty, '.' or '..' part; not read)"]


def test_a_policy_swapped_with_a_matching_manifest_line_is_caught(built: Path) -> None:
    """Someone replaces policy.yaml and rewrites its manifest line to match."""
    policy = built / "policy.yaml"
    policy.write_text("version: 1\nname: tars-ga\n# a looser policy\n")
    manifest = built / "MANIFEST.sha256"
    lines = [line if not line.endswith("  policy.yaml") else
             f"{hashlib.sha256(policy.read_bytes()).hexdigest()}  policy.yaml"
             for line in manifest.read_text().splitlines()]
    manifest.write_text("\n".join(lines) + "\n")
    kinds = {(f.kind, f.path, f.detail) for f in verify(str(built)).findings}
    assert ("inconsistent", "policy.yaml",
            "not the policy the results were evaluated with") in kinds
    assert ("inconsistent", "certification_metadata.json",
            "manifest_sha256 does not match MANIFEST.sha256") in kinds


def test_a_directory_without_a_manifest_is_not_a_package(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    proc = gacert("verify", str(tmp_path))
    assert proc.returncode == 1
    assert "missing: MANIFEST.sha256 (not a gacert package)" in proc.stdout


def test_a_file_that_is_not_a_tarball_cannot_be_verified(tmp_path: Path) -> None:
    bogus = tmp_path / "package.tar.gz"
    bogus.write_bytes(os.urandom(512))
    proc = gacert("verify", str(bogus))
    assert proc.returncode == 3
    assert "not a readable tarball" in proc.stderr
    assert "Traceback" not in proc.stderr
