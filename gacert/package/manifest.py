"""MANIFEST.sha256: every file of a package with its SHA-256, as `sha256sum` writes it.

One line per file, `<64 hex digits><two spaces><path>`, sorted by path, so
that `sha256sum -c MANIFEST.sha256` checks a package without gacert. Paths
are relative to the package root, with `/` separators, and never hold what
that format would have to escape (a backslash or a line break).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import IO

from gacert.errors import OutputError

MANIFEST_NAME = "MANIFEST.sha256"
# The files every package has, which verification cross-checks.
RESULTS_NAME = "results.json"
POLICY_NAME = "policy.yaml"
METADATA_NAME = "certification_metadata.json"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_CHUNK = 1 << 20


def sha256_stream(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str) -> str:
    with open(path, "rb") as stream:
        return sha256_stream(stream)


def unsafe_reason(name: str) -> str | None:
    """Why `name` cannot be a path inside a package, or None when it can."""
    if not name or name.startswith("/"):
        return "is absolute or empty"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' part"
    if "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds a backslash or a control character"
    return None


def manifest_text(digests: Mapping[str, str]) -> str:
    """The manifest of `digests` (package path -> SHA-256), sorted by path."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))


def parse_manifest(text: str, where: str) -> dict[str, str]:
    """Package path -> SHA-256; a malformed or unsafe line is an OutputError."""
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            raise OutputError(f"{where}:{number}: not a '<sha256>  <path>' line")
        digest, name = match.groups()
        reason = unsafe_reason(name)
        if reason is not None:
            raise OutputError(f"{where}:{number}: path {name!r} {reason}")
        if name in digests:
            raise OutputError(f"{where}:{number}: {name} is listed twice")
        digests[name] = digest
    return digests
