"""The registry of source types: one literal dict of built-ins, plus an entry
point group for third-party adapters.

Types are looked up by name and imported only when a run needs them, so that
`gacert validate` can list and check types without importing httpx.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, cast

from gacert.sources.base import SourceFactory

ENTRY_POINT_GROUP = "gacert.sources"

# type name -> "module:attribute" of a class with `from_settings` (or a factory).
BUILTIN_SOURCES: dict[str, str] = {
    "prometheus": "gacert.sources.prometheus:PrometheusSource",
}


def _plugin_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_source_types() -> list[str]:
    """Every type a policy may name: built-ins first, then installed plugins."""
    plugins = sorted(set(_plugin_entry_points()) - BUILTIN_SOURCES.keys())
    return [*BUILTIN_SOURCES, *plugins]


def source_factory(type_name: str) -> SourceFactory:
    """The factory for `type_name`; raises KeyError for an unknown type."""
    if type_name in BUILTIN_SOURCES:
        module_name, _, attribute = BUILTIN_SOURCES[type_name].partition(":")
        target = getattr(importlib.import_module(module_name), attribute)
    else:
        target = _plugin_entry_points()[type_name].load()
    return cast(SourceFactory, getattr(target, "from_settings", target))
