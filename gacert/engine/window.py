"""The evaluation window and the Grafana-style variables queries may use.

A window must lie in the past: evidence of what has not happened yet does
not exist, and a window that ends later than now (beyond CLOCK_SKEW_SECONDS,
for clocks that disagree a little) is a usage error, never a quiet no_data.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from gacert.durations import DURATION_HINT, parse_duration
from gacert.errors import UsageError
from gacert.formatting import format_span
from gacert.model import Window
from gacert.timestamps import parse_timestamp

# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
# How far past our clock a window may end: the source's clock may be ahead of ours.
CLOCK_SKEW_SECONDS = 60



def option_duration(text: str, option: str) -> timedelta:
    """The duration given to a command-line option; at least a second."""
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
    try:
        return _resolve(start, end, duration, default_duration_seconds, step_seconds,
                        scrape_interval_seconds, now)
    except OverflowError:  # e.g. --start 9999-12-31T00:00:00Z --duration 2d
        raise UsageError("the window reaches past the dates gacert can represent "
                         "(years 1 to 9999); check --start, --end and --duration") from None


def _resolve(start: str | None, end: str | None, duration: str | None,
             default_duration_seconds: float, step_seconds: float,
             scrape_interval_seconds: float, now: datetime) -> Window:
    if start and end and duration:
        raise UsageError("give at most two of --start, --end and --duration")
    begin = parse_timestamp(start, "--start") if start else None
    finish = parse_timestamp(end, "--end") if end else None
    length = option_duration(duration, "--duration") if duration else None
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
    _refuse_the_future(finish, now, start_alone=bool(start) and not end and not duration)
    seconds = (finish - begin).total_seconds()
    # Keep range queries under Prometheus's point limit by coarsening the step.
    step = max(step_seconds, math.ceil(seconds / (MAX_POINTS - 1)))
    return Window(begin, finish, float(step), scrape_interval_seconds)


def _refuse_the_future(finish: datetime, now: datetime, *, start_alone: bool) -> None:
    ahead = (finish - now).total_seconds()
    if ahead <= CLOCK_SKEW_SECONDS:
        return
    message = (f"the window ends at {finish:%Y-%m-%dT%H:%M:%SZ}, {format_span(ahead)} after "
               f"now ({now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}): no evidence of it exists yet "
               f"(a window may end at most {CLOCK_SKEW_SECONDS} s after now)")
    if start_alone:
        message += ("; --start alone means --start plus the policy's window.duration: give "
                    "--end too, or --duration")
    raise UsageError(message)


