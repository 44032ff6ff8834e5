"""Shared fixtures: a real Prometheus serving the generated test dataset, and real
local HTTP and WebSocket servers for the probes.

The dataset (`gacert.demo.gaday`: a clean week, then one scenario a day) is
generated and backfilled once per generator version and cached (see
`gacert.demo.prometheus.build_dataset`); each test session runs its own
Prometheus on a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gacert.demo import gaday
from gacert.demo.prometheus import PrometheusServer, build_dataset, find_binary
from gacert.demo.servers import (
    DemoServers,
    HttpBehaviour,
    HttpServer,
    RawTcpServer,
    WebSocketServer,
    WsBehaviour,
)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A running Prometheus on 127.0.0.1 holding the test dataset."""
    # A missing binary fails, never skips: these tests are the proof that the
    # policy works against a real server, and a skip would hide their absence.
    try:
        for binary in ("promtool", "prometheus"):
            find_binary(binary)
    except RuntimeError as error:
        pytest.fail(f"{error} (the tests need a real Prometheus)", pytrace=False)
    work_dir = tmp_path_factory.mktemp("prometheus")
    tsdb_dir = build_dataset(
        work_dir,
        gaday.DATASET_START,
        gaday.DATASET_END,
        gaday.dataset_faults(),
        gaday.DATASET_SCRAPE_INTERVAL,
        gaday.DATASET_SEED,
    )
    with PrometheusServer(tsdb_dir, work_dir) as server:
        yield server


# -- real local servers for the probe sources (gacert.demo.servers) ------------------


@pytest.fixture(scope="session")
def demo_servers() -> Iterator[DemoServers]:
    """The dashboard and WebSocket endpoint that policies/ga.yaml probes."""
    with DemoServers() as servers:
        yield servers


@pytest.fixture
def ws_server() -> Iterator[Callable[..., WebSocketServer]]:
    """Start WebSocket servers told how to misbehave; all stop after the test."""
    started: list[WebSocketServer] = []

    def start(behaviour: WsBehaviour | None = None, **options: Any) -> WebSocketServer:
        server = WebSocketServer(behaviour, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def http_server() -> Iterator[Callable[..., HttpServer]]:
    """Start HTTP servers told how to answer; all stop after the test."""
    started: list[HttpServer] = []

    def start(behaviour: HttpBehaviour | None = None) -> HttpServer:
        server = HttpServer(behaviour).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def raw_server() -> Iterator[Callable[[str], RawTcpServer]]:
    """Start TCP servers that stall, answer garbage or drop; all stop after the test."""
    started: list[RawTcpServer] = []

    def start(mode: str) -> RawTcpServer:
        server = RawTcpServer(mode).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
