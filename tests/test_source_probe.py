"""What the probe sources share: paths into measurements, statistics, one run per run."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from typing import Any

import pytest

from gacert.errors import SourceError
from gacert.quantiles import percentile
from gacert.sources import BUILTIN_SOURCES, known_source_types, source_type
from gacert.sources.paths import PathError, as_number, leaf_paths, parse_path, resolve
from gacert.sources.probe import RunOnce, bounded, summary


@pytest.mark.parametrize(("text", "path"), [
    pytest.param("success_rate", ("success_rate",), id="one key"),
    pytest.param("latency.p99", ("latency", "p99"), id="two keys"),
    pytest.param('metrics."a.b{x:y}".p(95)', ("metrics", "a.b{x:y}", "p(95)"),
                 id="a quoted key keeps its dots"),
    pytest.param("tests.0.outcome", ("tests", "0", "outcome"), id="a list index"),
    pytest.param(" latency . p50 ", ("latency", "p50"), id="spaces around keys are ignored"),
])
def test_parse_path(text: str, path: tuple[str, ...]) -> None:
    assert parse_path(text) == path


@pytest.mark.parametrize("text", ["", "a..b", "a.", '"open'])
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(PathError):
        parse_path(text)


def test_resolve_names_what_is_there() -> None:
    data = {"latency": {"p50": 1.0, "p99": 2.0}}
    assert resolve(data, ("latency", "p99")) == 2.0
    with pytest.raises(PathError, match=r"no latency\.p98; there is: latency\.p50, latency\.p99"):
        resolve(data, ("latency", "p98"))
    assert list(leaf_paths({"a": 1, "b": {"c": 2.0, "d": "x"}})) == ["a", "b.c"]


@pytest.mark.parametrize(("raw", "number"), [
    (3, 3.0), (True, 1.0), (False, 0.0), ("12.5", 12.5), (None, None), (math.inf, math.inf)])
def test_as_number(raw: Any, number: float | None) -> None:
    assert as_number(raw, "x") == number


def test_summary_uses_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1..100
    found = summary(samples)
    assert found == {"min": 1.0, "avg": 50.5, "p50": 50.0, "p95": 95.0, "p99": 99.0,
                     "max": 100.0}
    assert percentile([7.0], 0.99) == 7.0
    assert all(math.isnan(v) for v in summary([]).values())


def test_bounded_keeps_the_first_and_last_samples() -> None:
    samples = [{"i": i} for i in range(1500)]
    kept, omitted = bounded(samples)
    assert (len(kept), omitted) == (1000, 500)
    assert kept[0] == {"i": 0}
    assert kept[-1] == {"i": 1499}


def test_run_once_runs_once_and_keeps_an_error() -> None:
    calls: list[int] = []

    async def work() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        if len(calls) > 0:
            raise SourceError("down")
        return 1

    async def main() -> list[Any]:
        once = RunOnce(work)
        return await asyncio.gather(*(once.get() for _ in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert calls == [1]
    assert all(isinstance(r, SourceError) for r in results)


def test_the_registry_lists_the_probe_types_without_importing_them() -> None:
    assert known_source_types()[:5] == ["prometheus", "http", "websocket", "command", "file"]
    assert "latency" in source_type("websocket").measurements
    assert source_type("file").query == "required"
    assert all(":" in kind.target for kind in BUILTIN_SOURCES.values())
    # Validation reads the registry; the adapters (and httpx, websockets) load at run time.
    code = ("import sys; from gacert.sources import known_source_types, source_type; "
            "[source_type(t) for t in known_source_types()]; "
            "print(sorted(m for m in ('httpx', 'websockets', 'yaml') if m in sys.modules))")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
    assert printed.strip() == "[]"
