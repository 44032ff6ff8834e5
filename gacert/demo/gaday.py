"""Deterministic GA-day metrics, written as OpenMetrics text with timestamps.

The output holds exactly the series of the metrics contract
(`shared/design/metrics-contract.md`) for the T.A.R.S. deployment, so the
shipped policy can be evaluated against a real Prometheus that was backfilled
with it (`promtool tsdb create-blocks-from openmetrics`).

A clean day meets every threshold of the GA policy with a wide margin. A
`Fault` degrades one aspect during `[start, end)` so that the day crosses
that aspect's threshold. The same inputs always give byte-identical output:
every random stream is a `random.Random` seeded from the seed and a fixed name.

The test dataset (`DATASET_START` .. `DATASET_END`, `SCENARIOS`,
`dataset_faults()`) is one continuous span: a week of clean baseline days,
so that checks comparing with `offset 7d` have data, then one scenario a day.
Besides the faults that cross one threshold, some scenarios test the
evidence itself: a monitoring outage (no sample of any series for hours,
while the application's counters go on counting), a day whose first half
holds no data, counters that reset, a division by zero, an empty histogram
and a histogram born inside the day.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import TextIO

JOB = "tars"
NAMESPACE = "tars-production"
REDIS_INSTANCE = "redis:6379"
REPLICAS = 2
DEFAULT_FAULT_SERVICE = "dashboard-api"
PPO_SERVICE = "orchestration-agent"  # the PPO agent, whose memory the policy watches

FAULT_KINDS = (
    "availability_dip",
    "error_surge",
    "latency_spike",
    "cache_misses",
    "critical_alert",
    "warning_alert",
    "container_restarts",
    "missing_exporter",
    "monitoring_outage",
    "counter_reset",
    "pool_misconfigured",
    "idle_histogram",
    "late_histogram",
)

# How long before a day without exporter its series already stop. An instant
# vector looks back 5 minutes and a rate window a few more, so a range query
# that starts at that day's midnight must not find the previous day's samples.
# The price, paid by the day before: its last 10 minutes have no redis samples.
# Its 24h hit rate is unaffected (a ratio of two increases over the same
# samples), but an instant read of a redis gauge at its very end finds nothing. That instant is
# also the first point of the missing day, so one of the two days must lose it.
EXPORTER_GAP_LEAD = timedelta(minutes=10)


@dataclass(frozen=True)
class ServiceProfile:
    """The steady behaviour of one service, per instance."""

    name: str
    pod_hash: str  # replica-set hash in pod names, e.g. insight-engine-7d9f-0
    rps: float  # requests per second per instance, daily mean
    cpu_cores: float  # CPU used per instance, daily mean
    memory_bytes: float  # resident memory per instance
    db_qps: float  # DB queries per second of the whole service
    ws_attempts_per_s: float  # WebSocket reconnect attempts per second of the service


PROFILES = (
    ServiceProfile("insight-engine", "7d9f", 12.0, 0.35, 520e6, 30.0, 0.5),
    ServiceProfile("dashboard-api", "5c6b", 25.0, 0.25, 380e6, 45.0, 0.8),
    # The PPO agent: ~1.2 GB per process, flat (the policy checks < 2 GB, no leak).
    ServiceProfile("orchestration-agent", "84f2", 6.0, 0.60, 1.2e9, 12.0, 0.5),
    ServiceProfile("automl-pipeline", "6b1d", 3.0, 0.90, 850e6, 8.0, 0.3),
)
SERVICES = tuple(p.name for p in PROFILES)

# Request latency buckets (seconds) and the cumulative share of requests at or
# below each bound; +Inf (share 1.0) is implicit. Normal traffic has its P99 at
# ~300 ms (linear interpolation inside the 0.25-0.5 s bucket); during a latency
# spike most requests take 1.5-2.5 s, so the P99 is ~2.5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LATENCY_NORMAL = (0.02, 0.08, 0.30, 0.60, 0.85, 0.988, 0.999, 0.9998, 1.0, 1.0)
LATENCY_SPIKE = (0.0, 0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.995, 1.0)
# DB query latency: P50 ~5 ms, P95 ~10 ms, P99 ~21 ms.
DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
DB_NORMAL = (0.05, 0.25, 0.55, 0.965, 0.9995, 0.9999, 1.0, 1.0, 1.0, 1.0)

# Share of requests per status (the rest answer 200): 5xx is 0.02 %.
STATUS_SHARES = (("404", 0.004), ("500", 0.00015), ("503", 0.00005))
ERROR_SURGE_503_SHARE = 0.05
CACHE_HIT_SHARE = 0.98
CACHE_HIT_SHARE_DEGRADED = 0.70
WS_SUCCESS_SHARE = 0.99
REDIS_OPS_PER_S = 400.0

ALERTS_BY_FAULT = {
    "critical_alert": ("HighErrorRate", "critical"),
    "warning_alert": ("HighMemoryUsage", "warning"),
}

Value = int | float | None  # None: no sample at that timestamp
SeriesRows = Iterator[tuple[str, str, Sequence[Value]]]  # (sample name, labels, values)


@dataclass(frozen=True)
class Fault:
    """One degradation, confined to `[start, end)` (timezone-aware datetimes).

    `service` applies to availability_dip, error_surge, latency_spike,
    container_restarts, counter_reset and the pool and histogram kinds
    (default dashboard-api); the other kinds ignore it.
    missing_exporter removes every redis_* sample of each UTC day it touches,
    from `EXPORTER_GAP_LEAD` before the first such day through the end of the
    last one inclusive: a `[24h]` selector evaluated at that end finds nothing.

    The kinds about the evidence itself:
    - monitoring_outage: no sample of any series is recorded, as when the
      monitoring system is down; the application's counters go on counting;
    - counter_reset: at `start`, the counters of the service's first instance
      (requests, latency histogram, CPU), its WebSocket counters and redis's
      restart from zero, as when processes restart without a container restart;
    - pool_misconfigured: the service's DB pool size reads 0 (a division by zero);
    - idle_histogram: the service makes no DB query (an empty histogram);
    - late_histogram: the service's DB histogram has no sample before `end`
      and starts from zero there (a histogram born inside the window).
    """

    kind: str
    start: datetime
    end: datetime
    service: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("fault start and end must be timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError(f"fault {self.kind} ends ({self.end}) before it starts ({self.start})")
        if self.service is not None and self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r}; known: {', '.join(SERVICES)}")

    @property
    def target(self) -> str:
        return self.service or DEFAULT_FAULT_SERVICE


# --- the test dataset --------------------------------------------------------

# The generator's version, in the cache key of the backfilled data with the
# source of this module: bump it when the data changes meaning.
GENERATOR_VERSION = 2

DATASET_START = datetime(2025, 1, 8, tzinfo=UTC)
DATASET_END = datetime(2025, 1, 30, tzinfo=UTC)
DATASET_SCRAPE_INTERVAL = 60
DATASET_SEED = 0

SCENARIOS: dict[str, date] = {
    "clean": date(2025, 1, 15),
    "availability_dip": date(2025, 1, 16),
    "error_surge": date(2025, 1, 17),
    "latency_spike": date(2025, 1, 18),
    "cache_misses": date(2025, 1, 19),
    "critical_alert": date(2025, 1, 20),
    "container_restarts": date(2025, 1, 21),
    "missing_exporter": date(2025, 1, 22),
    "warning_alert": date(2025, 1, 23),
    # The evidence itself: each must end not-PASS (or PASS: counter_reset) for the
    # right reason with policies/ga.yaml unchanged.
    "monitoring_outage": date(2025, 1, 24),
    "late_start": date(2025, 1, 25),
    "counter_reset": date(2025, 1, 26),
    "division_by_zero": date(2025, 1, 27),
    "empty_histogram": date(2025, 1, 28),
    "histogram_born": date(2025, 1, 29),
}
# The service the evidence scenarios about the database touch.
EVIDENCE_SERVICE = "automl-pipeline"

# (start, end) of each scenario's fault as times of its day. Faults stay well
# inside the day so that nothing leaks into a neighbouring day's window. Some
# last longer than 30 minutes because a short one would not move the day's
# ratio across the threshold: 5 % of one service's requests for 3 h gives a
# day 5xx ratio of ~0.3 %, a 70 % hit rate for 6 h a day hit rate of ~91 %.
_FAULT_HOURS: dict[str, tuple[time, time]] = {
    "availability_dip": (time(6), time(6, 30)),
    "error_surge": (time(6), time(9)),
    "latency_spike": (time(6), time(7)),
    "cache_misses": (time(6), time(12)),
    "critical_alert": (time(6), time(6, 15)),
    "container_restarts": (time(6), time(6, 30)),
    "warning_alert": (time(6), time(6, 30)),
    # Six hours without monitoring in the middle of the day.
    "monitoring_outage": (time(9), time(15)),
}


def scenario_window(name: str) -> tuple[datetime, datetime]:
    """The scenario's day: its 00:00Z to the next day's 00:00Z."""
    start = datetime.combine(SCENARIOS[name], time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _evidence_fault(name: str) -> Fault | None:
    """The fault of a scenario about the evidence itself, None for the others."""
    day_start, day_end = scenario_window(name)
    # Through the day's end inclusive: a `[24h]` range evaluated at that end holds it.
    through_end = day_end + timedelta(seconds=1)
    noon = day_start + timedelta(hours=12)
    faults = {
        # No lead: the lookback of the first points of the window still finds the
        # day before, as it would after a real outage; the gap starts minutes later.
        "late_start": Fault("monitoring_outage", day_start, noon),
        "counter_reset": Fault("counter_reset", noon, through_end),
        "division_by_zero": Fault("pool_misconfigured", day_start, through_end,
                                  EVIDENCE_SERVICE),
        "empty_histogram": Fault("idle_histogram", day_start, through_end, EVIDENCE_SERVICE),
        "histogram_born": Fault("late_histogram", day_start - EXPORTER_GAP_LEAD, noon,
                                EVIDENCE_SERVICE),
    }
    return faults.get(name)


def dataset_faults() -> tuple[Fault, ...]:
    """The faults of the test dataset, one scenario per day."""
    faults = []
    for name, day in SCENARIOS.items():
        evidence = _evidence_fault(name)
        if evidence is not None:
            faults.append(evidence)
        elif name == "missing_exporter":
            day_start, day_end = scenario_window(name)
            faults.append(Fault(name, day_start, day_end))
        elif name in _FAULT_HOURS:
            begin, end = _FAULT_HOURS[name]
            faults.append(
                Fault(
                    name,
                    datetime.combine(day, begin, tzinfo=UTC),
                    datetime.combine(day, end, tzinfo=UTC),
                )
            )
    return tuple(faults)


# --- the model -----------------------------------------------------------------


class _Model:
    """Per-timestamp inputs shared by the metric families of one generation."""

    def __init__(self, start: int, interval: int, count: int, faults: Sequence[Fault], seed: int):
        self.start = start
        self.interval = interval
        self.count = count
        self.faults = tuple(faults)
        self.seed = seed
        self.times = [start + i * interval for i in range(count)]
        # Traffic peaks at 14:00 UTC and bottoms out at 02:00 UTC, the same
        # every day, so that day-to-day CPU and memory drift stays tiny.
        self.diurnal = [
            1.0 + 0.35 * math.sin(2 * math.pi * ((t % 86400) / 3600 - 8) / 24) for t in self.times
        ]
        self._requests: dict[tuple[str, int], list[int]] = {}

    def rng(self, *key: str) -> random.Random:
        # A string seed is hashed with SHA-512: stable across runs and platforms.
        return random.Random(f"{self.seed}/" + "/".join(key))

    def mask(self, kind: str, service: str | None = None) -> list[bool]:
        """Per timestamp: is a fault of this kind (on this service) active?"""
        active = [False] * self.count
        for fault in self.faults:
            if fault.kind == kind and (service is None or fault.target == service):
                first, stop = self.indexes(fault.start, fault.end)
                active[first:stop] = [True] * (stop - first)
        return active

    def exporter_present(self) -> list[bool]:
        """Per timestamp: does the redis exporter answer?"""
        present = [True] * self.count
        for fault in self.faults:
            if fault.kind != "missing_exporter":
                continue
            first_day = datetime.combine(fault.start.astimezone(UTC).date(), time(), tzinfo=UTC)
            last_day = datetime.combine(
                (fault.end - timedelta(microseconds=1)).astimezone(UTC).date(), time(), tzinfo=UTC
            )
            # Absent from shortly before the first day to its end inclusive, as
            # a 24h range selector evaluated at the day's end includes that end.
            first, stop = self.indexes(
                first_day - EXPORTER_GAP_LEAD, last_day + timedelta(days=1, seconds=1)
            )
            present[first:stop] = [False] * (stop - first)
        return present

    def recorded(self) -> list[bool]:
        """Per timestamp: does monitoring record samples (no outage)?"""
        return [not down for down in self.mask("monitoring_outage")]

    def restarts(self, kind: str, service: str | None = None) -> list[int]:
        """Indexes at which counters restart from zero: at the start of each
        counter_reset fault (on `service`, or any), at the end of a late_histogram."""
        found = []
        for fault in self.faults:
            if fault.kind == kind and (service is None or fault.target == service):
                moment = fault.end if kind == "late_histogram" else fault.start
                first, _ = self.indexes(moment, moment)
                if first < self.count:
                    found.append(first)
        return found

    def indexes(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Indexes of the timestamps in [start, end)."""

        def index(moment: datetime) -> int:
            offset = math.ceil((moment.timestamp() - self.start) / self.interval)
            return min(max(offset, 0), self.count)

        return index(start), index(end)

    def requests(self, profile: ServiceProfile, instance: int) -> list[int]:
        """Requests served by one instance in each scrape interval."""
        key = (profile.name, instance)
        if key not in self._requests:
            rng = self.rng("requests", profile.name, str(instance))
            down = self.mask("availability_dip", profile.name)
            mean = profile.rps * self.interval
            self._requests[key] = [
                0 if off else int(mean * d * (1 + 0.04 * rng.gauss(0, 1)) + rng.random())
                for d, off in zip(self.diurnal, down, strict=True)
            ]
        return self._requests[key]

    def volume(self, per_second: float, *key: str, noise: float = 0.05) -> list[int]:
        """Events in each scrape interval for a diurnal rate, e.g. DB queries."""
        rng = self.rng("volume", *key)
        mean = per_second * self.interval
        return [int(mean * d * (1 + noise * rng.gauss(0, 1)) + rng.random()) for d in self.diurnal]


