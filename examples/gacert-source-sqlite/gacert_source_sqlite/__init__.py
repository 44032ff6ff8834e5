"""A third-party gacert source: SQL queries against an SQLite database.

    sources:
      incidents:
        type: sqlite
        database: ${INCIDENTS_DB:-incidents.db}
    checks:
      - id: critical_incidents
        source: incidents
        query: SELECT count(*) FROM incidents WHERE severity = 'critical'
        fail: value > 0

Each row of the answer is one series: its text columns are the labels, its
last numeric column the value. gacert finds this class through the entry
point `sqlite` of the group `gacert.sources` (see pyproject.toml) and builds
it with `from_settings`; the other methods are the source contract of
`gacert.sources.base.Source`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from gacert.sources import Fetched, Query, Series, SourceError

MAX_ROWS = 10_000


class SqliteSource:
    """Runs each check's query (SQL) on one SQLite database, read-only."""

    type_name: ClassVar[str] = "sqlite"
    # What `gacert validate` needs to know without running anything: every
    # check on this source must have a query, and rules use `value` only.
    query_kind: ClassVar[str] = "required"
    measurements: ClassVar[tuple[str, ...]] = ()

    def __init__(self, source_id: str, database: str, timeout: float) -> None:
        self._id = source_id
        self._database = database
        self._timeout = timeout

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> SqliteSource:
        """Check the settings and refuse bad ones with a sentence; no I/O here."""
        database = settings.get("database")
        if not isinstance(database, str) or not database:
            raise ValueError("a sqlite source needs database, the path of the database file")
        timeout = settings.get("timeout", 5)
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            raise ValueError(f"timeout must be a number of seconds, not {timeout!r}") from None
        unknown = set(settings) - {"type", "database", "timeout"}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(source_id, database, seconds)

    @property
    def endpoint(self) -> str:
        return f"sqlite: {self._database}"

    async def fetch(self, query: Query) -> Fetched:
        # sqlite3 blocks: run it in a thread so that other checks go on meanwhile.
        rows, columns = await asyncio.to_thread(self._run, query.text)
        return Fetched(series=tuple(_series(row, columns) for row in rows))

    async def aclose(self) -> None:
        """Nothing to release: each query opens and closes its own connection."""

    def _run(self, sql: str) -> tuple[list[tuple[Any, ...]], list[str]]:
        if not os.path.isfile(self._database):
            raise SourceError(f"sqlite source {self._id!r}: no database file "
                              f"{self._database!r}")
        uri = f"file:{quote(os.path.abspath(self._database))}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True, timeout=self._timeout) as connection:
                cursor = connection.execute(sql)
                columns = [d[0] for d in cursor.description or ()]
                return cursor.fetchmany(MAX_ROWS), columns
        except sqlite3.Error as exc:
            raise SourceError(f"sqlite source {self._id!r}: {exc}") from None


def _series(row: tuple[Any, ...], columns: list[str]) -> Series:
    numbers = [i for i, cell in enumerate(row)
               if isinstance(cell, int | float) and not isinstance(cell, bool)]
    value = float(row[numbers[-1]]) if numbers else float("nan")
    labels = {columns[i]: str(cell) for i, cell in enumerate(row) if isinstance(cell, str)}
    # SQL answers carry no time: the series is one point, at the time gacert reads it.
    return Series(labels=labels, points=((0.0, value),))
