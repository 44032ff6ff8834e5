"""Shared fixtures: a real Prometheus (and a real VictoriaMetrics) serving the
generated test dataset, and real local HTTP and WebSocket servers for the probes.

The dataset (`gacert.demo.gaday`: a clean week, then one scenario a day) is
generated and backfilled once per generator version and cached (see
`gacert.demo.prometheus.build_dataset`); each test session runs its own
Prometheus on a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import pytest

from gacert.demo import gaday
from gacert.demo import victoriametrics as victoria
from gacert.demo.prometheus import PrometheusServer, build_dataset, find_binary
from gacert.demo.servers import (
    DemoServers,
    HttpServer,
    RawTcpServer,
    WebSocketServer,
)
from gacert.demo.victoriametrics import VictoriaMetricsServer


def dataset_arguments() -> tuple[datetime, datetime, tuple[gaday.Fault, ...], int, int]:
    """The arguments of the test dataset: a clean week, then one scenario a day."""
    return (gaday.DATASET_START, gaday.DATASET_END, gaday.dataset_faults(),
            gaday.DATASET_SCRAPE_INTERVAL, gaday.DATASET_SEED)


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
    tsdb_dir = build_dataset(work_dir, *dataset_arguments())
    with PrometheusServer(tsdb_dir, work_dir) as server:
        yield server


@pytest.fixture(scope="session")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    """A running VictoriaMetrics on 127.0.0.1 holding the same test dataset."""
    try:
        find_binary(victoria.BINARY, victoria.INSTALL_HINT)
    except RuntimeError as error:
        pytest.fail(f"{error} (the MetricsQL tests need a real VictoriaMetrics)", pytrace=False)
    work_dir = tmp_path_factory.mktemp("victoriametrics")
    data_dir = victoria.build_dataset(work_dir, *dataset_arguments())
    with VictoriaMetricsServer(data_dir, work_dir) as server:
        yield server


# -- real local servers for the probe sources (gacert.demo.servers) ------------------


@pytest.fixture(scope="session")
def demo_servers() -> Iterator[DemoServers]:
    """The dashboard and WebSocket endpoint that policies/ga.yaml probes."""
    with DemoServers() as servers:
        yield servers


S = TypeVar("S", WebSocketServer, HttpServer, RawTcpServer)


def _starter(make: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """Yield a function that starts servers made by `make`; stop them all afterwards."""
    started: list[S] = []

    def start(*args: Any, **options: Any) -> S:
        server = make(*args, **options).start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def ws_server() -> Iterator[Callable[..., WebSocketServer]]:
    """Start WebSocket servers told how to misbehave (a WsBehaviour); all stop after the test."""
    yield from _starter(WebSocketServer)


@pytest.fixture
def http_server() -> Iterator[Callable[..., HttpServer]]:
    """Start HTTP servers told how to answer (an HttpBehaviour); all stop after the test."""
    yield from _starter(HttpServer)


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawTcpServer]]:
    """Start TCP servers that stall, answer garbage or drop; all stop after the test."""
    yield from _starter(RawTcpServer)