def _share(counts: Sequence[int], shares: Sequence[float], rng: random.Random) -> list[int]:
    """Part of each count, with the fractions carried over to later intervals.

    Carrying the remainder keeps every window's ratio within one event of its
    target, so short rate windows never cross a threshold by chance.
    """
    carry = rng.random()
    parts = []
    for count, share in zip(counts, shares, strict=True):
        carry += count * share
        part = min(int(carry), count)
        carry -= part
        parts.append(part)
    return parts


def _counter(increments: Sequence[float], digits: int | None = None,
             restarts: Sequence[int] = ()) -> list[Value]:
    """Running totals of `increments`, starting again from zero at each index of
    `restarts` (a process restart: the counter resets)."""
    totals: list[float] = []
    for begin, stop in zip([0, *sorted(restarts)], [*sorted(restarts), len(increments)],
                           strict=True):
        totals += accumulate(increments[begin:stop])
    if digits is None:
        return list(totals)
    return [round(total, digits) for total in totals]


def _gauge(model: _Model, key: str, base: float, *, swing: float, noise: float) -> list[Value]:
    """A level around `base`: `swing` follows the traffic of the day, `noise` is random.

    Without swing the level has no trend at all, e.g. the PPO agent's memory,
    so that a leak check (deriv, predict_linear) sees a flat line.
    """
    rng = model.rng("gauge", key)
    return [round(base * (1 + swing * (d - 1) + noise * rng.gauss(0, 1))) for d in model.diurnal]


