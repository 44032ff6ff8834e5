"""Fleet scale: what gacert costs beyond its queries, in time and in memory.

Every row is a new process, as a user or CI starts it; its wall time is the
median of the repetitions and its peak RSS (ru_maxrss of that process, read
with os.wait4) the largest seen. Each ratio is against a floor measured in
the same run on the same machine, so that a loaded machine slows both:

(a) the shipped policy's PromQL checks against the demo dataset in a real
    Prometheus on 127.0.0.1: `gacert run` (package without PDF) of a copy of
    policies/ga.yaml that keeps only its PromQL checks, against
    `curl --parallel` sending the same rendered queries (the floor: the
    queries alone). Target: <= 1.5x.
(b) one range check over SERIES x POINTS (default 2,000 pods x 1,441 points,
    a day at a one-minute step, about 90 MB of JSON) served by a local
    stand-in of the query API (gacert.demo.fleet): `gacert run` (package
    without PDF) against a minimal client that downloads and parses the same
    answer (urllib + json.load). Targets: peak RSS <= 400 MB, results.json
    <= 25 MB, wall <= 3x the floor.
(c) `gacert verify` of the package (b) wrote, as a directory and as a
    tarball. Target: peak RSS <= 100 MB.

Also printed: how the answer of (b) parses with each JSON decoder considered
(stdlib json, orjson, msgspec), in-process, each in its own subprocess so that
their peaks do not mix.

Run: .venv/bin/python benchmarks/bench_scale.py [--repeat N] [--series N] [--only a|b|c]
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import yaml

from gacert.demo import gaday
from gacert.demo.fleet import serve_answer, write_range_answer
from gacert.demo.prometheus import PrometheusServer, build_dataset
from gacert.run import RunOptions, plan_run

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1024 * 1024
FLEET_START = 1736899200  # 2025-01-15T00:00:00Z
FLEET_POLICY = """\
version: 1
name: fleet
title: One range check over a fleet of pods
sources:
  prom:
    type: prometheus
    url: ${FLEET_URL}
    timeout: 120s
    # A day of 2,000 pods is about 95 MB on the wire, under the default cap (128 MiB).
checks:
  - id: pod_cpu_busy
    title: Busiest pod CPU share
    source: prom
    query: >
      max by (pod, service)
        (rate(container_cpu_usage_seconds_total{namespace="tars-production"}[5m]))
    mode: range
    over_time: max
    series: each
    precision: 3
    fail: value >= 0.95
    warn: value >= 0.9
"""
# The floor of (b): download the same answer and parse it, nothing more.
MINIMAL_CLIENT = """\
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], data=sys.argv[2].encode(), timeout=120) as answer:
    document = json.load(answer)
assert document["status"] == "success", document
"""
DECODERS = {
    "json (stdlib)": "import json; d = json.loads(body)",
    "orjson": "import orjson; d = orjson.loads(body)",
    "msgspec (to objects)": "import msgspec; d = msgspec.json.decode(body)",
    "gacert (msgspec to arrays)":
        "from gacert.sources.prometheus import parse_answer; d = parse_answer(body)",
}


@dataclass
class Row:
    name: str
    seconds: list[float]
    peak_kib: int
    cpu: list[float] = field(default_factory=list)  # user + system seconds of each run

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else math.nan


def measure(name: str, command: Sequence[str], repeat: int, env: dict[str, str] | None = None,
            expect: Sequence[int] = (0,)) -> Row:
    """Run `command` `repeat` times (after one warm-up), each in a new process."""
    row = Row(name, [], 0)
    for attempt in range(repeat + 1):
        seconds, peak, cpu = _run_once(command, env, expect)
        if attempt:
            row.seconds.append(seconds)
            row.cpu.append(cpu)
        row.peak_kib = max(row.peak_kib, peak)
    return row


# Runs a command and prints its peak RSS. The command is forked from this small
# process, not from the benchmark (which holds the answer): a child's ru_maxrss
# starts from the RSS of the process it was forked from.
PEAK = """\
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(process.pid, 0)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_once(command: Sequence[str], env: dict[str, str] | None,
              expect: Sequence[int]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.run([PYTHON, "-c", PEAK, *command], capture_output=True, cwd=ROOT,
                             env={**os.environ, **(env or {})}, check=False)
    seconds = time.perf_counter() - started
    if process.returncode not in expect:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n"
                         f"{(process.stdout + process.stderr).decode(errors='replace')[-3000:]}")
    peak, cpu = process.stderr.decode().split()[-2:]
    return seconds, int(peak), float(cpu)


