"""Probes over a whole window: what `gacert watch` does with the http and websocket probes.

A run measures a probe once, while it happens. A watch runs a short cycle of
each probe every interval (its size is the source's `watch:` setting, e.g.
`watch: {iterations: 5}`), adds each cycle's tally to everything measured
since the window began, and answers every check from that sum: the success
rate over every reconnect of the day, the P99 over every latency, the
longest downtime of any cycle. The evidence keeps a summary of every cycle
(at most MAX_CYCLES, the first and last halves) and where the watch was not
running, so that no probe coverage is claimed for those times.

A `ProbeRecord` is what one probe measured so far; it is JSON for the watch
state, and a cycle only adds to it when its snapshot is committed
(`WindowProbe.record` is the record with the cycle added).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

from gacert.model import Fetched, Query
from gacert.sources.base import Source
from gacert.sources.probe import Measured, NetworkProbe, RunOnce, answer, now, timestamp
from gacert.sources.tally import MAX_KEPT, Tally

WATCH_SETTING = "watch"
# Keys of a source's `watch:` setting, which size one cycle.
CYCLE_KEYS = ("requests", "iterations", "duration")
MAX_CYCLES = 2000


def cycle_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of one watch cycle: `watch:` overrides the size of a run."""
    cycle = settings.get(WATCH_SETTING) or {}
    base = {k: v for k, v in settings.items() if k != WATCH_SETTING}
    if not isinstance(cycle, Mapping) or not cycle:
        return base
    # A cycle sized by duration replaces a run sized by count, and the reverse.
    sized = {k: v for k, v in base.items() if k not in CYCLE_KEYS}
    return {**sized, **cycle}


def cycles(source: Source) -> TypeGuard[NetworkProbe[Any]]:
    """Whether `source` can measure in cycles (the http and websocket probes)."""
    return isinstance(source, NetworkProbe)


@dataclass
class ProbeRecord:
    """What one probe measured over the window so far."""

    tally: Tally = field(default_factory=Tally.empty)
    cycles: list[dict[str, Any]] = field(default_factory=list)
    cycles_omitted: int = 0

    def with_cycle(self, tally: Tally, summary: dict[str, Any]) -> ProbeRecord:
        kept = [*self.cycles, summary]
        omitted = self.cycles_omitted
        if len(kept) > MAX_CYCLES:  # keep the first half and the latest ones
            del kept[MAX_CYCLES // 2]
            omitted += 1
        return ProbeRecord(self.tally.merged(tally), kept, omitted)

    def to_json(self) -> dict[str, Any]:
        return {"tally": self.tally.to_json(), "cycles": self.cycles,
                "cycles_omitted": self.cycles_omitted}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeRecord:
        return cls(Tally.from_json(data["tally"]), list(data["cycles"]),
                   int(data["cycles_omitted"]))


class WindowProbe:
    """A Source that runs one cycle of `probe` per snapshot and answers every check from
    all the cycles of the window; `coverage` (from the watch) says where it was not running."""

    # Not a type a policy names: it wraps one (the results record the wrapped type).
    type_name: ClassVar[str] = "window"

    def __init__(self, probe: NetworkProbe[Any], record: ProbeRecord,
                 coverage: Mapping[str, Any], *, run_cycle: bool = True) -> None:
        self._probe = probe
        self._before = record
        self._coverage = dict(coverage)
        self._run_cycle = run_cycle
        self.record = record  # with this snapshot's cycle, once measured
        self._once: RunOnce[Measured] = RunOnce(self._measure)

    @property
    def endpoint(self) -> str:
        return self._probe.endpoint

    async def fetch(self, query: Query) -> Fetched:
        return answer(self._probe.label, query, await self._once.get())

    async def aclose(self) -> None:
        await self._probe.aclose()

    async def _measure(self) -> Measured:
        probe = type(self._probe)
        if not self._run_cycle:  # the window is over: judge what was measured in it
            return self._window(None)
        cycle = await self._probe.measure()
        assert cycle.tally is not None
        started = cycle.evidence.get("started_at") or timestamp(cycle.at)
        summary = {"at": started, "seconds": round(cycle.tally.seconds, 3),
                   **probe.cycle_summary(cycle.measurements)}
        self.record = self._before.with_cycle(cycle.tally, summary)
        return self._window(cycle)

    def _window(self, cycle: Measured | None) -> Measured:
        record = self.record
        measurements = type(self._probe).judge(record.tally)
        exact = all(s.exact for s in record.tally.samples.values())
        evidence: dict[str, Any] = {
            "window": {
                "cycles": record.tally.runs, "measured_seconds": round(record.tally.seconds, 3),
                "percentiles": "exact: every value is kept" if exact else
                f"estimated from a uniform sample of at most {MAX_KEPT} values",
                "coverage": self._coverage},
            "cycles": record.cycles, "cycles_omitted": record.cycles_omitted,
            "last_cycle": dict(cycle.evidence) if cycle is not None else None,
        }
        return Measured(measurements=measurements, evidence=evidence,
                        at=cycle.at if cycle is not None else now(),
                        warnings=cycle.warnings if cycle is not None else ())