def _histogram(
    name: str,
    labels: str,
    counts: Sequence[int],
    *,
    bounds: Sequence[float],
    shares_at: Callable[[int], Sequence[float]],
    rng: random.Random,
    restarts: Sequence[int] = (),
) -> SeriesRows:
    """Cumulative `_bucket`, `_sum`, `_count` series of one label set.

    One uniform draw per interval rounds every bucket, so buckets stay
    cumulative (monotonic in `le`) and the +Inf bucket equals the count.
    """
    edges = [*bounds, math.inf]
    # Each observation counts in _sum at its bucket's midpoint (1.5x the last bound).
    mids = [(lo + hi) / 2 for lo, hi in zip([0.0, *bounds], bounds, strict=False)] + [
        bounds[-1] * 1.5
    ]
    per_bucket: list[list[int]] = [[0] * len(counts) for _ in edges]
    sums = [0.0] * len(counts)
    for i, count in enumerate(counts):
        draw = rng.random()
        below = 0
        total = 0.0
        for k, share in enumerate([*shares_at(i), 1.0]):
            cumulative = int(count * share + draw)
            per_bucket[k][i] = cumulative
            total += (cumulative - below) * mids[k]
            below = cumulative
        sums[i] = total
    for edge, increments in zip(edges, per_bucket, strict=True):
        le = "+Inf" if edge == math.inf else repr(edge)
        yield f"{name}_bucket", f'{labels},le="{le}"', _counter(increments, None, restarts)
    yield f"{name}_sum", labels, _counter(sums, 3, restarts)
    yield f"{name}_count", labels, _counter(counts, None, restarts)


