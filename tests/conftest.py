"""Shared fixtures: a real Prometheus serving the generated test dataset.

The dataset (`gacert.demo.gaday`: a clean week, then one scenario a day) is
generated and backfilled once per generator version and cached (see
`gacert.demo.prometheus.build_dataset`); each test session runs its own
Prometheus on a copy of it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gacert.demo import gaday
from gacert.demo.prometheus import PrometheusServer, build_dataset, find_binary


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
