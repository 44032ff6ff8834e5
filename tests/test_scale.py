"""Fleet scale: series reduced in one pass, points kept for the worst only, bounded
results and reports, and memory bounds of real `gacert run` and `gacert verify`
processes (ru_maxrss, wide margins; timings belong to benchmarks/bench_scale.py).
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sample_results import RESULTS_SCHEMA

from gacert.demo.fleet import serve_answer, write_range_answer
from gacert.demo.servers import HttpServer
from gacert.engine.evaluate import evaluate_check
from gacert.engine.reduce import REDUCERS, Buckets, band, reduce_series
from gacert.engine.results import results_bytes, to_document
from gacert.model import Fetched, Outcome, RunResult, Series, Timings, Window
from gacert.package.verify import PolicyDigest
from gacert.policy.load import load_policy
from gacert.report.charts import MAX_LINES, build_charts
from gacert.report.render import render_ga_day
from gacert.sources.prometheus import parse_answer

ROOT = Path(__file__).resolve().parent.parent
START = 1736899200  # 2025-01-15T00:00:00Z
DAY = 1440 * 60
WINDOW = Window(datetime.fromtimestamp(START, UTC), datetime.fromtimestamp(START + DAY, UTC),
                60.0, 15.0)
MB = 1024 * 1024
FLEET_POLICY = """\
version: 1
name: fleet
sources:
  prom:
    type: prometheus
    url: ${FLEET_URL}
checks:
  - id: pod_cpu
    title: Busiest pod CPU share
    source: prom
    query: max by (pod) (rate(container_cpu_usage_seconds_total[5m]))
    mode: range
    over_time: max
    series: each
    fail: value >= 0.95
    warn: value >= 0.9
"""
# Runs a command and prints its peak RSS in KiB: the command is forked from this
# small process, so that its ru_maxrss is its own (a child's starts from its parent's).
PEAK = """\
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def fleet_answer(series: int, points: int) -> bytes:
    out = io.BytesIO()
    write_range_answer(out, series=series, points=points, start=START)
    return out.getvalue()


def peak_rss_mb(*command: str, env: dict[str, str] | None = None) -> tuple[int, float]:
    """Exit code and peak RSS (MB) of `command` run as a new process."""
    proc = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env={**os.environ, **(env or {})},
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, int(proc.stdout.split()[-1]) / 1024


# -- parsing ------------------------------------------------------------------------------


def test_an_answer_parses_into_arrays_with_the_values_json_reads() -> None:
    body = fleet_answer(series=7, points=61)
    fetched = parse_answer(body)
    expected = json.loads(body)["data"]["result"]
    assert len(fetched.series) == 7
    for series, item in zip(fetched.series, expected, strict=True):
        assert isinstance(series.values, array)
        assert dict(series.labels) == item["metric"]
        assert list(series.times) == [float(t) for t, _ in item["values"]]
        assert list(series.values) == [float(v) for _, v in item["values"]]


def test_a_series_with_plus_inf_parses_with_every_other_value() -> None:
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"pod": "a"}, "values": [[START, "+Inf"], [START + 60, "1.5"],
                                            [START + 120, "NaN"], [START + 180, "-Inf"]]}]}})
    [series] = parse_answer(body.encode()).series
    assert series.values[0] == math.inf
    assert series.values[1] == 1.5
    assert math.isnan(series.values[2])
    assert series.values[3] == -math.inf


# -- one pass over a series ----------------------------------------------------------------


def _series(values: list[float], step: float = 60.0, start: float = START) -> Series:
    return Series({"pod": "p"}, times=array("d", (start + i * step for i in range(len(values)))),
                  values=array("d", values))


@pytest.mark.parametrize("over_time", sorted(REDUCERS))
def test_the_value_over_time_ignores_nan_as_before(over_time: str) -> None:
    values = [3.0, math.nan, 7.0, 1.0, math.nan, 5.0]
    reduced = reduce_series(_series(values), over_time)
    assert reduced.value == REDUCERS[over_time]([3.0, 7.0, 1.0, 5.0])