# --- metric families, in output order -----------------------------------------


def _instances() -> Iterator[tuple[ServiceProfile, int, str]]:
    for profile in PROFILES:
        for index in range(REPLICAS):
            yield profile, index, f'job="{JOB}",service="{profile.name}"'


def _process_restarts(model: _Model, profile: ServiceProfile, index: int) -> list[int]:
    """Where the counters of one instance's process restart (its first instance only)."""
    return model.restarts("counter_reset", profile.name) if index == 0 else []


def _instance_label(profile: ServiceProfile, index: int) -> str:
    return f'instance="{profile.name}-{index}:8080"'


def _pod_labels(profile: ServiceProfile, index: int) -> str:
    return f'namespace="{NAMESPACE}",pod="{profile.name}-{profile.pod_hash}-{index}"'


def _up(model: _Model) -> SeriesRows:
    for profile, index, labels in _instances():
        down = model.mask("availability_dip", profile.name)
        yield (
            "up",
            f'{labels},{_instance_label(profile, index)},namespace="{NAMESPACE}"',
            [0 if off else 1 for off in down],
        )


def _http_requests(model: _Model) -> SeriesRows:
    for profile, index, labels in _instances():
        requests = model.requests(profile, index)
        surge = model.mask("error_surge", profile.name)
        served = list(requests)  # what is left to answer 200
        restarts = _process_restarts(model, profile, index)
        for status, share in STATUS_SHARES:
            shares = [ERROR_SURGE_503_SHARE if status == "503" and on else share for on in surge]
            rng = model.rng("status", profile.name, str(index), status)
            part = [
                min(p, left) for p, left in zip(_share(requests, shares, rng), served, strict=True)
            ]
            served = [left - p for left, p in zip(served, part, strict=True)]
            row_labels = f'{labels},{_instance_label(profile, index)},status="{status}"'
            yield "http_requests_total", row_labels, _counter(part, None, restarts)
        ok_labels = f'{labels},{_instance_label(profile, index)},status="200"'
        yield "http_requests_total", ok_labels, _counter(served, None, restarts)


