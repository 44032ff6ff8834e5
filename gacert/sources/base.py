"""The contract every source adapter fulfils.

A source is built from its validated settings without doing any I/O, then
asked for data one query at a time by the fetch stage, concurrently. It
returns series, or raises `gacert.errors.SourceError` with a sentence a user
can act on; the fetch stage records that as the check's `error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

Mode = Literal["instant", "range"]


@dataclass(frozen=True)
class Query:
    """What one check asks of its source, fully rendered for the window."""

    check_id: str
    text: str  # the query after params and window variables were substituted
    mode: Mode
    start: datetime  # timezone-aware UTC
    end: datetime  # timezone-aware UTC; instant queries are evaluated here
    step_seconds: float  # resolution of range queries


@dataclass(frozen=True)
class Series:
    """One labelled time series: for an instant query, a single point."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix seconds, value); NaN and +-Inf kept


@dataclass(frozen=True)
class Fetched:
    """A source's answer to one query.

    Query sources (Prometheus) return series only. Probe sources (http,
    websocket, command, file) also return their `measurements`: named values
    (numbers, or mappings of numbers such as `latency.p99`) that rule
    expressions may read by name, and `evidence`: JSON-able raw data (samples,
    failures by cause) recorded in the results for auditors.
    """

    series: tuple[Series, ...]
    warnings: tuple[str, ...] = field(default=())
    measurements: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)


class Source(Protocol):
    """A data source adapter, registered by its `type_name`."""

    # The `type:` value that selects this adapter in a policy.
    type_name: ClassVar[str]

    # Where the data comes from, for results and reports; never holds credentials.
    @property
    def endpoint(self) -> str: ...

    # Return the series the query yields over the window, or raise SourceError.
    async def fetch(self, query: Query) -> Fetched: ...

    # Release connections; called once after the last fetch.
    async def aclose(self) -> None: ...


class SourceFactory(Protocol):
    """Builds a source from its id and settings (env already interpolated). No I/O."""

    def __call__(self, source_id: str, settings: Mapping[str, Any]) -> Source: ...
