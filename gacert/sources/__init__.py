"""Sources: the registry of source types (one literal dict of built-ins, plus an
entry point group for third-party adapters) and the public API for adapter
authors, listed in `__all__`: the `Source` protocol, the data it receives and
returns, the error it raises, and the helpers the built-in types read their
settings with (`Settings`, `count_or_duration`; for a network source `Endpoint`,
`Tls` and the header helpers; `redact_url` for any url shown). Everything else
in this package is internal.

Types are looked up by name and imported only when a run needs them, so that
`gacert validate` can list and check types without importing httpx.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, cast

from gacert.errors import SourceError
from gacert.model import Fetched, Query, Series
from gacert.redact import redact_url
from gacert.sources.base import Source, SourceFactory
from gacert.sources.endpoint import (
    Endpoint,
    Tls,
    check_header,
    check_url,
    header_names,
    request_headers,
)
from gacert.sources.settings import Settings, count_or_duration

__all__ = [
    "BUILTIN_SOURCES", "ENTRY_POINT_GROUP", "Endpoint", "Fetched", "Query", "Series",
    "Settings", "Source", "SourceError", "SourceFactory", "SourceType", "Tls", "check_header",
    "check_url", "count_or_duration", "header_names", "known_source_types", "redact_url",
    "request_headers", "source_factory", "source_type",
]

ENTRY_POINT_GROUP = "gacert.sources"

QueryKind = Literal["required", "optional", "none"]


@dataclass(frozen=True)
class SourceType:
    """What validation needs to know of a source type, without importing it."""

    # "module:attribute" of a class with `from_settings` (or a plain factory).
    target: str
    # Whether a check on this source must, may or must not have a `query`.
    query: QueryKind = "required"
    # Names (roots) a probe exposes to rule expressions, e.g. "success_rate", "latency".
    measurements: tuple[str, ...] = ()


BUILTIN_SOURCES: dict[str, SourceType] = {
    "prometheus": SourceType("gacert.sources.prometheus:PrometheusSource"),
    # A probe's measurements are documented in docs/policy.md, "Measurements".
    "http": SourceType("gacert.sources.http:HttpProbe", "required", (
        "success_rate", "requests", "status_codes", "status_classes", "failures", "latency",
        "bytes", "throughput")),
    "websocket": SourceType("gacert.sources.websocket:WebSocketProbe", "required", (
        "success_rate", "reconnects", "latency", "jitter", "downtime", "failures",
        "disconnects")),
    "command": SourceType("gacert.sources.command:CommandSource", "required",
                          ("exit_code", "duration", "json")),
    "file": SourceType("gacert.sources.file:FileSource", "required"),
}


def _plugin_entry_points() -> dict[str, Any]:
    # Imported here: reading installed metadata is only needed for plugin types.
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_source_types() -> list[str]:
    """Every type a policy may name: built-ins first, then installed plugins."""
    plugins = sorted(set(_plugin_entry_points()) - BUILTIN_SOURCES.keys())
    return [*BUILTIN_SOURCES, *plugins]


def _load(type_name: str) -> Any:
    if type_name in BUILTIN_SOURCES:
        module_name, _, attribute = BUILTIN_SOURCES[type_name].target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    return _plugin_entry_points()[type_name].load()


def source_type(type_name: str) -> SourceType:
    """Validation metadata of a type; a plugin declares it as class attributes
    `query_kind` and `measurements` (defaults: query required, no measurements)."""
    if type_name in BUILTIN_SOURCES:
        return BUILTIN_SOURCES[type_name]
    target = _load(type_name)
    return SourceType(target=type_name, query=getattr(target, "query_kind", "required"),
                      measurements=tuple(getattr(target, "measurements", ())))


def source_factory(type_name: str) -> SourceFactory:
    """The factory for `type_name`; raises KeyError for an unknown type."""
    target = _load(type_name)
    return cast(SourceFactory, getattr(target, "from_settings", target))
