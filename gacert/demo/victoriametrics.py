"""A real, local VictoriaMetrics holding the generated GA-day data, for the tests
of the MetricsQL dialect and of gacert against a Prometheus-compatible server
that is not Prometheus.

`build_dataset` imports the OpenMetrics of `gaday` (the same data as the
Prometheus dataset) through VictoriaMetrics' `/api/v1/import/prometheus`, and
caches the resulting data directory by its inputs; `VictoriaMetricsServer`
runs Debian's `victoria-metrics` on 127.0.0.1 over a copy of it. Standard
library only, like `gacert.demo.prometheus`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO, cast

from gacert.demo import gaday
from gacert.demo.prometheus import LocalServer, cache_root, copy_cached, dataset_key, find_binary

BINARY = "victoria-metrics"
INSTALL_HINT = "install it with: apt-get install -y victoria-metrics"
# The test data is from 2025; the default retention (one month) would drop it on import.
RETENTION = "100y"
# Import in pieces of this many characters: VictoriaMetrics parses each on its own.
CHUNK_CHARS = 8 * 1024 * 1024
# OpenMetrics timestamps are seconds; the Prometheus text format VictoriaMetrics
# imports wants milliseconds. Every sample line of gaday ends in its timestamp.
_SAMPLE_TIMESTAMP = re.compile(r" (\d+)\n")


class VictoriaMetricsServer(LocalServer):
    """VictoriaMetrics on 127.0.0.1 over `data_dir`.

    Queries see data as soon as it is flushed (no 30 s latency offset) and
    are not cached, so that a test reads what it has just imported.
    """

    name = "victoria-metrics"
    ready_path = "/health"

    def command(self) -> list[str]:
        return [
            find_binary(BINARY, INSTALL_HINT),
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-retentionPeriod={RETENTION}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            # The machine is shared: a small cache instead of 60% of its memory.
            "-memory.allowedPercent=5",
            "-loggerLevel=WARN",
        ]

    def post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()


class _Importer(io.TextIOBase):
    """A text stream that sends what is written to VictoriaMetrics, in chunks."""

    def __init__(self, server: VictoriaMetricsServer) -> None:
        self.server = server
        self.pending: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.pending.append(text)
        self.size += len(text)
        if self.size >= CHUNK_CHARS:
            self.send()
        return len(text)

    def send(self) -> None:
        if self.pending:
            text = _SAMPLE_TIMESTAMP.sub(r" \g<1>000\n", "".join(self.pending))
            self.server.post("/api/v1/import/prometheus", text.encode("utf-8"))
        self.pending, self.size = [], 0


def import_dataset(server: VictoriaMetricsServer, start: datetime, end: datetime,
                   faults: Sequence[gaday.Fault], scrape_interval: int, seed: int) -> None:
    """Generate the data and import it into the running `server`, flushed for queries."""
    importer = _Importer(server)
    # A TextIO in all that write_openmetrics uses (write); gaday.py stays as it is,
    # since its source is the key of the cached datasets.
    gaday.write_openmetrics(cast(TextIO, importer), start, end, faults, scrape_interval, seed)
    importer.send()
    server.post("/internal/force_flush")


def build_dataset(work_dir: Path, start: datetime, end: datetime,
                  faults: Sequence[gaday.Fault] = (), scrape_interval: int = 60,
                  seed: int = 0) -> Path:
    """A fresh data directory in `work_dir` holding the data, built once and cached."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "vm-data"
    key = dataset_key(start, end, faults, scrape_interval, seed)
    cached = cache_root() / f"victoria-metrics-{key}-{_binary_key()}"

    def build(staging: Path) -> None:
        with VictoriaMetricsServer(staging, work_dir) as server:
            import_dataset(server, start, end, faults, scrape_interval, seed)
        # Stopped (SIGTERM): VictoriaMetrics has written everything to its directory.

    copy_cached(cached, target, build)
    return target


def _binary_key() -> str:
    """The installed binary's identity: another version may store data differently."""
    status = os.stat(find_binary(BINARY, INSTALL_HINT))
    return hashlib.sha256(f"{status.st_size}:{status.st_mtime_ns}".encode()).hexdigest()[:12]
