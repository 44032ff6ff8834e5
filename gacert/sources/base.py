"""The contract every source adapter fulfils.

A source is built from its validated settings without doing any I/O, then
asked for data one query at a time by the fetch stage, concurrently. It
returns series, or raises `gacert.errors.SourceError` with a sentence a user
can act on; the fetch stage records that as the check's `error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

# The data a source receives and returns lives with the other types that cross
# stages; it is re-exported here because it is half of the adapter contract.
from gacert.model import Fetched, Mode, Query, Series

__all__ = ["Fetched", "Mode", "Query", "Series", "Source", "SourceFactory"]

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
