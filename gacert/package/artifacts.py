"""Evidence made elsewhere (`--include-artifacts`), placed under `artifacts/` in a package.

A file goes in as `artifacts/<its name>`; a directory as `artifacts/<its
name>/...` with every regular file under it. A symbolic link is followed only
when it stays where it was given: a link inside an included directory must
point inside that directory, and a link named on the command line must point
inside the directory that holds it. Anything else (a link to a secret, a
device, a name the manifest cannot hold) is refused before anything runs, and
so are a file with several hard links (one of them may be a secret's, made
where the person running gacert cannot see it) and anything under /proc,
/sys or /dev, whose "regular files" are process state such as
/proc/self/environ.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gacert.errors import UsageError
from gacert.fsutil import in_special_tree
from gacert.package.manifest import unsafe_reason

ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class Artifact:
    source: str  # the real file to read
    name: str  # its path in the package, under artifacts/
    # Kept from a package being re-rendered: `name` is read inside this directory,
    # without following any link (`source` is then only shown).
    beneath: str | None = None


def collect_artifacts(paths: Sequence[str]) -> list[Artifact]:
    """Every file the paths add to a package, in package order; refuses unsafe ones."""
    found: dict[str, Artifact] = {}
    for given in paths:
        for artifact in _artifacts_of(given):
            if artifact.name in found:
                raise UsageError(f"--include-artifacts: two artifacts would be stored as "
                                 f"{artifact.name} ({found[artifact.name].source} and "
                                 f"{artifact.source})")
            found[artifact.name] = artifact
    return [found[name] for name in sorted(found)]


def _artifacts_of(given: str) -> Iterator[Artifact]:
    if not os.path.lexists(given):
        raise UsageError(f"--include-artifacts {given}: no such file or directory")
    base = os.path.basename(os.path.normpath(os.path.abspath(given)))
    root = os.path.realpath(given)
    if os.path.islink(given):
        _check_inside(given, root, os.path.dirname(os.path.abspath(given)))
    if os.path.isdir(root):
        yield from _walk(given, root, f"{ARTIFACTS_DIR}/{base}")
    else:
        yield _file(given, root, f"{ARTIFACTS_DIR}/{base}")


def _walk(given: str, root: str, prefix: str) -> Iterator[Artifact]:
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted([*files, *(d for d in subdirs
                                      if os.path.islink(os.path.join(directory, d)))]):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path):
                target = _check_inside(os.path.join(given, relative), path, root)
                if os.path.isdir(target):
                    raise UsageError(f"--include-artifacts {os.path.join(given, relative)}: "
                                     "is a link to a directory; include the directory itself")
            yield _file(os.path.join(given, relative), path, f"{prefix}/{relative}")


def _check_inside(shown: str, path: str, root: str) -> str:
    """The target of the link `path`; refused unless it lies inside `root`."""
    target = os.path.realpath(path)
    real_root = os.path.realpath(root)
    if os.path.commonpath([target, real_root]) != real_root:
        raise UsageError(f"--include-artifacts {shown}: is a link to {target}, outside "
                         f"{real_root}; links may not point outside what is included")
    return target


def _file(shown: str, path: str, name: str) -> Artifact:
    reason = unsafe_reason(name)
    if reason is not None:
        raise UsageError(f"--include-artifacts {shown}: its name {name!r} {reason}")
    if in_special_tree(path):
        raise UsageError(f"--include-artifacts {shown}: is under /proc, /sys or /dev; "
                         "such files are system state, not evidence")
    try:
        status = os.stat(path)
    except OSError as exc:
        raise UsageError(f"--include-artifacts {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(f"--include-artifacts {shown}: not a regular file")
    if status.st_nlink > 1:
        raise UsageError(f"--include-artifacts {shown}: has {status.st_nlink} hard links, "
                         "and another of its names may be a file you did not mean to "
                         "package; copy it and include the copy")
    return Artifact(os.path.realpath(path), name)
