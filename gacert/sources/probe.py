"""What the probe sources (http, websocket, command, file) share.

A probe measures once per run, however many checks read it: the five
WebSocket checks of the GA policy share one reconnect test. `RunOnce` keeps
the first outcome (or the first error) behind a lock; every check then picks
its value out of the same measurements by the path in its `query`
(`answer`). Times are in milliseconds throughout.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from gacert.errors import SourceError
from gacert.model import Fetched, Query, Series
from gacert.sources.paths import PathError, as_number, leaf_paths, parse_path, resolve
from gacert.sources.tally import Samples, Tally

T = TypeVar("T")

# Evidence keeps at most this many raw samples per probe, so that a long probe
# does not make results.json (which holds them once per check) huge.
MAX_SAMPLES = 1000
# A window that ended longer ago than this was not what the probe measured.
STALE_WINDOW_SECONDS = 3600.0


class RunOnce(Generic[T]):
    """Runs `work` at the first `get()`; later calls get the same result or error."""

    def __init__(self, work: Callable[[], Awaitable[T]]) -> None:
        self._work = work
        self._lock: asyncio.Lock | None = None
        self._outcome: tuple[T] | None = None
        self._error: Exception | None = None

    async def get(self) -> T:
        # The lock is made inside the running loop that uses it.
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._outcome is None and self._error is None:
                try:
                    self._outcome = (await self._work(),)
                # A probe that failed once fails for every check that reads it:
                # running it again per check would multiply its cost, not fix it.
                except Exception as exc:
                    self._error = exc
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome[0]

    def reset(self) -> None:
        """Forget the outcome: the next `get()` measures again."""
        self._lock, self._outcome, self._error = None, None, None


@dataclass(frozen=True)
class Measured:
    """One probe's outcome: what rules read, and the raw evidence auditors read."""

    measurements: Mapping[str, Any]
    evidence: Mapping[str, Any]
    at: datetime  # when the probe finished
    warnings: tuple[str, ...] = field(default=())
    # What a network probe counted, for a watch to add up over its cycles.
    tally: Tally | None = None


def answer(label: str, query: Query, measured: Measured) -> Fetched:
    """The check's value: the measurement its `query` names, as one series; none
    when the probe measured nothing of it (null, or NaN: no sample to measure), so
    that the check's no_data setting decides."""
    value = number_at(label, measured.measurements, query.text)
    series = () if value is None or math.isnan(value) else (
        Series(labels={}, points=((measured.at.timestamp(), value),)),)
    warnings = measured.warnings + _stale_window(query, measured.at)
    return Fetched(series=series, warnings=warnings, measurements=measured.measurements,
                   evidence=measured.evidence)


def number_at(label: str, data: Any, path_text: str, *, reveal: bool = True) -> float | None:
    """The number at `path_text` in `data` (None: null, no data).

    A path that leads nowhere raises SourceError listing what is there, so
    that a typo is fixed from the message alone; unless `reveal` is false
    (data read from a file), when it names only the path and what it expected.
    """
    path_text = path_text.strip()
    if not path_text:
        if not reveal:
            raise SourceError(f"{label}: the check needs a query naming a value by its "
                              "path in the document, such as metrics.http_reqs.count")
        known = ", ".join(leaf_paths(data)) if isinstance(data, Mapping) else ""
        raise SourceError(f"{label}: the check needs a query naming a value, one of: "
                          f"{known or '(none)'}")
    try:
        return as_number(resolve(data, parse_path(path_text), reveal=reveal), path_text,
                         reveal=reveal)
    except PathError as exc:
        raise SourceError(f"{label}: query {path_text!r}: {exc}") from None


def _stale_window(query: Query, at: datetime) -> tuple[str, ...]:
    end = query.end if query.end.tzinfo else query.end.replace(tzinfo=UTC)
    if (at - end).total_seconds() <= STALE_WINDOW_SECONDS:
        return ()
    return (f"measured at {timestamp(at)}, after the window (it ended {timestamp(end)}): "
            "a probe measures when the run happens",)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now() -> datetime:
    return datetime.now(UTC)


def summary(samples: Sequence[float]) -> dict[str, float]:
    """min, avg, p50, p95, p99, max of `samples`; every one NaN (no data) when there are none."""
    return Samples.of(list(samples)).summary()


def rate(part: int, whole: int) -> float:
    """`part` of `whole` in percent; NaN (no data) when nothing was tried."""
    return 100.0 * part / whole if whole else math.nan


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def bounded(samples: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """At most MAX_SAMPLES samples, the first and the last halves, and how many were left out."""
    if len(samples) <= MAX_SAMPLES:
        return samples, 0
    half = MAX_SAMPLES // 2
    return samples[:half] + samples[-half:], len(samples) - MAX_SAMPLES


def count_by(causes: Sequence[str]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for cause in causes:
        counted[cause] = counted.get(cause, 0) + 1
    return dict(sorted(counted.items()))


Config = TypeVar("Config")


class OncePerRun(Generic[Config, T]):
    """A source built from its config whose work runs once per run, however many
    checks read it (the work's outcome, or its error, is shared: see RunOnce).
    Subclasses set `type_name`, and implement `_work` and `_label`."""

    type_name: ClassVar[str]

    def __init__(self, source_id: str, config: Config) -> None:
        self._id = source_id
        self._config = config
        self._once: RunOnce[T] = RunOnce(self._work)

    @property
    def endpoint(self) -> str:
        """What the source reads, for people and reports (no secrets)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self._id!r}, endpoint={self.endpoint!r})"

    async def aclose(self) -> None:
        self._once.reset()

    @property
    def label(self) -> str:
        """The source for people: its type, id and what it reads (no secrets)."""
        return self._label

    @property
    def _label(self) -> str:
        raise NotImplementedError

    async def _work(self) -> T:
        raise NotImplementedError


class _EndpointConfig(Protocol):
    @property
    def endpoint(self) -> str: ...  # the URL with credentials removed


C = TypeVar("C", bound=_EndpointConfig)


class NetworkProbe(OncePerRun[C, Measured]):
    """What the http and websocket probes share: a config with a redacted
    endpoint, one measurement per run however many checks read it, and
    answers picked from that measurement by each check's query.
    Subclasses set `type_name` and implement `_measure`."""

    @property
    def endpoint(self) -> str:
        return self._config.endpoint

    async def fetch(self, query: Query) -> Fetched:
        return answer(self._label, query, await self._once.get())

    async def measure(self) -> Measured:
        """One run of the probe, with its tally; a watch calls it once per cycle."""
        return await self._measure()

    @property
    def _label(self) -> str:
        return f"{self.type_name} source {self._id!r} at {self.endpoint}"

    async def _work(self) -> Measured:
        return await self._measure()

    async def _measure(self) -> Measured:
        raise NotImplementedError

    @staticmethod
    def judge(counted: Tally) -> dict[str, Any]:
        """The measurements of a tally: of one run, or of every cycle of a watch."""
        raise NotImplementedError

    @staticmethod
    def cycle_summary(measurements: Mapping[str, Any]) -> dict[str, Any]:
        """The few numbers of one watch cycle that its evidence keeps."""
        raise NotImplementedError