def _latency_shares(spike: Sequence[bool]) -> Callable[[int], Sequence[float]]:
    return lambda i: LATENCY_SPIKE if spike[i] else LATENCY_NORMAL


def _http_latency(model: _Model) -> SeriesRows:
    for profile, index, labels in _instances():
        yield from _histogram(
            "http_request_duration_seconds",
            f"{labels},{_instance_label(profile, index)}",
            model.requests(profile, index),
            bounds=LATENCY_BUCKETS,
            shares_at=_latency_shares(model.mask("latency_spike", profile.name)),
            rng=model.rng("latency", profile.name, str(index)),
            restarts=_process_restarts(model, profile, index),
        )


def _cpu_increments(model: _Model, profile: ServiceProfile, index: int) -> list[float]:
    """CPU seconds per interval: 40 % constant, 60 % following the traffic."""
    requests = model.requests(profile, index)
    mean = profile.rps * model.interval
    per_interval = profile.cpu_cores * model.interval
    return [per_interval * (0.4 + 0.6 * n / mean) for n in requests]


def _process_cpu(model: _Model) -> SeriesRows:
    for profile, index, labels in _instances():
        row_labels = f"{labels},{_instance_label(profile, index)}"
        yield (
            "process_cpu_seconds_total",
            row_labels,
            _counter(_cpu_increments(model, profile, index), 3,
                     _process_restarts(model, profile, index)),
        )


