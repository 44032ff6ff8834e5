"""A fleet-sized answer of the Prometheus query API, for the scale benchmark and tests.

`range_answer` writes what `/api/v1/query_range` answers for one query over a
fleet of pods: `series` series of `points` samples each, one `step` apart,
as Prometheus formats them (`[unix seconds, "value"]`). Values follow a
daily wave per pod with a little noise; pod number `spiky` (if any) has a
short spike in the middle of the window, so that the check has one series
that decides it. The same arguments always give the same bytes.

`serve_answer` serves such bytes on 127.0.0.1 to any GET or POST: a stand-in
of the query API, so that a benchmark measures the client, not PromQL.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import IO

from gacert.demo.servers import HttpBehaviour, HttpServer

NAMESPACE = "tars-production"
SPIKE_POINTS = 10  # samples the spike of the spiky pod lasts


def _values(pod: int, points: int, rng: random.Random, spiky: bool) -> Iterator[float]:
    phase = rng.uniform(0, 2 * math.pi)
    base = rng.uniform(0.2, 0.5)
    middle = points // 2
    for index in range(points):
        value = base + 0.1 * math.sin(phase + 2 * math.pi * index / max(points - 1, 1))
        value += rng.uniform(-0.01, 0.01)
        if spiky and middle <= index < middle + SPIKE_POINTS:
            value = 0.97
        yield value


def _series_json(pod: int, start: int, step: int, points: int, rng: random.Random,
                 spiky: bool) -> str:
    labels = (f'{{"container":"app","namespace":"{NAMESPACE}",'
              f'"pod":"tars-api-{pod:05d}","service":"api-{pod % 16}"}}')
    samples = ",".join(f'[{start + i * step},"{v!r}"]'  # all digits, as Prometheus sends
                       for i, v in enumerate(_values(pod, points, rng, spiky)))
    return f'{{"metric":{labels},"values":[{samples}]}}'


def write_range_answer(out: IO[bytes], *, series: int, points: int, start: int, step: int = 60,
                       spiky: int | None = 0, seed: int = 11) -> None:
    """Write a `query_range` answer (JSON) of `series` x `points` samples to `out`."""
    rng = random.Random(seed)
    out.write(b'{"status":"success","data":{"resultType":"matrix","result":[')
    for pod in range(series):
        if pod:
            out.write(b",")
        out.write(_series_json(pod, start, step, points, rng, pod == spiky).encode())
    out.write(b"]}}")


def serve_answer(body: bytes) -> HttpServer:
    """A started local server that answers every request with `body` as JSON."""
    return HttpServer(HttpBehaviour(body=body, content_type="application/json")).start()
