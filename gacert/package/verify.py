"""`gacert verify`: check a package (a directory or its .tar.gz) against its manifest.

Every file is hashed and compared with MANIFEST.sha256; each changed,
missing or extra file is named. The metadata and the policy copy are checked
against the manifest and the results too. Every file is hashed as it streams,
1 MiB at a time: only the manifest and the metadata (at most 16 MiB each) and
the head of results.json up to its `policy` member are held, so a package of
any size verifies in a few tens of MB. A tarball is read member by member and
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
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from gacert.errors import OutputError
from gacert.package.manifest import (
    MANIFEST_NAME,
    METADATA_NAME,
    POLICY_NAME,
    RESULTS_NAME,
    manifest_text,
    parse_manifest,
)
from gacert.package.manifest import unsafe_reason as unsafe_path

REQUIRED = (RESULTS_NAME, POLICY_NAME, METADATA_NAME)
# The small files verification reads besides hashing them, each at most this big:
# a package's manifest and metadata hold a line or an entry per file.
_READ = (MANIFEST_NAME, METADATA_NAME)
MAX_READ_BYTES = 16 * 1024 * 1024
# A file a caller asks to keep (a re-grade keeps results.json) is held up to this:
# a package from elsewhere may be a bomb.
MAX_KEPT_BYTES = 128 * 1024 * 1024
_CHUNK = 1 << 20  # every file is hashed 1 MiB at a time, never read whole


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
    content: bytes | None  # the files in _READ, and those a caller asked to keep
    problem: str = ""  # why a file verification must read was not read
    policy_sha256: str | None = None  # results.json: its policy.sha256


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


def verify_and_read(path: str, keep: Collection[str] = ()
                    ) -> tuple[Verification, dict[str, bytes]]:
    """Verify a package; also return the files named in `keep` (and the manifest and
    metadata) by name, as they were hashed, so that what a caller reads is what was
    verified (never a second read that could see another file). Every other file
    is hashed 1 MiB at a time and never held whole."""
    if os.path.isdir(path):
        entries, findings = _scan_directory(path, keep)
    elif os.path.isfile(path):
        entries, findings = _scan_tarball(path, keep)
    else:
        raise OutputError(f"{path}: not a package directory or tarball")
    listed, more = _compare(entries)
    read = {name: entry.content for name, entry in entries.items() if entry.content is not None}
    return Verification(path, listed, tuple(findings + more)), read


def _entry(name: str, stream: IO[bytes], size: int, keep: Collection[str]) -> Entry:
    """Hash one file as it streams by, keeping what verification reads of it."""
    digest = hashlib.sha256()
    whole = name in keep or name in _READ
    kept: bytearray | None = bytearray() if whole else None
    head = PolicyDigest() if name == RESULTS_NAME else None
    limit = MAX_KEPT_BYTES if name in keep else MAX_READ_BYTES
    problem = ""
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if head is not None:
            head.feed(chunk)
        if kept is not None:
            kept += chunk
            if len(kept) > limit:
                kept, problem = None, f"larger than {limit >> 20} MiB; not read"
    return Entry(digest.hexdigest(), size, None if kept is None else bytes(kept), problem,
                 head.sha256 if head is not None else None)


class PolicyDigest:
    """Finds `policy.sha256` in a results document fed to it in chunks, reading only
    as far as the top-level `policy` member (the fifth member gacert writes), and at
    most MAX_READ_BYTES of it: a results document of any size is never held whole."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._done = False
        self.sha256: str | None = None

    def feed(self, chunk: bytes) -> None:
        if self._done:
            return
        self._head += chunk
        policy = _top_level_member(self._head.decode("utf-8", "ignore"), "policy")
        if policy is not _INCOMPLETE or len(self._head) > MAX_READ_BYTES:
            self._done = True
            self._head = bytearray()
            digest = policy.get("sha256") if isinstance(policy, dict) else None
            self.sha256 = digest if isinstance(digest, str) else None


_INCOMPLETE = object()
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _top_level_member(text: str, wanted: str) -> Any:
    """The value of the top-level member `wanted` of the JSON object that `text` begins;
    _INCOMPLETE when `text` ends before it; None when the object has no such member."""
    at = _skip(text, 0)
    if at == len(text):
        return _INCOMPLETE
    if text[at] != "{":
        return None
    at += 1
    while True:
        at = _skip(text, at)
        if at == len(text):
            return _INCOMPLETE
        if text[at] == "}":
            return None
        try:
            key, at = _DECODER.raw_decode(text, at)
            at = _skip(text, at)
            if text[at] != ":":
                return None
            value, at = _DECODER.raw_decode(text, _skip(text, at + 1))
        except (ValueError, IndexError):
            return _INCOMPLETE  # the member goes on past what has been read (or is broken)
        if key == wanted:
            return value
        at = _skip(text, at)
        if at < len(text) and text[at] == ",":
            at += 1


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _scan_directory(root: str, keep: Collection[str]
                    ) -> tuple[dict[str, Entry], list[Finding]]:
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
                entries[relative] = _entry(relative, stream, os.fstat(stream.fileno()).st_size,
                                           keep)
    return entries, findings


def _scan_tarball(path: str, keep: Collection[str]) -> tuple[dict[str, Entry], list[Finding]]:
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
                    entries[name] = _entry(name, stream, member.size, keep)
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
        return 0, [Finding("inconsistent", MANIFEST_NAME, manifest.problem)]
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
    findings: list[Finding] = []
    entry = entries[METADATA_NAME]
    if entry.content is None:
        return [Finding("inconsistent", METADATA_NAME, entry.problem)]
    try:
        metadata = json.loads(entry.content)
        files = {f["path"]: (f["size"], f["sha256"]) for f in metadata["files"]}
        manifest_hash = metadata["manifest_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        return [Finding("inconsistent", METADATA_NAME, f"cannot be read: {exc}")]
    policy_sha256 = entries[RESULTS_NAME].policy_sha256
    if policy_sha256 is None:
        return [Finding("inconsistent", RESULTS_NAME, "cannot be read: no policy.sha256 in "
                        f"its first {MAX_READ_BYTES >> 20} MiB")]
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