def _process_memory(model: _Model) -> SeriesRows:
    for profile, index, labels in _instances():
        key = f"memory/{profile.name}/{index}"
        # The PPO agent's memory is exactly flat, so that no leak check, not
        # even `deriv(...) > 0`, sees growth in random noise.
        noise = 0.0 if profile.name == PPO_SERVICE else 0.002
        yield (
            "process_resident_memory_bytes",
            f"{labels},{_instance_label(profile, index)}",
            _gauge(model, key, profile.memory_bytes * (1 + 0.01 * index), swing=0, noise=noise),
        )


def _db_latency(model: _Model) -> SeriesRows:
    for profile in PROFILES:
        idle = model.mask("idle_histogram", profile.name)
        queries = model.volume(profile.db_qps, "db", profile.name)
        unborn = model.mask("late_histogram", profile.name)
        rows = _histogram(
            "db_query_duration_seconds",
            f'job="{JOB}",service="{profile.name}"',
            [0 if off else n for n, off in zip(queries, idle, strict=True)],
            bounds=DB_BUCKETS,
            shares_at=lambda _i: DB_NORMAL,
            rng=model.rng("db-latency", profile.name),
            restarts=model.restarts("late_histogram", profile.name),
        )
        for name, labels, values in rows:
            yield name, labels, [None if gone else v for v, gone in zip(values, unborn,
                                                                         strict=True)]


def _db_pool_in_use(model: _Model) -> SeriesRows:
    for profile in PROFILES:
        labels = f'job="{JOB}",service="{profile.name}"'
        yield (
            "db_pool_connections_in_use",
            labels,
            _gauge(model, f"pool/{profile.name}", 8, swing=0.8, noise=0.08),
        )


def _db_pool_max(model: _Model) -> SeriesRows:
    for profile in PROFILES:
        labels = f'job="{JOB}",service="{profile.name}"'
        broken = model.mask("pool_misconfigured", profile.name)
        yield "db_pool_connections_max", labels, [0 if off else 50 for off in broken]


def _redis_rows(model: _Model, values: Sequence[Value]) -> list[Value]:
    return [v if on else None for v, on in zip(values, model.exporter_present(), strict=True)]


def _redis_lookups(model: _Model) -> tuple[list[int], list[int]]:
    ops = model.volume(REDIS_OPS_PER_S, "redis")
    degraded = model.mask("cache_misses")
    shares = [CACHE_HIT_SHARE_DEGRADED if on else CACHE_HIT_SHARE for on in degraded]
    hits = _share(ops, shares, model.rng("redis-hits"))
    return hits, [n - h for n, h in zip(ops, hits, strict=True)]


def _redis_lookup_counter(pick: int, name: str) -> Callable[[_Model], SeriesRows]:
    """The counter of key lookups that hit (pick 0) or missed (pick 1)."""

    def rows(model: _Model) -> SeriesRows:
        counts = _redis_lookups(model)[pick]
        yield (name, f'instance="{REDIS_INSTANCE}"',
               _redis_rows(model, _counter(counts, None, model.restarts("counter_reset"))))

    return rows


def _redis_memory(model: _Model) -> SeriesRows:
    values = _gauge(model, "redis-memory", 256e6, swing=0.05, noise=0.005)
    yield "redis_memory_used_bytes", f'instance="{REDIS_INSTANCE}"', _redis_rows(model, values)


