"""How fast is `gacert run` against what the same queries cost anyway?

Measured in one script, against the demo dataset in a real Prometheus on
127.0.0.1, each figure the median of several repetitions:

- `gacert run policies/ga.yaml` as a user runs it (a new process: start-up,
  load, validate, plan, fetch, evaluate, write results and report);
- the same engine in-process (`gacert.run.execute`), without start-up;
- (a) the same rendered PromQL queries fired by a bare concurrent httpx client;
- (b) the same queries in a sequential loop;

The policy's probe checks (dashboard, WebSocket) run against the demo's local
servers, cut to 2 requests and 2 reconnects 10 ms apart so that deliberate
waiting does not hide the engine's cost; the bare clients send only the
PromQL queries, so (a) and (b) are the floor of the Prometheus part.
- `gacert validate policies/ga.yaml` beside `python -c "import yaml, jsonschema"`,
  the floor of any Python validator of YAML against a JSON Schema.

Run: .venv/bin/python benchmarks/bench_run.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gacert.demo import gaday
from gacert.demo.prometheus import PrometheusServer, build_dataset
from gacert.demo.servers import DemoServers
from gacert.engine.plan import Plan
from gacert.package.build import PackageOptions
from gacert.run import RunOptions, execute, plan_run

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "policies" / "ga.yaml")
SHORT_PROBES = {"TARS_WS_ITERATIONS": "2", "TARS_WS_INTERVAL": "10ms",
                "TARS_DASHBOARD_REQUESTS": "2"}


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: caches, connections, imports
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def promql_indexes(plan: Plan) -> list[int]:
    return [i for i, p in enumerate(plan.checks) if p.check.source == "prometheus"]


def request(url: str, plan: Plan, index: int) -> tuple[str, dict[str, str]]:
    query = plan.checks[index].query
    if query.mode == "range":
        return f"{url}/api/v1/query_range", {
            "query": query.text, "start": str(query.start.timestamp()),
            "end": str(query.end.timestamp()), "step": str(query.step_seconds)}
    return f"{url}/api/v1/query", {"query": query.text, "time": str(query.end.timestamp())}


def post(client: httpx.Client | httpx.AsyncClient, url: str, plan: Plan, index: int) -> object:
    endpoint, form = request(url, plan, index)
    return client.post(endpoint, data=form)


def bare_concurrent(url: str, plan: Plan) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            calls = [post(client, url, plan, i) for i in promql_indexes(plan)]
            for response in await asyncio.gather(*calls):  # type: ignore[call-overload]
                response.raise_for_status()
    asyncio.run(main())


def sequential(url: str, plan: Plan) -> None:
    with httpx.Client(timeout=60) as client:
        for i in promql_indexes(plan):
            response = post(client, url, plan, i)
            assert isinstance(response, httpx.Response)
            response.raise_for_status()


def command(*args: str, env: dict[str, str] | None = None) -> Callable[[], object]:
    def run() -> None:
        subprocess.run(args, check=False, capture_output=True, env={**os.environ, **(env or {})})
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    work = Path(tempfile.mkdtemp(prefix="gacert-bench-"))
    tsdb = build_dataset(work, gaday.DATASET_START, gaday.DATASET_END, gaday.dataset_faults(),
                         gaday.DATASET_SCRAPE_INTERVAL, gaday.DATASET_SEED)
    start, end = (f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in gaday.scenario_window("clean"))
    with PrometheusServer(tsdb, work) as server, DemoServers() as probes:
        env = {"PROMETHEUS_URL": server.url, **probes.environ(), **SHORT_PROBES}
        # The same package work as the CLI row: reports, no PDF, no tarball.
        options = RunOptions(POLICY, str(work / "out"), start=start, end=end, environ=env,
                             package=PackageOptions(tarball=False, pdf=False))
        _, plan = plan_run(options)
        rows = [
            ("gacert run (CLI, new process)", median_seconds(command(
                sys.executable, "-m", "gacert", "run", POLICY, "--start", start, "--end", end,
                "-q", "--no-pdf", "--certify-only", "-o", str(work / "cli-out"), env=env),
                repeat)),
            ("gacert run (in-process engine)", median_seconds(lambda: execute(options), repeat)),
            ("(a) bare concurrent httpx client", median_seconds(
                lambda: bare_concurrent(server.url, plan), repeat)),
            ("(b) sequential httpx loop", median_seconds(
                lambda: sequential(server.url, plan), repeat)),
        ]
    validate_rows = [
        ("gacert validate policies/ga.yaml", median_seconds(command(
            sys.executable, "-m", "gacert", "validate", POLICY), repeat * 2)),
        ('python -c "import yaml, jsonschema"', median_seconds(command(
            sys.executable, "-c", "import yaml, jsonschema"), repeat * 2)),
    ]
    print(f"policies/ga.yaml: {len(plan.checks)} checks, {len(promql_indexes(plan))} of them "
          f"PromQL over a 24 h window; median of {repeat} runs\n")
    report(rows, baseline=rows[2][1], baseline_name="(a)")
    print()
    report(validate_rows, baseline=validate_rows[1][1], baseline_name="import floor")


def report(rows: list[tuple[str, float]], baseline: float, baseline_name: str) -> None:
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:9.1f} ms  {seconds / baseline:5.2f}x "
              f"{baseline_name}")


if __name__ == "__main__":
    main()