def test_the_summary_counts_and_finds_the_longest_gap() -> None:
    times = array("d", [START, START + 60, START + 120, START + 900, START + 960])
    series = Series({}, times=times, values=array("d", [1.0, math.nan, 4.0, -2.0, 3.0]))
    summary = reduce_series(series, "max").summary
    assert (summary.samples, summary.values) == (5, 4)
    assert (summary.first, summary.last) == (START, START + 960)
    assert (summary.low, summary.high) == (-2.0, 4.0)
    assert summary.gap == (START + 120, START + 900)


def test_a_series_without_values_has_no_value_and_an_empty_summary() -> None:
    reduced = reduce_series(Series({}), "max", Buckets.of(WINDOW))
    assert reduced.value is None
    assert reduced.summary.samples == 0
    assert reduced.summary.gap is None
    assert reduced.trace is not None
    assert all(math.isnan(v) for v in reduced.trace.high)


def test_a_trace_keeps_a_one_sample_spike_and_a_gap() -> None:
    values = [1.0] * 1441
    values[700] = 50.0
    for minute in range(100, 200):
        values[minute] = math.nan
    trace = reduce_series(_series(values), "max", Buckets.of(WINDOW)).trace
    assert trace is not None
    assert len(trace.high) <= 241
    assert max(trace.high) == 50.0
    assert min(trace.low) == 1.0
    gaps = [i for i, v in enumerate(trace.high) if math.isnan(v)]
    assert gaps  # buckets wholly inside the NaN stretch
    assert all(i * trace.width >= 100 * 60 and (i + 1) * trace.width <= 200 * 60 for i in gaps)


def test_a_band_is_the_lowest_and_highest_of_its_traces_bucket_by_bucket() -> None:
    buckets = Buckets.of(WINDOW)
    traces = [reduce_series(_series([float(k)] * 1441), "max", buckets).trace
              for k in (3, 1, 2)]
    merged = band([t for t in traces if t is not None])
    assert merged is not None
    assert set(merged.low) == {1.0}
    assert set(merged.high) == {3.0}


# -- what results keep --------------------------------------------------------------------


def _fleet_check(keep_points: int | None = None) -> Any:
    policy_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"fleet-{os.getpid()}.yaml"
    policy_file.write_text(FLEET_POLICY)
    try:
        policy = load_policy(str(policy_file))
    finally:
        policy_file.unlink()
    return policy, policy.checks[0]


def _fleet(count: int, points: int = 1441) -> tuple[Series, ...]:
    found = []
    for pod in range(count):
        values = [0.3 + 0.0001 * (pod % 100)] * points
        if pod == 13:
            values[600] = 0.99  # the one pod that fails
        found.append(Series({"pod": f"p{pod:04d}"},
                            times=array("d", (START + 60 * i for i in range(points))),
                            values=array("d", values)))
    return tuple(found)


def test_only_the_worst_series_keep_their_points_and_every_series_its_summary() -> None:
    _, check = _fleet_check()
    outcome = Outcome(Fetched(_fleet(50)), None, 0.1)
    result = evaluate_check(check, "q", outcome, {}, window=WINDOW, keep_points=3)
    kept = [s for s in result.series if s.points is not None]
    assert [s.labels["pod"] for s in kept] == ["p0013", "p0048", "p0049"]  # returned order
    assert all(len(s.points or ()) == 1441 and s.trace is not None for s in kept)
    assert all(s.summary is not None and s.summary.samples == 1441 for s in result.series)
    assert [s.labels["pod"] for s in result.series] == [f"p{i:04d}" for i in range(50)]
    assert result.status == "fail"
    assert result.keep_points == 3
    assert result.band is not None
    assert max(result.band.high) == pytest.approx(0.3 + 0.0001 * 47)  # the rest, not p0013


def test_the_check_keeps_the_policy_default_of_five_series() -> None:
    _, check = _fleet_check()
    result = evaluate_check(check, "q", Outcome(Fetched(_fleet(20)), None, 0.1), {},
                            window=WINDOW)
    assert sum(s.points is not None for s in result.series) == 5