def _redis_clients(model: _Model) -> SeriesRows:
    values = _gauge(model, "redis-clients", 36, swing=0.3, noise=0.03)
    yield "redis_connected_clients", f'instance="{REDIS_INSTANCE}"', _redis_rows(model, values)


def _container_cpu(model: _Model) -> SeriesRows:
    for profile, index, _ in _instances():
        # The container also runs a little besides the service's process.
        increments = [c * 1.05 for c in _cpu_increments(model, profile, index)]
        labels = f'{_pod_labels(profile, index)},container="{profile.name}"'
        yield "container_cpu_usage_seconds_total", labels, _counter(increments, 3)


def _container_memory(model: _Model) -> SeriesRows:
    for profile, index, _ in _instances():
        labels = f'{_pod_labels(profile, index)},container="{profile.name}"'
        key = f"working-set/{profile.name}/{index}"
        values = _gauge(model, key, profile.memory_bytes * 1.1, swing=0, noise=0.002)
        yield "container_memory_working_set_bytes", labels, values


def _network(direction: str, bytes_per_request: int) -> Callable[[_Model], SeriesRows]:
    def rows(model: _Model) -> SeriesRows:
        for profile, index, _ in _instances():
            increments = [n * bytes_per_request for n in model.requests(profile, index)]
            yield (
                f"container_network_{direction}_bytes_total",
                _pod_labels(profile, index),
                (_counter(increments)),
            )

    return rows


def _ws_attempts_and_successes(
    model: _Model, profile: ServiceProfile
) -> tuple[list[int], list[int]]:
    attempts = model.volume(profile.ws_attempts_per_s, "ws", profile.name, noise=0.1)
    shares = [WS_SUCCESS_SHARE] * model.count
    return attempts, _share(attempts, shares, model.rng("ws-success", profile.name))


def _ws_attempts(model: _Model) -> SeriesRows:
    for profile in PROFILES:
        attempts, _ = _ws_attempts_and_successes(model, profile)
        labels = f'job="{JOB}",service="{profile.name}"'
        restarts = model.restarts("counter_reset", profile.name)
        yield "websocket_reconnect_attempts_total", labels, _counter(attempts, None, restarts)


def _ws_successes(model: _Model) -> SeriesRows:
    for profile in PROFILES:
        _, successes = _ws_attempts_and_successes(model, profile)
        labels = f'job="{JOB}",service="{profile.name}"'
        restarts = model.restarts("counter_reset", profile.name)
        yield "websocket_reconnect_success_total", labels, _counter(successes, None, restarts)


def _deployment(name: str) -> Callable[[_Model], SeriesRows]:
    # The rollout is complete: desired, updated and available replicas agree.
    def rows(model: _Model) -> SeriesRows:
        for profile in PROFILES:
            labels = f'namespace="{NAMESPACE}",deployment="{profile.name}"'
            yield name, labels, [REPLICAS] * model.count

    return rows


def _restarts(model: _Model) -> SeriesRows:
    for profile, index, _ in _instances():
        increments = [0] * model.count
        if index == 0:
            for fault in model.faults:
                if fault.kind == "container_restarts" and fault.target == profile.name:
                    # Two restarts: at the start and halfway through the fault.
                    half = fault.start + (fault.end - fault.start) / 2
                    for moment in (fault.start, half):
                        first, stop = model.indexes(moment, fault.end)
                        if first < stop:
                            increments[first] += 1
        labels = f'{_pod_labels(profile, index)},container="{profile.name}"'
        yield "kube_pod_container_status_restarts_total", labels, _counter(increments)


def _alerts(model: _Model) -> SeriesRows:
    # ALERTS holds a series only while its alert fires, as in Prometheus.
    for kind, (alertname, severity) in ALERTS_BY_FAULT.items():
        firing = model.mask(kind)
        if any(firing):
            labels = f'alertname="{alertname}",alertstate="firing",severity="{severity}"'
            yield "ALERTS", labels, [1 if on else None for on in firing]


