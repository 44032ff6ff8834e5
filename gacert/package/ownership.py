"""What gacert may touch in an output directory, and the proof that a file is its own.

gacert writes a package into a directory the user names; that directory may
hold their own files, or be a package received from elsewhere. So:

- A directory is written into only when it is empty, a gacert package, or
  holds nothing but files with the names gacert writes (the leftovers of a
  run that stopped half-way); anything else is refused unless the user says
  `--allow-nonempty-output`.
- A file is removed (a stale artifact, an old PDF) only when gacert can
  prove it wrote it. The proof is the package's own record: MANIFEST.sha256
  together with certification_metadata.json, whose `manifest_sha256` is the
  hash of that manifest's other lines and whose own hash is the manifest's
  line for it, a pair that `sha256sum` alone never writes. A file is removed
  only when such a manifest lists it, its current SHA-256 is the listed one,
  and it is a regular file reached without following any symbolic link. A
  file someone changed, or a link, is left alone.
- An existing tarball is replaced only when it is a gacert tarball (a gzip
  tar holding one directory with a MANIFEST.sha256), never the policy file.

Whether the directory can be written at all is checked before anything is
fetched, so that a run does not query for an hour and then fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Collection, Mapping

from gacert.errors import OutputError, UsageError
from gacert.fsutil import describe_os_error, open_beneath, unlink_beneath
from gacert.package.manifest import (
    MANIFEST_NAME,
    METADATA_NAME,
    manifest_text,
    parse_manifest,
    sha256_stream,
)

ALLOW_OPTION = "--allow-nonempty-output"
# A gacert tarball lists its manifest among its first members (they are sorted, and
# the report names sort before it); a file that does not within this many is not one.
_TARBALL_MEMBERS_LOOKED_AT = 64
_TEMPORARY_PREFIX = ".gacert-"


def proven_listing(directory: str) -> dict[str, str] | None:
    """Package path -> SHA-256 of the gacert package in `directory`, or None when the
    directory holds no manifest that gacert can prove it wrote (see the module doc)."""
    try:
        with open_beneath(directory, MANIFEST_NAME) as stream:
            listed = parse_manifest(stream.read().decode("utf-8"), MANIFEST_NAME)
        with open_beneath(directory, METADATA_NAME) as stream:
            metadata_bytes = stream.read()
        metadata = json.loads(metadata_bytes)
    except (OSError, ValueError, OutputError):
        return None
    others = {name: digest for name, digest in listed.items() if name != METADATA_NAME}
    expected = hashlib.sha256(manifest_text(others).encode("utf-8")).hexdigest()
    if (listed.get(METADATA_NAME) != hashlib.sha256(metadata_bytes).hexdigest()
            or not isinstance(metadata, dict) or "gacert_version" not in metadata
            or metadata.get("manifest_sha256") != expected):
        return None
    return listed


def check_output_directory(directory: str, own_names: Collection[str], *,
                           allow_nonempty: bool) -> None:
    """Refuse a directory that is not ours to write (UsageError), or that cannot be
    made or written (OutputError); creates it when missing."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise UsageError(f"--output {directory}: exists and is not a directory")
    if os.path.isdir(directory) and not allow_nonempty:
        foreign = _foreign_entries(directory, own_names)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise UsageError(f"--output {directory}: holds files that are not a gacert "
                             f"package ({shown}); choose an empty or new directory, or "
                             f"give {ALLOW_OPTION} to write the package beside them "
                             "(gacert then removes none of them)")
    _probe_writable(directory)


def _foreign_entries(directory: str, own_names: Collection[str]) -> list[str]:
    entries = sorted(os.listdir(directory))
    if not entries or proven_listing(directory) is not None:
        return []
    return [name for name in entries if name not in own_names
            and not name.startswith(_TEMPORARY_PREFIX)]


def _probe_writable(directory: str) -> None:
    """Make `directory` (and any missing parents), write a file in it, then undo what
    was made: a directory that can be made and written is left as it was found."""
    missing = []
    path = os.path.abspath(directory)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, suffix=".probe",
                                         dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(describe_os_error(directory, exc, "cannot write the package "
                                            "there")) from None
    finally:
        for made in missing:
            with contextlib.suppress(OSError):
                os.rmdir(made)


def remove_stale(directory: str, previous: Mapping[str, str], kept: Collection[str]) -> None:
    """Remove the files of the earlier package that the new one does not have, each only
    when it is unchanged, regular and reached without a link (see the module doc)."""
    for name in sorted(set(previous) - set(kept)):
        if unchanged(directory, name, previous[name]):
            unlink_beneath(directory, name)
            _remove_empty_parents(directory, name)


def unchanged(directory: str, name: str, digest: str) -> bool:
    """Whether the file `name` in `directory` is a regular file, reached without a
    link, whose SHA-256 is `digest`."""
    try:
        with open_beneath(directory, name) as stream:
            return sha256_stream(stream) == digest
    except OSError:
        return False


def _remove_empty_parents(directory: str, name: str) -> None:
    parent = os.path.dirname(name)
    while parent:
        path = os.path.join(directory, parent)
        if os.path.islink(path):
            return
        try:
            os.rmdir(path)
        except OSError:
            return
        parent = os.path.dirname(parent)


def check_tarball_target(path: str, protected: Collection[str]) -> None:
    """Refuse (UsageError) to replace `path` unless it is absent or a gacert tarball;
    never one of the `protected` files (the policy evaluated)."""
    if not os.path.lexists(path):
        return
    status = os.lstat(path)
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"--tarball {path}: exists and is not a regular file; gacert "
                         "replaces only a gacert tarball")
    for other in protected:
        if os.path.exists(other) and os.path.samefile(path, other):
            raise UsageError(f"--tarball {path}: is the policy file {other}")
    if not is_gacert_tarball(path):
        raise UsageError(f"--tarball {path}: exists and is not a gacert tarball (no "
                         f"{MANIFEST_NAME} in one directory); remove it or choose another "
                         "--tarball")


def is_gacert_tarball(path: str) -> bool:
    """Whether `path` is a gzip tar of one directory holding a MANIFEST.sha256."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for count, member in enumerate(archive):
                if count >= _TARBALL_MEMBERS_LOOKED_AT:
                    return False
                top, _, inner = member.name.partition("/")
                if inner == MANIFEST_NAME and member.isfile() and top:
                    return True
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return False
    return False


def remove_old_tarball(path: str) -> None:
    """Remove a gacert tarball about to be replaced, before the package directory is
    rewritten: if the run stops half-way, no tarball that verifies is left beside a
    directory that no longer matches it."""
    if os.path.lexists(path) and is_gacert_tarball(path):
        try:
            os.unlink(path)
        except OSError as exc:
            raise OutputError(describe_os_error(path, exc, "cannot remove the old "
                                                "tarball")) from None
