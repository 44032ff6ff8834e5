"""What the hostile-input tests share: running the real CLI in a subprocess with its
peak memory measured, files outside the output snapshotted, and small policies.

Memory is measured, never time: `os.wait4` gives the peak RSS of exactly the
gacert process (ru_maxrss), which a test bounds.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
# A gacert run needs about 60 MB; every hostile answer must keep it well below this.
MAX_RSS = 300 * MIB
SECRET = "s3cr3t-HOSTILE-7f0c"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str
    rss: int  # peak resident memory of the gacert process, in bytes

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def gacert(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240,
           max_file_bytes: int | None = None) -> Ran:
    """`python -m gacert ARGS` in a new process; its exit code, output and peak RSS.

    `max_file_bytes` limits the size of any file it writes (RLIMIT_FSIZE), to
    make a write fail as a full disk would.
    """
    def limits() -> None:
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    environ = {**os.environ, **(env or {})}
    if max_file_bytes is not None:
        # Coverage's data file, written as the child exits, would hit the limit too
        # and change the exit code under test: such a child runs unmeasured.
        environ = {k: v for k, v in environ.items() if not k.startswith("COVERAGE_")}
    out, err = cwd / ".stdout", cwd / ".stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "gacert", *args], cwd=cwd,
                                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                env=environ,
                                preexec_fn=limits)  # noqa: PLW1509 -- a limit only the child can set
        # A hang is a failure with a message, not a test that never ends.
        killer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    ran = Ran(code, out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"),
              usage.ru_maxrss * 1024)
    out.unlink()
    err.unlink()
    assert code != -signal.SIGKILL, f"gacert {' '.join(args)} ran for over {timeout} s"
    assert "Traceback" not in ran.output, ran.output
    assert "internal error" not in ran.output, ran.output
    return ran


def snapshot(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and link under `directory`: its mtime, size and SHA-256 (or target)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        status = path.lstat()
        if path.is_symlink():
            content = "-> " + os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "dir"
        found[str(path.relative_to(directory))] = (status.st_mtime_ns, status.st_size, content)
    return found


def outside(tmp_path: Path) -> Path:
    """A directory beside the output holding a secret, which nothing may touch."""
    directory = tmp_path / "outside"
    (directory / "keep").mkdir(parents=True, exist_ok=True)
    (directory / "keep" / "secret.txt").write_text(f"token={SECRET}\n")
    (directory / "notes.md").write_text("my own notes\n")
    return directory


def _policy(directory: Path, name: str, sources: str, checks: str) -> Path:
    path = directory / name
    path.write_text(f"version: 1\nname: hostile\nsources:\n{sources}checks:\n{checks}")
    return path


def command_policy(directory: Path, *, extra_sources: str = "", extra_checks: str = "",
                   name: str = "p.yaml") -> Path:
    """A policy whose one check runs `true`: a run without any server."""
    return _policy(directory, name, f"""\
  sh:
    type: command
    command: ["true"]
{extra_sources}""", f"""\
  - id: runs
    source: sh
    query: exit_code
    fail: value != 0
{extra_checks}""")


def prometheus_policy(directory: Path, url: str, *, settings: str = "", timeout: str = "60s",
                      name: str = "p.yaml") -> Path:
    """A policy with one instant query against the Prometheus API at `url`. The
    timeout is long by default: on a loaded machine, reading 256 MiB takes a while."""
    return _policy(directory, name, f"""\
  prom:
    type: prometheus
    url: {url}
    retries: 0
    timeout: {timeout}
{settings}""", """\
  - id: up
    source: prom
    query: up
    fail: value < 1
""")
