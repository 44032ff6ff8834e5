"""Helpers for the probe source tests: run a source the way the fetch stage does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gacert.model import Fetched, Query
from gacert.sources import source_factory
from gacert.sources.base import Source

NOW = datetime.now(UTC)


def query(text: str) -> Query:
    return Query(check_id="c", text=text, mode="instant", start=NOW, end=NOW, step_seconds=60.0)


def build(type_name: str, settings: Mapping[str, Any], source_id: str = "probe") -> Source:
    """The source as `gacert run` builds it: through the registry, from settings."""
    return source_factory(type_name)(source_id, settings)


def fetch_all(source: Source, *texts: str) -> list[Fetched]:
    """Ask every query at once, as several checks on one source are, then close."""
    async def run() -> list[Fetched]:
        try:
            return list(await asyncio.gather(*(source.fetch(query(t)) for t in texts)))
        finally:
            await source.aclose()
    return asyncio.run(run())


def measure(type_name: str, settings: Mapping[str, Any], text: str = "success_rate") -> Fetched:
    """One fetch of a fresh source."""
    return fetch_all(build(type_name, settings), text)[0]


def value(fetched: Fetched) -> float | None:
    """The check value a fetch gives (None: no series, no data)."""
    if not fetched.series:
        return None
    return fetched.series[0].points[-1][1]


def as_json(fetched: Fetched) -> str:
    """Everything a fetch writes to results.json, as text (for secret checks)."""
    return json.dumps({"m": fetched.measurements, "e": fetched.evidence}, default=str)