# (family name, OpenMetrics type, help, rows). Counter families are named
# without `_total`; their samples carry it.
FAMILIES: tuple[tuple[str, str, str, Callable[[_Model], SeriesRows]], ...] = (
    ("up", "gauge", "Whether the target was scraped.", _up),
    ("http_requests", "counter", "HTTP requests by status.", _http_requests),
    ("http_request_duration_seconds", "histogram", "HTTP request latency.", _http_latency),
    ("process_cpu_seconds", "counter", "CPU time of the process.", _process_cpu),
    ("process_resident_memory_bytes", "gauge", "Resident memory.", _process_memory),
    ("db_query_duration_seconds", "histogram", "DB query latency.", _db_latency),
    ("db_pool_connections_in_use", "gauge", "DB connections in use.", _db_pool_in_use),
    ("db_pool_connections_max", "gauge", "DB connection pool size.", _db_pool_max),
    ("redis_keyspace_hits", "counter", "Successful key lookups.",
     _redis_lookup_counter(0, "redis_keyspace_hits_total")),
    ("redis_keyspace_misses", "counter", "Failed key lookups.",
     _redis_lookup_counter(1, "redis_keyspace_misses_total")),
    ("redis_memory_used_bytes", "gauge", "Memory used by redis.", _redis_memory),
    ("redis_connected_clients", "gauge", "Connected redis clients.", _redis_clients),
    ("container_cpu_usage_seconds", "counter", "Container CPU time.", _container_cpu),
    ("container_memory_working_set_bytes", "gauge", "Container working set.", _container_memory),
    ("container_network_receive_bytes", "counter", "Bytes received.", _network("receive", 2048)),
    ("container_network_transmit_bytes", "counter", "Bytes sent.", _network("transmit", 8192)),
    ("websocket_reconnect_attempts", "counter", "WebSocket reconnect attempts.", _ws_attempts),
    ("websocket_reconnect_success", "counter", "Successful WebSocket reconnects.", _ws_successes),
    (
        "kube_deployment_spec_replicas",
        "gauge",
        "Desired replicas.",
        _deployment("kube_deployment_spec_replicas"),
    ),
    (
        "kube_deployment_status_replicas_updated",
        "gauge",
        "Updated replicas.",
        _deployment("kube_deployment_status_replicas_updated"),
    ),
    (
        "kube_deployment_status_replicas_available",
        "gauge",
        "Available replicas.",
        _deployment("kube_deployment_status_replicas_available"),
    ),
    ("kube_pod_container_status_restarts", "counter", "Container restarts.", _restarts),
    ("ALERTS", "gauge", "Firing alerts.", _alerts),
)


# --- output --------------------------------------------------------------------


def _epoch_seconds(moment: datetime, what: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment}")
    seconds = moment.timestamp()
    if seconds != int(seconds):
        raise ValueError(f"{what} must be a whole second, got {moment}")
    return int(seconds)


def write_openmetrics(
    out: TextIO,
    start: datetime,
    end: datetime,
    faults: Sequence[Fault] = (),
    scrape_interval: int = 60,
    seed: int = 0,
) -> None:
    """Write samples at start, start + scrape_interval, ... (< end) to `out`.

    Families are contiguous and each series' samples are in time order, as
    `promtool tsdb create-blocks-from openmetrics` requires. One series is
    formatted at a time, so memory stays proportional to the span, not to
    the output.
    """
    first = _epoch_seconds(start, "start")
    last = _epoch_seconds(end, "end")
    if scrape_interval <= 0:
        raise ValueError(f"scrape_interval must be positive, got {scrape_interval}")
    if last <= first:
        raise ValueError(f"end ({end}) must be after start ({start})")
    count = (last - first + scrape_interval - 1) // scrape_interval
    model = _Model(first, scrape_interval, count, faults, seed)
    # No sample at all while monitoring is down: those timestamps are skipped.
    stamps = [str(t) if on else None for t, on in zip(model.times, model.recorded(), strict=True)]
    for family, kind, help_text, rows in FAMILIES:
        header = f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n"
        for sample_name, labels, values in rows(model):
            prefix = f"{sample_name}{{{labels}}} "
            lines = [
                f"{prefix}{v} {t}\n"
                for v, t in zip(values, stamps, strict=True)
                if v is not None and t is not None
            ]
            if lines:
                out.write(header)
                header = ""  # written once, before the family's first sample
                out.write("".join(lines))
    out.write("# EOF\n")
