"""`python -m gacert.demo`: certify a generated GA day against a real Prometheus.

Generates 8 clean days ending now (a baseline week, then the GA day),
backfills them into a local Prometheus, starts the dashboard and WebSocket
servers that the policy's probes reach (`gacert.demo.servers`), runs
`gacert run policies/ga.yaml` over the last 24 hours and exits with its exit
code. With `--watch` it runs `gacert watch` instead: the last hour replayed
in about 20 seconds, a snapshot every 10 minutes of it, then the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gacert.demo.prometheus import PrometheusServer, build_dataset, free_port, port_is_free
from gacert.demo.servers import DemoServers

POLICY = Path("policies/ga.yaml")
SCRAPE_INTERVAL = 60
BASELINE_DAYS = 7
EXIT_USAGE = 2
# The probes' settings for the demo: a real GA runs minutes of reconnects.
DEMO_PROBES = {"TARS_WS_ITERATIONS": "10", "TARS_WS_INTERVAL": "200ms",
               "TARS_DASHBOARD_REQUESTS": "10", "TARS_WS_WATCH_ITERATIONS": "2",
               "TARS_DASHBOARD_WATCH_REQUESTS": "3"}
# The watch demo: the last WATCH_HOURS of the GA day, replayed WATCH_SPEED times as fast.
# An interval of 3 s of real time leaves room for a snapshot of the 35 checks.
WATCH_HOURS, WATCH_INTERVAL, WATCH_SPEED = 1, "10m", "200"
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gacert.demo",
        description="Certify a generated GA day with policies/ga.yaml against a local Prometheus.",
    )
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="data and logs")
    parser.add_argument("--output", type=Path, default=Path("demo-out"), help="gacert's output")
    parser.add_argument("--port", type=int, default=9090, help="a free one is used if taken")
    parser.add_argument(
        "--keep-running", action="store_true", help="leave Prometheus up after the run"
    )
    parser.add_argument(
        "--watch", action="store_true",
        help=f"run gacert watch over the last {WATCH_HOURS} h, replayed in seconds",
    )
    return parser.parse_args(argv)


def rfc3339(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def refuse_running_demo(workdir: Path) -> str | None:
    """A reason not to go on if a kept-running Prometheus still uses `workdir`."""
    pid_file = workdir / "prometheus.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8"))
        os.kill(pid, 0)
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return None
    return f"a Prometheus of an earlier demo still runs on {workdir}; stop it first: kill {pid}"


def build(workdir: Path, now: datetime) -> Path:
    # Data up to and including `now`: samples are written strictly before the end.
    start, end = now - timedelta(days=BASELINE_DAYS + 1), now + timedelta(seconds=SCRAPE_INTERVAL)
    step(f"Generating {BASELINE_DAYS + 1} clean days ({rfc3339(start)} .. {rfc3339(now)})")
    began = time.monotonic()
    tsdb_dir = build_dataset(workdir, start, end, (), SCRAPE_INTERVAL, use_cache=False)
    step(f"Backfilled into {tsdb_dir} in {time.monotonic() - began:.1f} s")
    return tsdb_dir


def certify(server: PrometheusServer, probes: DemoServers, ga_start: datetime, now: datetime,
            output: Path, *, watch: bool = False) -> int:
    command = [
        sys.executable, "-m", "gacert", "run", str(POLICY),
        "--start", rfc3339(ga_start), "--end", rfc3339(now), "--output", str(output),
    ]  # fmt: skip
    if watch:
        # A new directory each time: the same one would resume the finished watch.
        shutil.rmtree(output, ignore_errors=True)
        command = [
            sys.executable, "-m", "gacert", "watch", str(POLICY),
            "--start", rfc3339(now - timedelta(hours=WATCH_HOURS)), "--end", rfc3339(now),
            "--interval", WATCH_INTERVAL, "--speed", WATCH_SPEED, "--output", str(output),
        ]  # fmt: skip
    settings = {"PROMETHEUS_URL": server.url, **probes.environ(), **DEMO_PROBES}
    step(" ".join([*(f"{k}={v}" for k, v in settings.items()), "gacert", *command[3:]]))
    env = {**os.environ, **settings}
    return subprocess.run(command, env=env, check=False).returncode


def run(args: argparse.Namespace) -> int:
    if not POLICY.is_file():
        print(f"error: {POLICY} not found; run the demo from the repository root", file=sys.stderr)
        return EXIT_USAGE
    reason = refuse_running_demo(args.workdir)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    tsdb_dir = build(args.workdir, now)
    port = args.port if port_is_free(args.port) else free_port()
    server = PrometheusServer(tsdb_dir, args.workdir, port=port, detach=args.keep_running)
    server.start()
    step(f"Prometheus ready at {server.url} (log: {server.log_path})")
    try:
        with DemoServers() as probes:
            step(f"Dashboard at {probes.dashboard_url}, WebSocket at {probes.ws_url}")
            output = args.output.with_name(args.output.name + "-watch") if args.watch \
                else args.output
            code = certify(server, probes, now - timedelta(days=1), now, output,
                           watch=args.watch)
    except BaseException:
        server.stop()
        raise
    package = output / "package" if args.watch else output
    if args.watch:
        step(f"Snapshots: {output / 'snapshots'}, state: {output / 'watch-state.json'}")
    step(f"Report: {package / 'GA_DAY_REPORT.html'} (also .md), evidence: "
         f"{package / 'results.json'}, package: {package}.tar.gz")
    if args.keep_running:
        (args.workdir / "prometheus.pid").write_text(str(server.pid), encoding="utf-8")
        step(f"Prometheus keeps running at {server.url}; stop it with: kill {server.pid}")
        step("The probe servers stopped with the demo; serve them again with: "
             "python -m gacert.demo.servers")
    else:
        server.stop()
    return code


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except RuntimeError as error:  # promtool or prometheus missing or failing
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
