"""How much do the http and websocket probes add to what they measure?

Against real servers on 127.0.0.1 (gacert.demo.servers) told to delay each
answer (HTTP) or each opening handshake (WebSocket) by a known amount:

- measurement overhead: the probe's measured latency minus the injected
  delay, at P50 and P99, beside the same figure for a bare client loop
  (httpx; websockets connect + ping) against the same server;
- throughput: http requests per second at several concurrencies, beside a
  bare httpx client at the same concurrency; websocket reconnects per second
  with no pause between iterations, beside a bare connect + ping + close loop.

Run: .venv/bin/python benchmarks/bench_probes.py [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import connect

from gacert.demo.servers import HttpBehaviour, HttpServer, WebSocketServer, WsBehaviour
from gacert.model import Fetched, Query
from gacert.quantiles import percentile
from gacert.sources import source_factory

DELAYS_MS = (0, 50, 200)
CONCURRENCIES = (1, 8, 32)


def query(text: str) -> Query:
    now = datetime.now(UTC)
    return Query(check_id="bench", text=text, mode="instant", start=now, end=now,
                 step_seconds=60.0)


def probe(type_name: str, settings: dict[str, Any]) -> Fetched:
    source = source_factory(type_name)("bench", settings)

    async def run() -> Fetched:
        try:
            return await source.fetch(query("success_rate"))
        finally:
            await source.aclose()
    return asyncio.run(run())


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return percentile(ordered, 0.5), percentile(ordered, 0.99)


def timed_loop(action: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """Milliseconds of `count` sequential runs of `action`, after one warm-up run."""
    async def run() -> list[float]:
        await action()
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await action()
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    return asyncio.run(run())


# -- websocket --------------------------------------------------------------------------


def ws_probe_latencies(server: WebSocketServer, samples: int) -> list[float]:
    fetched = probe("websocket", {"url": server.url, "iterations": samples, "interval": "1ms",
                                  "retries": 0, "disconnect": "clean"})
    return [r["latency_ms"] for r in fetched.evidence["reconnects"] if r["ok"]]


def ws_bare_latencies(server: WebSocketServer, samples: int) -> list[float]:
    async def connect_and_ping() -> None:
        conn = await connect(server.url, ping_interval=None)
        await (await conn.ping())
        await conn.close()
    return timed_loop(connect_and_ping, samples)


def bench_websocket(samples: int) -> None:
    print(f"\nwebsocket reconnect latency, {samples} reconnects (ms; overhead = measured - "
          "injected)")
    print(f"{'injected':>9} | {'probe P50':>9} {'P99':>8} {'ovh P50':>8} {'ovh P99':>8} | "
          f"{'bare P50':>9} {'P99':>8} {'ovh P50':>8} {'ovh P99':>8}")
    for delay in DELAYS_MS:
        with WebSocketServer(WsBehaviour(handshake_delay=delay / 1000)) as server:
            probed = percentiles(ws_probe_latencies(server, samples))
            bare = percentiles(ws_bare_latencies(server, samples))
        print(f"{delay:>9} | {probed[0]:>9.2f} {probed[1]:>8.2f} {probed[0] - delay:>8.2f} "
              f"{probed[1] - delay:>8.2f} | {bare[0]:>9.2f} {bare[1]:>8.2f} "
              f"{bare[0] - delay:>8.2f} {bare[1] - delay:>8.2f}")
    with WebSocketServer() as server:
        started = time.perf_counter()
        ws_probe_latencies(server, samples)
        probe_rate = samples / (time.perf_counter() - started)
        loop_ms = ws_bare_latencies(server, samples)
        bare_rate = 1000 * len(loop_ms) / sum(loop_ms)
    print(f"throughput: probe {probe_rate:,.0f} reconnects/s (1 ms interval), "
          f"bare connect+ping+close {bare_rate:,.0f}/s")


# -- http -------------------------------------------------------------------------------


def http_probe(server: HttpServer, requests: int, concurrency: int) -> Fetched:
    return probe("http", {"url": server.url, "requests": requests,
                          "concurrency": concurrency})


def http_bare_latencies(server: HttpServer, samples: int) -> list[float]:
    async def run() -> list[float]:
        async with httpx.AsyncClient() as client:
            async def get() -> None:
                (await client.get(server.url)).raise_for_status()
            await get()
            timings = []
            for _ in range(samples):
                started = time.perf_counter()
                await get()
                timings.append((time.perf_counter() - started) * 1000)
            return timings
    return asyncio.run(run())


def http_bare_rate(server: HttpServer, requests: int, concurrency: int) -> float:
    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as client:
            remaining = iter(range(requests))

            async def worker() -> None:
                for _ in remaining:
                    (await client.get(server.url)).raise_for_status()
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return requests / (time.perf_counter() - started)
    return asyncio.run(run())


def bench_http(samples: int) -> None:
    print(f"\nhttp request latency, {samples} requests one at a time (ms; overhead = "
          "measured - injected)")
    print(f"{'injected':>9} | {'probe P50':>9} {'P99':>8} {'ovh P50':>8} {'ovh P99':>8} | "
          f"{'bare P50':>9} {'P99':>8} {'ovh P50':>8} {'ovh P99':>8}")
    for delay in DELAYS_MS:
        with HttpServer(HttpBehaviour(delay=delay / 1000)) as server:
            fetched = http_probe(server, samples, 1)
            probed = percentiles([s["latency_ms"] for s in fetched.evidence["samples"]])
            bare = percentiles(http_bare_latencies(server, samples))
        print(f"{delay:>9} | {probed[0]:>9.2f} {probed[1]:>8.2f} {probed[0] - delay:>8.2f} "
              f"{probed[1] - delay:>8.2f} | {bare[0]:>9.2f} {bare[1]:>8.2f} "
              f"{bare[0] - delay:>8.2f} {bare[1] - delay:>8.2f}")
    print("\nhttp throughput (requests/s, no injected delay)")
    with HttpServer() as server:
        for concurrency in CONCURRENCIES:
            requests = samples * concurrency
            rate = http_probe(server, requests, concurrency).measurements["throughput"]
            bare_rate = http_bare_rate(server, requests, concurrency)
            print(f"  concurrency {concurrency:>2}: probe {rate:>7,.0f}/s, bare httpx "
                  f"{bare_rate:>7,.0f}/s ({requests} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=100, help="reconnects / requests")
    args = parser.parse_args()
    bench_websocket(args.samples)
    bench_http(args.samples)


if __name__ == "__main__":
    main()
