"""The package as a reproducible .tar.gz: the same files give the same bytes.

Entries are sorted, owned by uid/gid 0 with empty owner names, dated at one
fixed time (the end of the GA window), with modes normalised to 0644 (0755
for directories and executables); gzip gets no file name and mtime 0. So two
packagings of the same results are byte-identical, and the tarball's
SHA-256 can itself be published.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Mapping, Sequence
from typing import BinaryIO

from gacert.fsutil import atomic_file


def _info(name: str, mtime: int, *, size: int = 0, directory: bool = False,
          executable: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory or executable else 0o644
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _directories(names: Sequence[str]) -> list[str]:
    """Every directory that holds one of `names` (relative paths), parents first."""
    found = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
    return sorted(found)


def _write(stream: BinaryIO, root: str, files: Mapping[str, bytes | None], prefix: str,
           mtime: int) -> None:
    # filename="" and mtime=0 keep the gzip header free of anything that varies.
    # Level 6 (zlib's default): level 9 took twice the time for 1-2 % less.
    with gzip.GzipFile(filename="", mode="wb", fileobj=stream, mtime=0,
                       compresslevel=6) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(_info(prefix, mtime, directory=True))
        for directory in _directories(list(files)):
            archive.addfile(_info(f"{prefix}/{directory}", mtime, directory=True))
        for name in sorted(files):
            data = files[name]
            if data is not None:  # written by gacert just now (mode 0644): not read back
                archive.addfile(_info(f"{prefix}/{name}", mtime, size=len(data)),
                                io.BytesIO(data))
                continue
            with open(os.path.join(root, name), "rb") as source:
                status = os.fstat(source.fileno())
                archive.addfile(_info(f"{prefix}/{name}", mtime, size=status.st_size,
                                      executable=bool(status.st_mode & 0o100)), source)


def write_tarball(path: str, root: str, files: Mapping[str, bytes | None], prefix: str,
                  mtime: int) -> int:
    """Write a .tar.gz of `files` (relative to `root`) under the directory `prefix`.

    A file given with its bytes is taken from them; one given with None is read
    from `root`, streamed. The archive is streamed to a temporary file beside
    `path` and renamed into place, so that large artifacts are never held in
    memory and a reader never sees half a tarball. Returns its size in bytes.
    """
    with atomic_file(path) as stream:
        _write(stream, root, files, prefix, mtime)
    return os.path.getsize(path)