def test_results_of_two_thousand_series_stay_small_and_valid() -> None:
    policy, check = _fleet_check()
    result = evaluate_check(check, "q", Outcome(Fetched(_fleet(2000)), None, 0.1), {},
                            window=WINDOW)
    run = RunResult(status="fail", policy=policy, window=WINDOW, params={}, sources=(),
                    timings=Timings("2025-01-16T00:00:00Z", "2025-01-16T00:00:01Z", 1, 1),
                    checks=(result,))
    document = to_document(run)
    written = results_bytes(document)
    # Every point of every series was 2,000 x 1,441 points: about 200 MB.
    assert len(written) < 5 * MB
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(json.loads(written))
    chart = next(c for c in build_charts(document) if c.id == "pod_cpu")
    assert len(chart.lines) == MAX_LINES
    assert chart.band
    assert chart.band_series == 2000 - MAX_LINES
    report = render_ga_day(document)
    assert "p0013" in report
    assert "more series in results.json: 1,980 pass" in report


# -- verification reads only the head of results.json -----------------------------------


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_the_policy_digest_is_found_in_a_results_document_fed_in_chunks(size: int) -> None:
    document = {"schema_version": 1, "checks": [{"id": "a", "note": "} \"policy\": {"}],
                "policy": {"name": "p", "sha256": "ab" * 32}, "summary": {}}
    digest = PolicyDigest()
    for chunk in _chunks(json.dumps(document, indent=2).encode(), size):
        digest.feed(chunk)
    assert digest.sha256 == "ab" * 32


def test_a_results_document_without_a_policy_gives_no_policy_digest() -> None:
    digest = PolicyDigest()
    digest.feed(b'{"schema_version": 1, "checks": []}')
    assert digest.sha256 is None


# -- real processes: memory ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet_server() -> Iterator[HttpServer]:
    """The query API's stand-in, answering 500 pods x 1,441 points (about 24 MB)."""
    server = serve_answer(fleet_answer(series=500, points=1441))
    try:
        yield server
    finally:
        server.stop()


def test_a_fleet_range_check_runs_in_bounded_memory_and_writes_small_results(
        fleet_server: HttpServer, tmp_path: Path) -> None:
    policy = tmp_path / "fleet.yaml"
    policy.write_text(FLEET_POLICY)
    out = tmp_path / "out"
    code, peak = peak_rss_mb(
        sys.executable, "-m", "gacert", "run", str(policy), "--start", "2025-01-15T00:00:00Z",
        "--end", "2025-01-16T00:00:00Z", "--no-pdf", "--keep-points", "4", "-o", str(out),
        env={"FLEET_URL": f"http://127.0.0.1:{fleet_server.port}"})
    assert code == 1  # one pod spikes to 0.97: the check fails
    # Holding every point as Python objects took about 400 MB for 500 pods.
    assert peak < 250, f"peak RSS {peak:.0f} MB"
    results = json.loads((out / "results.json").read_text())
    [check] = results["checks"]
    assert len(check["series"]) == 500
    kept = [s for s in check["series"] if "points" in s]
    assert len(kept) == 4
    assert kept[0]["labels"]["pod"] == "tars-api-00000"  # the spike, first of the worst
    assert all(len(s["points"]) == 1441 and len(s["trace"]) == 241 for s in kept)
    assert check["keep_points"] == 4
    assert check["band"]
    assert (out / "results.json").stat().st_size < 2 * MB


def test_verify_of_a_package_with_large_results_stays_small(tmp_path: Path) -> None:
    from sample_results import write_package_of

    package = write_package_of(tmp_path, series=500)  # results.json of about 50 MB
    assert (package / "results.json").stat().st_size > 40 * MB
    for target in (package, Path(str(package) + ".tar.gz")):
        code, peak = peak_rss_mb(sys.executable, "-m", "gacert", "verify", "-q", str(target))
        assert code == 0
        # json.loads of the results alone took several hundred MB.
        assert peak < 100, f"{target.name}: peak RSS {peak:.0f} MB"