def report(title: str, rows: Sequence[Row], floor: Row) -> None:
    print(f"\n{title}")
    width = max(len(r.name) for r in rows)
    for row in rows:
        print(f"  {row.name:<{width}}  {row.median * 1000:8.0f} ms  "
              f"{row.median / floor.median:5.2f}x floor  CPU {row.cpu_median * 1000:6.0f} ms  "
              f"peak RSS {row.peak_kib / 1024:6.0f} MB")


# -- (b) and (c): one range check over a fleet ----------------------------------------


def fleet(work: Path, series: int, points: int, repeat: int) -> None:
    answer = work / f"fleet-{series}x{points}.json"
    with answer.open("wb") as stream:
        write_range_answer(stream, series=series, points=points, start=FLEET_START)
    body = answer.read_bytes()
    policy = work / "fleet.yaml"
    policy.write_text(FLEET_POLICY)
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                        time.gmtime(FLEET_START + (points - 1) * 60))
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(FLEET_START))
    server = serve_answer(body)
    try:
        url = f"http://127.0.0.1:{server.port}"
        form = urlencode({"query": "up", "start": FLEET_START, "end": FLEET_START + 86400,
                          "step": 60})
        print(f"(b) one range check over {series:,} series x {points:,} points: "
              f"an answer of {len(body) / MB:.0f} MB; median of {repeat}")
        decoders(answer, repeat)
        floor = measure("urllib + json.load (floor)",
                        [PYTHON, "-c", MINIMAL_CLIENT, f"{url}/api/v1/query_range", form],
                        repeat)
        out = work / "fleet-out"
        run = measure("gacert run (no PDF)", [
            PYTHON, "-m", "gacert", "run", str(policy), "--start", start, "--end", end,
            "-q", "--no-pdf", "-o", str(out)], repeat, env={"FLEET_URL": url}, expect=(0, 1))
        report("(b) fleet range check", [floor, run], floor)
        results = (out / "results.json").stat().st_size
        html = (out / "GA_DAY_REPORT.html").stat().st_size
        tarball = Path(str(out) + ".tar.gz").stat().st_size
        print(f"  results.json {results / MB:.2f} MB, GA_DAY_REPORT.html {html / MB:.2f} MB, "
              f"tarball {tarball / MB:.2f} MB")
        print(f"  targets: peak RSS {run.peak_kib / 1024:.0f} MB <= 400 MB, results.json "
              f"{results / MB:.2f} MB <= 25 MB, wall {run.median / floor.median:.2f}x <= 3x")
    finally:
        server.stop()
    verify_rows = [
        measure("gacert verify DIR", [PYTHON, "-m", "gacert", "verify", "-q", str(out)],
                repeat),
        measure("gacert verify DIR.tar.gz",
                [PYTHON, "-m", "gacert", "verify", "-q", str(out) + ".tar.gz"], repeat),
    ]
    interpreter = measure("python -c pass", [PYTHON, "-c", "pass"], repeat)
    report("(c) verify that package", [*verify_rows, interpreter], interpreter)
    worst = max(r.peak_kib for r in verify_rows)
    print(f"  target: peak RSS {worst / 1024:.0f} MB <= 100 MB")


def decoders(answer: Path, repeat: int) -> None:
    """Each decoder parsing the answer in a process of its own: time and peak RSS."""
    rows = []
    for name, code in DECODERS.items():
        script = (f"import time; body = open({str(answer)!r}, 'rb').read(); "
                  f"t = time.perf_counter(); {code}; "
                  "print(time.perf_counter() - t)")
        try:
            rows.append(_decoder_row(name, script, repeat))
        except SystemExit as exc:
            print(f"  {name}: not measured ({str(exc).splitlines()[-1]})")
    base = rows[0]
    print("  parsing the answer in memory (peak RSS includes the 1 copy of the body):")
    for row in rows:
        print(f"    {row.name:<28} {row.median * 1000:7.0f} ms  "
              f"{row.median / base.median:5.2f}x json  peak RSS {row.peak_kib / 1024:6.0f} MB")


