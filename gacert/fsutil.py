"""Files as gacert touches them: written atomically, read only when regular, reached
inside a directory without following a link out of it, and every failure naming
the file.

A path that names a FIFO, a device or /proc file would make a read hang or
return endless or secret data; a symbolic link inside a package received from
elsewhere could point anywhere. Every reader of a file named by a user or a
package goes through `open_regular` or `open_beneath`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from gacert.errors import OutputError

# Where the kernel shows processes, devices and settings as files: never evidence.
SPECIAL_TREES = ("/proc", "/sys", "/dev")


def describe_os_error(path: str, exc: OSError, doing: str = "") -> str:
    """`path: cannot write: No space left on device`, whatever the error carries."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{path}: {doing + ': ' if doing else ''}{reason}"


@contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces `path` only when the block succeeds.

    It writes a temporary file in the same directory and renames it into
    place: the rename is atomic on POSIX, so readers see either the old file
    or the new one, and fsync first so that a power cut leaves no empty file.
    An OSError (a full disk, a read-only directory) becomes an OutputError
    naming `path`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".gacert-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(describe_os_error(path, exc, "cannot write")) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        os.unlink(temporary)
        # A write error (a full disk: ENOSPC) names no file; one that does is kept.
        if isinstance(exc, OSError) and exc.filename is None:
            raise OutputError(describe_os_error(path, exc, "cannot write")) from None
        raise


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as stream:
        stream.write(data)


def _check_regular(fd: int, path: str) -> os.stat_result:
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        raise NotRegularFile(path)
    return status


class NotRegularFile(OSError):
    """A path that names a FIFO, a device, a directory or a socket, not a plain file."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: not a regular file")
        self.filename = path
        self.strerror = "not a regular file"


def open_regular(path: str) -> BinaryIO:
    """`path` opened for reading, refused (NotRegularFile) unless a regular file.

    The file is opened without blocking, so that a FIFO is refused at once
    instead of waiting for a writer that never comes.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    _check_regular(fd, path)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_regular(path: str, limit: int) -> tuple[bytes, int]:
    """Up to `limit` bytes of the regular file `path`, and its real size."""
    with open_regular(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        return stream.read(limit), size


def open_beneath(root: str, name: str) -> BinaryIO:
    """The regular file `name` (a relative `/` path) under `root`, reached without
    following a symbolic link at any step; OSError (ELOOP, ENOTDIR, NotRegularFile)
    otherwise."""
    directory = _open_directory_beneath(root, name.split("/")[:-1])
    try:
        fd = os.open(name.rsplit("/", 1)[-1],
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=directory)
    finally:
        os.close(directory)
    _check_regular(fd, os.path.join(root, name))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _open_directory_beneath(root: str, parts: list[str]) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(root, flags)
    for part in parts:
        if part in ("", ".", ".."):
            os.close(fd)
            raise OSError(f"{root}: path part {part!r} may not be used")
        try:
            inner = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        fd = inner
    return fd


def unlink_beneath(root: str, name: str) -> None:
    """Remove the file `name` under `root`, never through a symbolic link."""
    directory = _open_directory_beneath(root, name.split("/")[:-1])
    try:
        os.unlink(name.rsplit("/", 1)[-1], dir_fd=directory)
    finally:
        os.close(directory)


def real_directories_beneath(root: str, name: str) -> None:
    """Make the directories of `name` under `root`; refuse (OutputError) a part that
    is a symbolic link or not a directory, so that nothing is written out of `root`."""
    current = root
    for part in name.split("/")[:-1]:
        current = os.path.join(current, part)
        try:
            status = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current)
            continue
        if not stat.S_ISDIR(status.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(status.st_mode) else "not a directory"
            raise OutputError(f"{current}: is {kind}; gacert writes a package only into "
                              "real directories it can see")


def in_special_tree(path: str) -> bool:
    """Whether `path` resolves into /proc, /sys or /dev."""
    real = os.path.realpath(path)
    return any(real == tree or real.startswith(tree + "/") for tree in SPECIAL_TREES)
