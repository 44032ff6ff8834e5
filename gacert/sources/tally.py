"""What a probe counted and timed, in a form that adds up across runs.

A probe run (`gacert run`) or one short cycle of a watch (`gacert watch`)
yields a `Tally`: counters (requests, failures by cause) and `Samples` of
measured values (latencies in ms). Tallies merge, so that the watch judges
every cycle of the day at once: a success rate over every reconnect, a P99
over every latency, the longest downtime of any cycle. The measurements the
rules read are computed from a tally, one way for a single run and for a
whole window.

A `Samples` keeps its count, sum, minimum and maximum exactly and at most
`MAX_KEPT` values: beyond that a uniform sample of them (a reservoir), so
that a day of probing stays a bounded state. Percentiles are exact while
every value is kept, estimates from the sample afterwards; the evidence
says which.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gacert.quantiles import percentile

# Values a Samples keeps; a day of probing every minute with 5 requests is 7,200.
MAX_KEPT = 10_000
SUMMARY_KEYS = ("min", "avg", "p50", "p95", "p99", "max")


@dataclass
class Samples:
    """Measured values: exact count, sum and extremes, and a bounded sample of them."""

    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    kept: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: list[float]) -> Samples:
        """All of `values`, kept: one probe run is judged exactly, however long;
        the bound applies when runs are merged into a window."""
        if not values:
            return cls()
        return cls(len(values), math.fsum(values), min(values), max(values), list(values))

    def merge(self, other: Samples) -> None:
        """Add `other`'s values: counters exactly, kept values by reservoir sampling.

        The random choices are seeded by the counts, so that a watch resumed
        from its state keeps the same sample as one that never stopped.
        """
        if not other.count:
            return
        rng = random.Random(self.count * 1_000_003 + other.count)
        weight = other.count / len(other.kept) if other.kept else 0.0
        seen = float(self.count)
        for value in other.kept:
            seen += weight
            if len(self.kept) < MAX_KEPT:
                self.kept.append(value)
                continue
            slot = int(rng.random() * seen)
            if slot < MAX_KEPT:
                self.kept[slot] = value
        self.count += other.count
        self.total += other.total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)

    @property
    def exact(self) -> bool:
        """Whether every value is kept, so that percentiles are exact."""
        return len(self.kept) == self.count

    def summary(self) -> dict[str, float]:
        """min, avg, p50, p95, p99, max; every one NaN (no data) when there are none."""
        if not self.count:
            return dict.fromkeys(SUMMARY_KEYS, math.nan)
        ordered = sorted(self.kept)
        return {"min": self.low, "avg": self.total / self.count,
                "p50": percentile(ordered, 0.50), "p95": percentile(ordered, 0.95),
                "p99": percentile(ordered, 0.99), "max": self.high}

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total,
                "min": None if not self.count else self.low,
                "max": None if not self.count else self.high, "kept": list(self.kept)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Samples:
        count = int(data["count"])
        return cls(count, float(data["total"]),
                   math.inf if not count else float(data["min"]),
                   -math.inf if not count else float(data["max"]),
                   [float(v) for v in data["kept"]])


@dataclass
class Tally:
    """Counters and samples of one probe run, a cycle or a whole window, and the
    seconds spent measuring (for rates such as throughput)."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, Samples] = field(default_factory=dict)
    seconds: float = 0.0
    runs: int = 1  # probe runs (watch cycles) added up here

    def count(self, name: str) -> int:
        return self.counts.get(name, 0)

    def prefixed(self, prefix: str) -> dict[str, int]:
        """The counters named `prefix.<key>`, by key."""
        start = prefix + "."
        return {name[len(start):]: n for name, n in sorted(self.counts.items())
                if name.startswith(start)}

    def values(self, name: str) -> Samples:
        return self.samples.get(name) or Samples()

    def merged(self, other: Tally) -> Tally:
        """A new tally holding both (neither is changed)."""
        result = Tally.from_json(self.to_json())
        for name, n in other.counts.items():
            result.counts[name] = result.counts.get(name, 0) + n
        for name, samples in other.samples.items():
            result.samples.setdefault(name, Samples()).merge(samples)
        result.seconds += other.seconds
        result.runs += other.runs
        return result

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "seconds": self.seconds, "runs": self.runs,
                "samples": {name: s.to_json() for name, s in self.samples.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        return cls(counts={str(k): int(v) for k, v in data["counts"].items()},
                   samples={str(k): Samples.from_json(v) for k, v in data["samples"].items()},
                   seconds=float(data["seconds"]), runs=int(data["runs"]))

    @classmethod
    def empty(cls) -> Tally:
        return cls(runs=0)