def _decoder_row(name: str, script: str, repeat: int) -> Row:
    row = Row(name, [], 0)
    for _ in range(repeat):
        process = subprocess.run([PYTHON, "-c", PEAK, PYTHON, "-c", script],
                                 capture_output=True, cwd=ROOT, check=False)
        if process.returncode != 0:
            raise SystemExit(process.stderr.decode(errors="replace"))
        row.seconds.append(float(process.stdout.split()[-1]))
        row.peak_kib = max(row.peak_kib, int(process.stderr.split()[-2]))
    return row


# -- (a) the shipped policy's PromQL checks against curl --parallel ------------------------


def promql_only_policy(work: Path) -> Path:
    """A copy of policies/ga.yaml without its probe sources and checks."""
    document = yaml.safe_load((ROOT / "policies" / "ga.yaml").read_text())
    kinds = {sid: s["type"] for sid, s in document["sources"].items()}
    document["sources"] = {sid: s for sid, s in document["sources"].items()
                           if s["type"] == "prometheus"}
    kept = [c for c in document["checks"] if kinds[c["source"]] == "prometheus"]
    dropped = {c["id"] for c in document["checks"]} - {c["id"] for c in kept}
    document["checks"] = kept
    for section in document.get("report", {}).get("sections", []):
        section["checks"] = [c for c in section["checks"] if c not in dropped]
    path = work / "ga-promql.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def curl_config(url: str, policy: Path, start: str, end: str, config: Path) -> int:
    """A curl config of the requests gacert sends for the policy, rendered as gacert
    renders them: each check's query, and its coverage query when it has one."""
    _, plan = plan_run(RunOptions(str(policy), "", start=start, end=end,
                                  environ={"PROMETHEUS_URL": url}))
    queries = [planned.query for planned in plan.checks]
    queries += [p.coverage.query for p in plan.checks
                if p.coverage is not None and p.coverage.query is not None]
    lines: list[str] = []
    for query in queries:
        if query.mode == "range":
            form = {"query": query.text, "start": str(query.start.timestamp()),
                    "end": str(query.end.timestamp()), "step": str(query.step_seconds)}
            endpoint = f"{url}/api/v1/query_range"
        else:
            form = {"query": query.text, "time": str(query.end.timestamp())}
            endpoint = f"{url}/api/v1/query"
        lines += ["next" if lines else "", f'url = "{endpoint}"',
                  f'data = "{urlencode(form)}"', 'output = "/dev/null"', "fail"]
    config.write_text("\n".join(line for line in lines if line) + "\n")
    return len(queries)


def shipped_policy(work: Path, repeat: int) -> None:
    tsdb = build_dataset(work, gaday.DATASET_START, gaday.DATASET_END, gaday.dataset_faults(),
                         gaday.DATASET_SCRAPE_INTERVAL, gaday.DATASET_SEED)
    start, end = (f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in gaday.scenario_window("clean"))
    policy = promql_only_policy(work)
    with PrometheusServer(tsdb, work) as server:
        env = {"PROMETHEUS_URL": server.url}
        config = work / "curl.conf"
        count = curl_config(server.url, policy, start, end, config)
        print(f"\n(a) the PromQL checks of policies/ga.yaml over a 24 h window ({count} "
              f"queries with their coverage queries), real Prometheus; median of {repeat}")
        curl = measure("curl --parallel (floor)", [
            "curl", "--silent", "--show-error", "--parallel", "--parallel-max", "8",
            "--config", str(config)], repeat)
        run = measure("gacert run (no PDF)", [
            PYTHON, "-m", "gacert", "run", str(policy), "--start", start, "--end", end,
            "-q", "--no-pdf", "-o", str(work / "promql-out")], repeat, env=env,
            expect=(0, 1, 3))
        report("(a) shipped PromQL checks", [curl, run], curl)
        print(f"  target: {run.median / curl.median:.2f}x <= 1.5x (load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: a run's CPU time "
              "stretches with the load, curl's barely)")


def main() -> None:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--points", type=int, default=1441)
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    arguments = parser.parse_args()
    only = set(arguments.only or "abc")
    # Bytecode is compiled first, as any install does (an environment with
    # PYTHONDONTWRITEBYTECODE would otherwise compile gacert on every run).
    for package in ("gacert", "schemas", "report_templates"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="gacert-scale-"))
    try:
        if only & {"b", "c"}:
            fleet(work, arguments.series, arguments.points, arguments.repeat)
        if "a" in only:
            shipped_policy(work, arguments.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
