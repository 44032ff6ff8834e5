"""Timestamps as gacert reads and writes them: RFC 3339, always in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from gacert.errors import UsageError

__all__ = ["format_timestamp", "parse_timestamp"]


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


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second (or millisecond when needed)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
