"""`gacert watch` against the real test Prometheus and real probe servers: snapshots over
a short replayed window, killed with SIGKILL and resumed, stopped with SIGTERM, early
warnings at a real webhook receiver, and the certification at the window's end."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from notify_support import Receiver

from gacert.demo.prometheus import PrometheusServer
from gacert.demo.servers import DemoServers
from gacert.engine.results import check_results, read_results
from gacert.errors import UsageError
from gacert.package.build import PackageOptions
from gacert.package.verify import verify
from gacert.sources.tally import MAX_KEPT, Samples
from gacert.sources.window import cycle_settings
from gacert.watch import WatchOptions, prepare, watch
from gacert.watchstate import Clock, StateFile, WatchState

pytestmark = pytest.mark.prometheus

# The clean day of the test dataset, and the day of its latency spike (06:00-07:00).
CLEAN = ("2025-01-15T04:00:00Z", "2025-01-15T07:00:00Z")
SPIKE = ("2025-01-18T04:00:00Z", "2025-01-18T08:00:00Z")

PROMETHEUS_CHECKS = """\
  - id: p99_latency
    source: prometheus
    query: >
      histogram_quantile(0.99, sum by (service, le)
        (rate(http_request_duration_seconds_bucket{job="tars"}[5m]))) * 1000
    mode: range
    over_time: max
    unit: ms
    fail: value >= 1000
  - id: availability
    source: prometheus
    query: avg_over_time(up{job="tars"}[$__range]) * 100
    series: min
    unit: "%"
    pass: value >= 99
"""

PROBES = """\
  ws:
    type: websocket
    url: ${TARS_WS_URL}
    interval: 100ms
    iterations: 20
    watch: {iterations: 2}
  dashboard:
    type: http
    url: ${TARS_DASHBOARD_URL}
    requests: 50
    watch: {requests: 3}
"""

PROBE_CHECKS = """\
  - {id: ws_success, source: ws, query: success_rate, unit: "%", pass: value >= 95}
  - {id: ws_p99, source: ws, query: latency.p99, unit: ms, pass: value < 30000}
  - {id: dashboard_p95, source: dashboard, query: latency.p95, unit: ms, pass: value < 2000}
