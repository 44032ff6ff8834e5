"""gacert.engine.window and gacert.durations: the evaluation window and its variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gacert.durations import format_duration, parse_duration
from gacert.engine.window import MAX_POINTS, resolve_window
from gacert.errors import UsageError
from gacert.model import WINDOW_VARIABLES, Window
from gacert.timestamps import format_timestamp, parse_timestamp

NOW = datetime(2025, 1, 15, 12, 30, 45, 678000, tzinfo=UTC)
DAY = 86400.0


def window(start: str | None = None, end: str | None = None, duration: str | None = None,
           *, default: float = DAY, step: float = 60.0, scrape: float = 15.0) -> Window:
    return resolve_window(start=start, end=end, duration=duration,
                          default_duration_seconds=default, step_seconds=step,
                          scrape_interval_seconds=scrape, now=NOW)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- durations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h30m", 5400.0, id="hours and minutes"),
        pytest.param("7d", 604800.0, id="days"),
        pytest.param("2w", 1209600.0, id="weeks"),
        pytest.param("1y", 31536000.0, id="a year is 365 days"),
        pytest.param("1d1ms", 86400.001, id="largest and smallest unit together"),
        pytest.param(" 5m ", 300.0, id="surrounding spaces are ignored"),
        pytest.param("01m", 60.0, id="a leading zero is allowed"),
    ],
)
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("0s", "is zero; a duration must be positive", id="zero is refused"),
        pytest.param("0h0m", "is zero", id="several zero parts are refused"),
        pytest.param("", "is not a duration", id="the empty string is refused"),
        pytest.param("5", "is not a duration", id="a number without a unit is refused"),
        pytest.param("m", "is not a duration", id="a unit without a number is refused"),
        pytest.param("1m1h", "is not a duration", id="units out of order are refused"),
        pytest.param("1s1s", "is not a duration", id="a repeated unit is refused"),
        pytest.param("1.5h", "is not a duration", id="a fraction is refused"),
        pytest.param("-5m", "is not a duration", id="a negative duration is refused"),
        pytest.param("5M", "is not a duration", id="units are lower case"),
        pytest.param("5 m", "is not a duration", id="a space inside is refused"),
        pytest.param(None, "is not a duration", id="None is refused"),
        pytest.param(5, "is not a duration", id="a bare number is refused"),
    ],
)
def test_invalid_durations(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as caught:
        parse_duration(text)
    if "not a duration" in fragment:
        assert "500ms, 30s, 5m, 1h30m, 7d" in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.5, "500ms", id="half a second is 500ms"),
        pytest.param(60, "1m", id="a minute"),
        pytest.param(75, "1m15s", id="minutes and seconds"),
        pytest.param(86400, "1d", id="a day"),
        pytest.param(90061.5, "1d1h1m1s500ms", id="every unit below a week"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [0, -1, 0.0004])
def test_format_duration_refuses_non_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="non-positive"):
        format_duration(seconds)


# --- resolve_window -----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "start", "end"),
    [
        pytest.param({"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T06:00:00Z"},
                     utc(2025, 1, 1), utc(2025, 1, 2, 6), id="start and end fix the window"),
        pytest.param({"start": "2025-01-01T00:00:00Z", "duration": "6h"},
                     utc(2025, 1, 1), utc(2025, 1, 1, 6), id="start and duration"),
        pytest.param({"end": "2025-01-02T00:00:00Z", "duration": "6h"},
                     utc(2025, 1, 1, 18), utc(2025, 1, 2), id="end and duration"),
        pytest.param({"end": "2025-01-02T02:00:00+02:00", "duration": "1h"},
                     utc(2025, 1, 1, 23), utc(2025, 1, 2),
                     id="an offset is converted to UTC"),
        pytest.param({"start": "2025-01-01T00:00:00Z"}, utc(2025, 1, 1), utc(2025, 1, 2),
                     id="start alone uses the default duration"),
        pytest.param({"end": "2025-01-02T00:00:00Z"}, utc(2025, 1, 1), utc(2025, 1, 2),
                     id="end alone uses the default duration"),
        pytest.param({"duration": "1h"}, utc(2025, 1, 15, 11, 30, 45),
                     utc(2025, 1, 15, 12, 30, 45), id="duration alone ends now to the second"),
        pytest.param({}, utc(2025, 1, 14, 12, 30, 45), utc(2025, 1, 15, 12, 30, 45),
                     id="no option gives the default duration ending now"),
    ],
)
def test_window_options(options: dict[str, Any], start: datetime, end: datetime) -> None:
    resolved = window(**options)
    assert (resolved.start, resolved.end) == (start, end)
    assert resolved.start.tzinfo is not None
    assert resolved.end.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param({"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z",
                      "duration": "1h"}, "give at most two of --start, --end and --duration",
                     id="all three options are a usage error"),
        pytest.param({"start": "2025-01-01T00:00:00"}, "--start '2025-01-01T00:00:00' has no "
                     "time zone", id="a start without a time zone is a usage error"),
        pytest.param({"end": "2025-01-01T00:00:00"}, "--end '2025-01-01T00:00:00' has no "
                     "time zone", id="an end without a time zone is a usage error"),
        pytest.param({"start": "yesterday"}, "is not an RFC 3339 timestamp",
                     id="a start that is not a timestamp is a usage error"),
        pytest.param({"duration": "1 day"}, "--duration: '1 day' is not a duration",
                     id="a malformed duration is a usage error"),
        pytest.param({"duration": "0s"}, "--duration: '0s' is zero",
                     id="a zero duration is refused"),
        pytest.param({"duration": "500ms"}, "shorter than a second",
                     id="a window under a second is refused"),
        pytest.param({"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
                     "the window ends (2025-01-01T00:00:00Z) before it starts "
                     "(2025-01-02T00:00:00Z)", id="an end before the start is a usage error"),
        pytest.param({"start": "2025-01-02T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
                     "before it starts", id="an empty window is a usage error"),
        pytest.param({"start": "2025-01-15T00:00:00Z"}, "the window ends at "
                     "2025-01-16T00:00:00Z, 11h 29m after now (2025-01-15T12:30:45Z): no "
                     "evidence of it exists yet (a window may end at most 60 s after now); "
                     "--start alone means --start plus the policy's window.duration",
                     id="--start alone ending in the future is a usage error that says why"),
        pytest.param({"start": "2025-02-01T00:00:00Z", "end": "2025-02-02T00:00:00Z"},
                     "no evidence of it exists yet", id="a window wholly in the future is "
                     "a usage error"),
        pytest.param({"end": "2025-01-15T12:31:46Z"}, "1m after now",
                     id="an end more than a minute past now is refused"),
    ],
)
def test_window_usage_errors(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        window(**options)
    assert fragment in str(caught.value)


def test_an_end_within_the_clock_skew_allowance_is_accepted() -> None:
    resolved = window(end="2025-01-15T12:31:45Z", duration="1h")
    assert resolved.end == utc(2025, 1, 15, 12, 31, 45)


def test_the_step_is_kept_when_the_window_is_small() -> None:
    assert window(duration="7d").step_seconds == 60.0


def test_the_step_is_coarsened_above_the_prometheus_point_limit() -> None:
    resolved = window(end="2025-01-15T00:00:00Z", duration="30d")
    points = resolved.duration_seconds / resolved.step_seconds + 1
    assert resolved.step_seconds == 236.0
    assert points <= MAX_POINTS
    assert resolved.duration_seconds / (resolved.step_seconds - 1) + 1 > MAX_POINTS


def test_the_coarsened_step_is_a_whole_number_of_seconds() -> None:
    resolved = window(end="2025-01-15T00:00:00Z", duration="1y", step=15.0)
    assert resolved.step_seconds == float(int(resolved.step_seconds))
    assert resolved.duration_seconds / resolved.step_seconds + 1 <= MAX_POINTS


# --- window variables ---------------------------------------------------------


def test_variables_of_a_24h_window() -> None:
    variables = window(start="2025-01-01T00:00:00Z", end="2025-01-02T00:00:00Z").variables()
    assert variables["__range"] == "86400s"
    assert variables["__range_s"] == "86400"
    assert variables["__range_ms"] == "86400000"
    assert parse_duration(variables["__interval"]) == 60.0
    assert variables["__interval_s"] == "60"
    assert variables["__interval_ms"] == "60000"
    # max(60s + 15s, 4 * 15s) = 75s
    assert variables["__rate_interval"] == "1m15s"
    assert variables["__from"] == "1735689600000"
    assert variables["__to"] == "1735776000000"


@pytest.mark.parametrize(
    ("step", "scrape", "expected"),
    [
        pytest.param(60.0, 15.0, "1m15s", id="step plus scrape when that is larger"),
        pytest.param(15.0, 15.0, "1m", id="four scrapes when that is larger"),
        pytest.param(10.0, 30.0, "2m", id="four scrapes of a slow target"),
    ],
)
def test_rate_interval(step: float, scrape: float, expected: str) -> None:
    moment = utc(2025, 1, 1)
    variables = Window(moment, moment + timedelta(days=1), step, scrape).variables()
    assert variables["__rate_interval"] == expected
    assert parse_duration(expected) == max(step + scrape, 4 * scrape)


def test_window_variable_names_are_the_grafana_ones() -> None:
    assert set(WINDOW_VARIABLES) == {"__range", "__range_s", "__range_ms", "__interval",
                                     "__interval_s", "__interval_ms", "__rate_interval",
                                     "__from", "__to"}


# --- timestamps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        pytest.param(utc(2025, 1, 15), "2025-01-15T00:00:00Z", id="a whole second has no fraction"),
        pytest.param(NOW, "2025-01-15T12:30:45.678Z", id="milliseconds are kept when present"),
        pytest.param(datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
                     "2025-01-01T00:00:00Z", id="an offset is converted to UTC"),
        pytest.param(datetime(2025, 1, 1, 0, 0, 0, 999, tzinfo=UTC), "2025-01-01T00:00:00.000Z",
                     id="microseconds below a millisecond keep a zero fraction"),
    ],
)
def test_format_timestamp(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text


def test_parse_timestamp_round_trips_with_format_timestamp() -> None:
    assert format_timestamp(parse_timestamp("2025-01-15T02:00:00+02:00", "--end")) == \
        "2025-01-15T00:00:00Z"
