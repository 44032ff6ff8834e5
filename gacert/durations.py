"""Prometheus-style durations: `500ms`, `30s`, `5m`, `1h30m`, `7d`, `2w`, `1y`."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
# Units must appear largest first and at most once, as Prometheus requires.
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
DURATION_HINT = "use a Prometheus duration such as 500ms, 30s, 5m, 1h30m, 7d"
# No window, timeout or offset of a certification needs more; dates and
# Prometheus both stop being able to count much further (datetime ends in 9999).
MAX_DURATION_SECONDS = 100 * _UNIT_SECONDS["y"]


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise ValueError with a hint if malformed."""
    # 40 characters hold any duration up to the limit; a longer one is never valid.
    match = _DURATION.match(text.strip()) if isinstance(text, str) and len(text) < 80 else None
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
    seconds = sum(
        int(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount
    )
    if seconds <= 0:
        raise ValueError(f"{text!r} is zero; a duration must be positive")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r} is longer than 100y, the longest duration gacert accepts")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest PromQL duration for `seconds` (whole milliseconds), e.g. `86400s` -> `1d`."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError(f"cannot format non-positive duration {seconds}")
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = round(_UNIT_SECONDS[unit] * 1000)
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
