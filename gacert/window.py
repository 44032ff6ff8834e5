"""The evaluation window and the Grafana-style variables queries may use."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gacert.durations import DURATION_HINT, format_duration, parse_duration
from gacert.errors import UsageError

# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000


@dataclass(frozen=True)
class Window:
    """A closed interval [start, end] in UTC and the resolution of range queries."""

    start: datetime
    end: datetime
    step_seconds: float
    scrape_interval_seconds: float

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def variables(self) -> dict[str, str]:
        """Window variables by name (without `$`), as Grafana users know them."""
        range_s = self.duration_seconds
        step = self.step_seconds
        rate_interval = max(step + self.scrape_interval_seconds, 4 * self.scrape_interval_seconds)
        return {
            "__range": f"{round(range_s)}s",
            "__range_s": str(round(range_s)),
            "__range_ms": str(round(range_s * 1000)),
            "__interval": format_duration(step),
            "__interval_s": str(round(step)),
            "__interval_ms": str(round(step * 1000)),
            "__rate_interval": format_duration(rate_interval),
            "__from": str(round(self.start.timestamp() * 1000)),
            "__to": str(round(self.end.timestamp() * 1000)),
        }


WINDOW_VARIABLES = tuple(
    Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC), 60, 15).variables()
)


def parse_timestamp(text: str, option: str) -> datetime:
    """An RFC 3339 timestamp with a time zone, converted to UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an RFC 3339 timestamp "
                         "(e.g. 2025-01-15T00:00:00Z)") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone; add Z or an offset such as +02:00")
    return moment.astimezone(UTC)


def _duration(text: str, option: str) -> timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if seconds < 1:
        raise UsageError(f"{option} {text!r} is shorter than a second; {DURATION_HINT}")
    return timedelta(seconds=seconds)


def resolve_window(*, start: str | None, end: str | None, duration: str | None,
                   default_duration_seconds: float, step_seconds: float,
                   scrape_interval_seconds: float, now: datetime) -> Window:
    """Combine the command-line window options with the policy's defaults.

    Any two of start / end / duration fix the window; duration alone ends now;
    none gives the policy's default duration ending now.
    """
    if start and end and duration:
        raise UsageError("give at most two of --start, --end and --duration")
    begin = parse_timestamp(start, "--start") if start else None
    finish = parse_timestamp(end, "--end") if end else None
    length = _duration(duration, "--duration") if duration else None
    if begin is None and finish is None:
        finish = now.astimezone(UTC).replace(microsecond=0)
    if length is None:
        length = timedelta(seconds=default_duration_seconds) if begin is None or finish is None \
            else None
    if begin is None:
        assert finish is not None
        assert length is not None
        begin = finish - length
    if finish is None:
        assert length is not None
        finish = begin + length
    if finish <= begin:
        raise UsageError(f"the window ends ({finish:%Y-%m-%dT%H:%M:%SZ}) before it starts "
                         f"({begin:%Y-%m-%dT%H:%M:%SZ})")
    seconds = (finish - begin).total_seconds()
    # Keep range queries under Prometheus's point limit by coarsening the step.
    step = max(step_seconds, math.ceil(seconds / (MAX_POINTS - 1)))
    return Window(begin, finish, float(step), scrape_interval_seconds)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second (or millisecond when needed)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
