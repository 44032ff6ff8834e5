"""A real, local Prometheus holding generated GA-day data, for tests and the demo.

`build_dataset` writes the OpenMetrics of `gaday` and backfills it into TSDB
blocks with promtool, caching the blocks by their inputs; `PrometheusServer`
runs Prometheus on 127.0.0.1 over a copy of those blocks.

Only the standard library is used here (urllib, not httpx), so importing this
module costs nothing to `gacert` itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from gacert.demo import gaday

INSTALL_HINT = "install it with: apt-get install -y prometheus"
# Prometheus counts time retention back from its newest block and caps the
# setting at 100 years: with it, the 2025 test data is never deleted.
RETENTION = "100y"
# A larger maximum lets promtool write the whole span as one block: it reads
# the whole input once per block, so 2-hour blocks would cost hundreds of passes.
MAX_BLOCK_DURATION = "8760h"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_CONFIG = "# No scrape targets: the data comes from backfilled blocks.\nscrape_configs: []\n"


def find_binary(name: str, hint: str = INSTALL_HINT) -> str:
    """Path of a server binary (`prometheus`, `promtool`, ...), else a clear error."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None
    )
    if found is None:
        raise RuntimeError(f"{name} is not installed; {hint}")
    return found


def backfill(openmetrics_file: Path, tsdb_dir: Path) -> None:
    """Turn an OpenMetrics file into TSDB blocks under `tsdb_dir`."""
    command = [
        find_binary("promtool"),
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={MAX_BLOCK_DURATION}",
        "--quiet",
        str(openmetrics_file),
        str(tsdb_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"promtool could not backfill {openmetrics_file} (exit {result.returncode}):\n"
            f"{result.stderr.strip() or result.stdout.strip()}"
        )


# --- the cached dataset ----------------------------------------------------------


def cache_root() -> Path:
    """Where built TSDBs are kept: $GACERT_CACHE_DIR, else ~/.cache/gacert/demo-tsdb."""
    configured = os.environ.get("GACERT_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "gacert" / "demo-tsdb"


def dataset_key(
    start: datetime, end: datetime, faults: Sequence[gaday.Fault], scrape_interval: int, seed: int
) -> str:
    """A hash of the generator's version, source and arguments: equal keys, equal data."""
    digest = hashlib.sha256(f"gaday {gaday.GENERATOR_VERSION}\n".encode())
    digest.update(Path(gaday.__file__).read_bytes())
    arguments = (
        start.isoformat(),
        end.isoformat(),
        [repr(f) for f in faults],
        scrape_interval,
        seed,
    )
    digest.update(repr(arguments).encode())
    return digest.hexdigest()[:32]


def build_dataset(
    work_dir: Path,
    start: datetime,
    end: datetime,
    faults: Sequence[gaday.Fault] = (),
    scrape_interval: int = 60,
    seed: int = 0,
    *,
    use_cache: bool = True,
) -> Path:
    """Generate and backfill the data; return a fresh, writable TSDB dir in `work_dir`.

    With `use_cache`, blocks built once for the same inputs and generator
    source are reused from `cache_root()`. Prometheus writes into its data
    dir, so each call copies the blocks (a few tens of MB) into `work_dir`.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "tsdb"
    if target.exists():
        shutil.rmtree(target)
    if not use_cache:
        _generate_blocks(target, start, end, faults, scrape_interval, seed)
        return target
    cached = cache_root() / dataset_key(start, end, faults, scrape_interval, seed)
    copy_cached(cached, target, lambda staging: _generate_blocks(
        staging, start, end, faults, scrape_interval, seed))
    return target


def copy_cached(cached: Path, target: Path, build: Callable[[Path], None]) -> None:
    """Copy the directory `cached` to `target`, first calling `build` to make it if needed."""
    if not cached.is_dir():
        # Build beside the final place and rename: a reader never sees a half
        # built directory, and of two concurrent builders the first rename wins.
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = cached.with_name(f"{cached.name}.building-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            build(staging)
            with contextlib.suppress(OSError):
                staging.rename(cached)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(cached, target)


def _generate_blocks(
    tsdb_dir: Path,
    start: datetime,
    end: datetime,
    faults: Sequence[gaday.Fault],
    scrape_interval: int,
    seed: int,
) -> None:
    tsdb_dir.mkdir(parents=True)
    # The OpenMetrics text is large (about 50 MB a day) and only an input to
    # promtool: write it beside the blocks and remove it once they exist.
    openmetrics = tsdb_dir.with_name(f"{tsdb_dir.name}.om")
    try:
        with openmetrics.open("w", encoding="utf-8") as out:
            gaday.write_openmetrics(out, start, end, faults, scrape_interval, seed)
        backfill(openmetrics, tsdb_dir)
    finally:
        openmetrics.unlink(missing_ok=True)


# --- the server ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    """Run in the child before exec: Linux sends it SIGTERM when we die.

    This covers the case a context manager cannot: the test run or demo being
    killed outright. The child outlives us only when asked to (`detach`).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class LocalServer:
    """A metrics server process on 127.0.0.1 over a data directory: started,
    waited for until it answers its readiness path, stopped.

    Use as a context manager (or call `start()` and `stop()`): the process is
    stopped on exit, also when the body raises. Its log is `work_dir/NAME.log`.
    Subclasses say how to run the server (`command`) and where it says it is
    ready (`ready_path`).
    """

    name = "server"
    ready_path = "/-/ready"

    def __init__(
        self,
        data_dir: Path,
        work_dir: Path,
        *,
        port: int | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        detach: bool = False,
    ) -> None:
        # Absolute paths: a detached server must not depend on our working dir.
        self.data_dir = data_dir.resolve()
        self.work_dir = work_dir.resolve()
        self.port = port if port is not None else free_port()
        self.ready_timeout = ready_timeout
        self.detach = detach  # keep running after this Python process exits
        self.log_path = self.work_dir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        """The command line that runs the server (may write its configuration first)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start the server and wait until it answers its readiness path."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.detach,
                preexec_fn=None if self.detach else _die_with_parent,  # noqa: PLW1509
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode} before it was ready; "
                    f"its log ({self.log_path}):\n{self._log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} was not ready within {self.ready_timeout:.0f} s; "
            f"its log ({self.log_path}):\n{self._log_tail()}"
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Terminate the server, and kill it if it has not exited within `timeout`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class PrometheusServer(LocalServer):
    """Prometheus on 127.0.0.1 over `tsdb_dir` (its `data_dir`), with no scrape targets."""

    name = "prometheus"

    @property
    def tsdb_dir(self) -> Path:
        return self.data_dir

    def command(self) -> list[str]:
        config = self.work_dir / "prometheus.yml"
        config.write_text(_CONFIG, encoding="utf-8")
        return [
            find_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
