"""`gacert verify`: check a package (a directory or its .tar.gz) against its manifest.

Every file is hashed and compared with MANIFEST.sha256; each changed,
missing or extra file is named. The metadata and the policy copy are checked
against the manifest and the results too. A tarball is read in memory and
never extracted; a member that is not a plain file or directory, or whose
path could leave the package (`/x`, `../x`), is refused unread.

A manifest says that nothing changed since packaging, not who packaged it:
publish the tarball's SHA-256 (or sign it) where the package is consumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from gacert.errors import OutputError
from gacert.package.manifest import (
    MANIFEST_NAME,
    METADATA_NAME,
    POLICY_NAME,
    RESULTS_NAME,
    manifest_text,
    parse_manifest,
    sha256_stream,
)
from gacert.package.manifest import unsafe_reason as unsafe_path

REQUIRED = (RESULTS_NAME, POLICY_NAME, METADATA_NAME)
# Files whose content verification reads, besides hashing them, and how much of
# each it holds in memory at most: a package from elsewhere may be a bomb.
_READ = {MANIFEST_NAME: 16 * 1024 * 1024, METADATA_NAME: 16 * 1024 * 1024,
         RESULTS_NAME: 128 * 1024 * 1024}


@dataclass(frozen=True)
class Finding:
    kind: str  # changed, missing, extra, unsafe, inconsistent
    path: str
    detail: str = ""

    def format(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int
    content: bytes | None  # only for the files in _READ


@dataclass(frozen=True)
class Verification:
    source: str
    checked: int  # files listed in the manifest
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(path: str) -> Verification:
    """Verify a package directory or tarball."""
    return verify_and_read(path)[0]


def verify_and_read(path: str) -> tuple[Verification, dict[str, bytes]]:
    """Verify a package; also return the files verification reads (the manifest, the
    metadata, results.json) by name, as they were hashed, so that what a caller
    reads is what was verified (never a second read that could see another file)."""
    if os.path.isdir(path):
        entries, findings = _scan_directory(path)
    elif os.path.isfile(path):
        entries, findings = _scan_tarball(path)
    else:
        raise OutputError(f"{path}: not a package directory or tarball")
    listed, more = _compare(entries)
    read = {name: entry.content for name, entry in entries.items() if entry.content is not None}
    return Verification(path, listed, tuple(findings + more)), read


def _entry(name: str, stream: IO[bytes], size: int) -> Entry:
    if name not in _READ:
        return Entry(sha256_stream(stream), size, None)
    data = stream.read(_READ[name] + 1)
    if len(data) <= _READ[name]:
        return Entry(hashlib.sha256(data).hexdigest(), size, data)
    digest = hashlib.sha256(data)  # too large to hold: hashed, its content left unread
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return Entry(digest.hexdigest(), size, None)


def _unread(entries: Mapping[str, Entry], names: tuple[str, ...]) -> list[Finding]:
    return [Finding("inconsistent", name, f"larger than {_READ[name] // 2**20} MiB; "
                    "not read") for name in names if entries[name].content is None]


def _scan_directory(root: str) -> tuple[dict[str, Entry], list[Finding]]:
    entries: dict[str, Entry] = {}
    findings: list[Finding] = []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files + [d for d in subdirs if os.path.islink(
                os.path.join(directory, d))]):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path) or not os.path.isfile(path):
                findings.append(Finding("unsafe", relative, "not a regular file; not read"))
                continue
            with open(path, "rb") as stream:
                entries[relative] = _entry(relative, stream, os.fstat(stream.fileno()).st_size)
    return entries, findings


def _scan_tarball(path: str) -> tuple[dict[str, Entry], list[Finding]]:
    entries: dict[str, Entry] = {}
    findings: list[Finding] = []
    try:
        with tarfile.open(path, "r:*") as archive:
            for member, name, problem in _members(archive):
                if problem:
                    findings.append(Finding("unsafe", member.name, problem + "; not read"))
                elif member.isfile():
                    stream = archive.extractfile(member)
                    assert stream is not None
                    entries[name] = _entry(name, stream, member.size)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise OutputError(f"{path}: not a readable tarball: {exc}") from None
    return entries, findings


def _members(archive: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, str, str]]:
    """Each member, its path inside the package, and why it is refused (or "")."""
    prefix: str | None = None
    seen: set[str] = set()
    for member in archive:
        reason = unsafe_path(member.name.rstrip("/") if member.isdir() else member.name)
        top, _, inner = member.name.partition("/")
        prefix = top if prefix is None else prefix
        if reason:
            yield member, "", f"path {reason}"
        elif top != prefix:
            yield member, "", f"outside the package directory {prefix}/"
        elif not (member.isfile() or member.isdir()):
            yield member, "", "a link or special file"
        elif member.isfile() and not inner:
            yield member, "", "a file in place of the package directory"
        elif member.name in seen:
            yield member, "", "appears twice"
        else:
            seen.add(member.name)
            yield member, inner, ""


def _compare(entries: Mapping[str, Entry]) -> tuple[int, list[Finding]]:
    manifest = entries.get(MANIFEST_NAME)
    if manifest is None:
        return 0, [Finding("missing", MANIFEST_NAME, "not a gacert package")]
    if manifest.content is None:
        return 0, _unread(entries, (MANIFEST_NAME,))
    try:
        listed = parse_manifest(manifest.content.decode("utf-8"), MANIFEST_NAME)
    except (OutputError, UnicodeDecodeError) as exc:
        return 0, [Finding("inconsistent", MANIFEST_NAME, str(exc))]
    findings = [Finding("missing", name, "in the manifest, not in the package")
                for name in sorted(listed) if name not in entries]
    findings += [Finding("changed", name, "SHA-256 differs from the manifest")
                 for name in sorted(listed) if name in entries
                 and entries[name].sha256 != listed[name]]
    findings += [Finding("extra", name, "not in the manifest")
                 for name in sorted(entries) if name not in listed and name != MANIFEST_NAME]
    findings += [Finding("missing", name, "a package must list it")
                 for name in REQUIRED if name not in listed]
    if not findings:
        findings += _cross_check(entries, listed)
    return len(listed), findings


def _cross_check(entries: Mapping[str, Entry], listed: Mapping[str, str]) -> list[Finding]:
    """The metadata agrees with the manifest, and the policy copy with the results."""
    findings = _unread(entries, (METADATA_NAME, RESULTS_NAME))
    if findings:
        return findings
    try:
        metadata = json.loads(entries[METADATA_NAME].content or b"")
        results = json.loads(entries[RESULTS_NAME].content or b"")
        policy_sha256 = results["policy"]["sha256"]
        files = {f["path"]: (f["size"], f["sha256"]) for f in metadata["files"]}
        manifest_hash = metadata["manifest_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        return [Finding("inconsistent", METADATA_NAME, f"cannot be read: {exc}")]
    others = {name: digest for name, digest in listed.items() if name != METADATA_NAME}
    expected = hashlib.sha256(manifest_text(others).encode("utf-8")).hexdigest()
    if manifest_hash != expected:
        findings.append(Finding("inconsistent", METADATA_NAME,
                                "manifest_sha256 does not match MANIFEST.sha256"))
    if files != {n: (entries[n].size, d) for n, d in others.items()}:
        findings.append(Finding("inconsistent", METADATA_NAME,
                                "its file list does not match MANIFEST.sha256"))
    if entries[POLICY_NAME].sha256 != policy_sha256:
        findings.append(Finding("inconsistent", POLICY_NAME,
                                "not the policy the results were evaluated with"))
    return findings