"""


def write_policy(folder: Path, *, probes: bool = False, notify: str = "") -> Path:
    text = ("version: 1\nname: watch-test\nwindow: {step: 1m, scrape_interval: 60s}\n"
            "sources:\n  prometheus: {type: prometheus, url: \"${PROMETHEUS_URL}\"}\n"
            + (PROBES if probes else "") + "checks:\n" + PROMETHEUS_CHECKS
            + (PROBE_CHECKS if probes else "") + notify)
    path = folder / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def snapshot_numbers(out: Path) -> list[int]:
    return sorted(int(p.stem.removeprefix("snapshot_"))
                  for p in (out / "snapshots").glob("snapshot_*.json"))


def wait_for(condition: Any, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the watch"
        time.sleep(0.05)


# -- killed twice and resumed --------------------------------------------------------------


def watch_command(policy: Path, out: Path, window: tuple[str, str], speed: int) -> list[str]:
    """Three hours replayed: a snapshot every 15 minutes of them, 900 / speed s apart."""
    return [sys.executable, "-m", "gacert", "watch", str(policy), "--start", window[0],
            "--end", window[1], "--interval", "15m", "--speed", str(speed), "-o", str(out),
            "--no-pdf"]


def test_a_watch_killed_twice_and_resumed_keeps_contiguous_snapshots_and_shows_two_gaps(
        prometheus: PrometheusServer, demo_servers: DemoServers, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, probes=True)
    out = tmp_path / "out"
    env = {**os.environ, "PROMETHEUS_URL": prometheus.url, **demo_servers.environ()}
    # 36 s for the window: room for two restarts before it ends, on a busy machine too.
    command = watch_command(policy, out, CLEAN, speed=300)
    moments = random.Random()
    for kill in range(2):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        committed = len(snapshot_numbers(out))
        # A kill at a random moment after this session committed a snapshot: during
        # a probe cycle, a query, a commit or a wait.
        wait_for(lambda committed=committed: len(snapshot_numbers(out)) > committed)
        delay = moments.uniform(0.0, 1.2)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL, f"kill {kill + 1} after {delay:.2f} s"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180,
                              check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "resuming after snapshot" in finished.stdout

    numbers = snapshot_numbers(out)
    assert numbers == list(range(1, len(numbers) + 1))
    assert not list((out / "snapshots").glob(".*"))  # nothing half written is left
    documents = [check_results(json.loads((out / "snapshots" / f"snapshot_{n:04d}.json")
                                          .read_text()), f"snapshot {n}") for n in numbers]
    assert [d["snapshot"]["number"] for d in documents] == numbers
    ends = [d["snapshot"]["at"] for d in documents]
    assert ends == sorted(ends)
    assert documents[-1]["snapshot"]["final"]
    assert documents[-1]["window"]["end"] == "2025-01-15T07:00:00Z"

    assert verify(str(out / "package")).ok
    assert verify(str(out / "package.tar.gz")).ok
    results = read_results(str(out / "package" / "results.json"))
    watched = results["watch"]
    assert [s["number"] for s in watched["snapshots"]] == numbers
    assert [s["ended"] for s in watched["sessions"]] == [None, None, "finished"]
    gaps = watched["coverage"]["gaps"]
    assert len(gaps) == 2, gaps
    assert all(g["why"] == "the watch was not running (killed or crashed)" for g in gaps)
    assert watched["coverage"]["share"] < 1.0
    probe = next(c for c in results["checks"] if c["id"] == "ws_success")
    assert probe["evidence"]["window"]["coverage"]["gaps"] == gaps
    # Probes were judged over every committed cycle: two reconnects per snapshot.
    assert probe["evidence"]["window"]["cycles"] == len(numbers)
    assert probe["measurements"]["reconnects"]["total"] == 2 * len(numbers)
    assert len(probe["evidence"]["cycles"]) == len(numbers)
    report = (out / "package" / "GA_DAY_REPORT.md").read_text()
    assert "Gaps in probe coverage" in report
    assert f"- Source `ws`: {len(numbers)} probe cycles through the GA window" in report


def test_sigterm_stops_after_the_snapshot_and_says_how_to_resume(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "PROMETHEUS_URL": prometheus.url}
    command = watch_command(policy, out, CLEAN, speed=600)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(snapshot_numbers(out)) >= 1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert f"resume with: gacert watch {policy} -o {out}" in stderr
    state = StateFile(str(out)).load()
    assert state.sessions[-1]["ended"] == "stopped"
    assert snapshot_numbers(out) == [s["number"] for s in state.snapshots]

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    results = read_results(str(out / "package" / "results.json"))
    assert [g["why"] for g in results["watch"]["coverage"]["gaps"]] == ["the watch was stopped"]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                           check=False)
    assert again.returncode == 0
    assert snapshot_numbers(out) == [s["number"] for s in results["watch"]["snapshots"]]


# -- early warning ---------------------------------------------------------------------------


def run_watch(policy: Path, out: Path, env: Mapping[str, str], **options: Any) -> Any:
    prepared = prepare(WatchOptions(
        policy_path=str(policy), output_dir=str(out), start=SPIKE[0], end=SPIKE[1],
        interval="20m", speed=1800.0, environ=env,
        package=PackageOptions(pdf=False, tarball=False), **options))
    return watch(prepared, threading.Event())


def webhook_policy(folder: Path) -> Path:
    return write_policy(folder, notify=(
        "notify:\n  retries: 1\n  backoff: 100ms\n"
        "  targets:\n    - {type: webhook, url: \"${HOOK_URL}\", when: [fail]}\n"))


def test_a_check_that_starts_failing_mid_window_is_notified_exactly_once(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = webhook_policy(tmp_path)
    with Receiver() as receiver:
        env = {"PROMETHEUS_URL": prometheus.url, "HOOK_URL": receiver.url}
        result = run_watch(policy, tmp_path / "out", env)
    [got] = receiver.received
    body = got.json()
    assert body["event"] == "fail"
    assert [c["id"] for c in body["checks"]] == ["p99_latency"]
    assert body["checks"][0]["status"] == "fail"
    assert body["context"]["command"] == "watch"
    # It started failing mid-window: earlier snapshots passed, later ones kept failing.
    trend = next(t for t in result.document["watch"]["trend"] if t["id"] == "p99_latency")
    statuses = [point[2] for point in trend["points"]]
    turned = statuses.index("fail")
    assert turned > 0
    assert set(statuses[:turned]) == {"pass"}
    assert set(statuses[turned:]) == {"fail"}
    assert len(statuses) - turned >= 2
    assert body["context"]["snapshot"] == turned + 1
    [delivery] = result.document["notifications"]
    assert delivery["delivered"]
    assert delivery["checks"] == ["p99_latency"]


def test_abort_on_fail_certifies_with_the_failing_snapshot(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    result = run_watch(policy, out, {"PROMETHEUS_URL": prometheus.url}, abort_on_fail=True)
    document = result.document
    assert document["status"] == "fail"
    assert document["watch"]["aborted"]
    assert document["window"]["end"] < SPIKE[1]
    assert [s["status"] for s in document["watch"]["snapshots"]][-1] == "fail"
    assert "fail" not in [s["status"] for s in document["watch"]["snapshots"]][:-1]
    assert verify(str(out / "package")).ok
    assert "stopped at the first fail" in (out / "package" / "GA_DAY_REPORT.md").read_text()
    assert "chart-trend_p99_latency" in (out / "package" / "GA_DAY_REPORT.html").read_text()


def test_a_failing_receiver_never_changes_the_verdict(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = webhook_policy(tmp_path)
    with Receiver(statuses=(500,)) as receiver:
        env = {"PROMETHEUS_URL": prometheus.url, "HOOK_URL": receiver.url}
        result = run_watch(policy, tmp_path / "out", env)
    [delivery] = result.document["notifications"]
    assert (delivery["delivered"], delivery["attempts"]) == (False, 2)
    assert result.document["status"] == "fail"  # the p99 spike, nothing else
    assert result.document["exit_code"] == 1


# -- without servers -------------------------------------------------------------------------


def test_a_watch_of_a_window_that_ended_is_refused_unless_replayed(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    options = WatchOptions(policy_path=str(policy), output_dir=str(tmp_path / "out"),
                           start=CLEAN[0], end=CLEAN[1], interval="15m")
    with pytest.raises(UsageError, match="the window ended at 2025-01-15T07:00:00Z"):
        prepare(options)
    future = WatchOptions(policy_path=str(policy), output_dir=str(tmp_path / "out"),
                          duration="1h", speed=10.0)
    with pytest.raises(UsageError, match="--speed replays a window that has ended"):
        prepare(future)


def test_resuming_with_an_edited_policy_or_another_window_is_refused(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    out = tmp_path / "out"
    options = WatchOptions(policy_path=str(policy), output_dir=str(out), start=CLEAN[0],
                           end=CLEAN[1], interval="15m", speed=600.0)
    prepared = prepare(options)
    StateFile(str(out)).save(prepared.state)
    with pytest.raises(UsageError, match="--end 2025-01-15T08:00:00Z differs"):
        prepare(WatchOptions(policy_path=str(policy), output_dir=str(out), start=CLEAN[0],
                             end="2025-01-15T08:00:00Z", speed=600.0))
    policy.write_text(policy.read_text().replace(">= 99", ">= 98"))
    with pytest.raises(UsageError, match="the policy changed since this watch began"):
        prepare(options)


def test_a_commit_cut_short_is_finished_or_undone_on_resume(tmp_path: Path) -> None:
    files = StateFile(str(tmp_path))
    state = _state()
    files.commit(state, {"number": 1, "at": "2025-01-15T04:15:00Z", "status": "pass",
                         "checks": {}}, b'{"n": 1}')
    # Killed after the state recorded snapshot 2, before the rename.
    pending_2 = tmp_path / "snapshots" / ".snapshot_0002.json.pending"
    pending_2.write_bytes(b'{"n": 2}')
    state.snapshots.append({"number": 2, "at": "2025-01-15T04:30:00Z", "status": "pass",
                            "checks": {}, "file": "snapshots/snapshot_0002.json",
                            "sha256": hashlib.sha256(b'{"n": 2}').hexdigest()})
    files.save(state)
    # Killed before the state recorded snapshot 3.
    (tmp_path / "snapshots" / ".snapshot_0003.json.pending").write_bytes(b'{"n": 3}')
    loaded = files.load()
    assert files.recover(loaded) == ["finished committing snapshot 2",
                                     "removed snapshot 3, which was never committed"]
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        "snapshot_0001.json", "snapshot_0002.json"]
    assert (tmp_path / "snapshots" / "snapshot_0002.json").read_bytes() == b'{"n": 2}'


def _state() -> WatchState:
    start = datetime(2025, 1, 15, 4, tzinfo=UTC)
    return WatchState("p.yaml", "0" * 64, [], start, datetime(2025, 1, 15, 7, tzinfo=UTC),
                      900.0, Clock(start, start, 1.0))


def test_samples_stay_bounded_with_exact_counts_and_the_same_sample_after_a_restart() -> None:
    whole, resumed = Samples(), Samples()
    for cycle in range(30):
        values = [float(cycle * 1000 + i) for i in range(500)]
        whole.merge(Samples.of(values))
        resumed.merge(Samples.of(values))
        if cycle == 12:  # written to the state and read back, as a resumed watch does
            resumed = Samples.from_json(json.loads(json.dumps(resumed.to_json())))
    assert whole.count == 15_000
    assert len(whole.kept) == MAX_KEPT
    assert not whole.exact
    assert (whole.low, whole.high) == (0.0, 29_499.0)
    assert whole.summary()["avg"] == pytest.approx(sum(range(30)) * 1000 / 30 + 249.5)
    assert whole.kept == resumed.kept
    # A uniform sample: its median is near the median of all the values.
    assert whole.summary()["p50"] == pytest.approx(14_750, rel=0.05)


def test_a_cycle_is_sized_by_the_watch_setting() -> None:
    settings = {"type": "http", "url": "http://x/", "requests": 50,
                "watch": {"duration": "10s"}}
    assert cycle_settings(settings) == {"type": "http", "url": "http://x/", "duration": "10s"}
    assert cycle_settings({"type": "http", "requests": 50}) == {"type": "http", "requests": 50}


# -- gacert run notifies too -------------------------------------------------------------------


def test_gacert_run_notifies_its_verdict_and_a_failed_notification_changes_no_exit_code(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, notify=(
        "notify:\n  retries: 1\n  backoff: 100ms\n"
        "  report_url: ${REPORT_URL:-https://ci.example.com/report}\n"
        "  targets:\n"
        "    - {type: webhook, url: \"${HOOK_URL}\", secret: \"${HOOK_SECRET}\"}\n"
        "    - {type: slack, url: \"${SLACK_WEBHOOK_URL}\", when: [verdict]}\n"))
    with Receiver() as hook, Receiver(statuses=(503,)) as slack:
        env = {**os.environ, "PROMETHEUS_URL": prometheus.url, "HOOK_URL": hook.url,
               "HOOK_SECRET": "s1gning-key", "SLACK_WEBHOOK_URL": slack.url + "/T0/B0/sEcReT"}
        done = subprocess.run(
            [sys.executable, "-m", "gacert", "run", str(policy), "--start", SPIKE[0],
             "--end", SPIKE[1], "-o", str(tmp_path / "out"), "--no-pdf", "--certify-only"],
            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1  # the verdict's code: the p99 spike fails
    [got] = hook.received  # the verdict only: it names the failing checks already
    body = got.json()
    assert (body["event"], body["verdict"]) == ("verdict", "fail")
    assert [c["id"] for c in body["checks"]] == ["p99_latency"]
    assert body["report_url"] == "https://ci.example.com/report"
    assert len(slack.received) == 2
    results = read_results(str(tmp_path / "out" / "results.json"))
    assert [(n["target"], n["delivered"], n["attempts"]) for n in results["notifications"]] == [
        ("webhook", True, 1), ("slack", False, 2)]
    assert "notification failed: verdict to slack slack webhook ${SLACK_WEBHOOK_URL}: " \
           "HTTP 503" in done.stdout
    everything = done.stdout + done.stderr + (tmp_path / "out" / "results.json").read_text()
    assert "sEcReT" not in everything
    assert "s1gning-key" not in everything
