"""The `file` source: values taken by path out of JSON or YAML evidence made elsewhere.

A k6 summary export, a pytest JSON report, a load-test result: the check's
`query` is a path into the document (`metrics.http_req_duration.p(95)`,
`summary.failed`). The file is read once per run, so that every check sees
the same content; its SHA-256, size and modification time are recorded as
evidence. `max_age` refuses evidence older than a run should accept.

The file may be anything a policy points at, so errors name the file, the
path and what was expected there, never the keys or values found: a policy
aimed at /etc/shadow must not carry its user list into a report. Only a
regular file is read (a FIFO would hang the run), at most 64 MiB of it, and
a YAML document may not expand through aliases beyond MAX_NODES values.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import yaml

from gacert.errors import SourceError
from gacert.fsutil import open_regular
from gacert.model import Fetched, Query, Series
from gacert.sources.probe import OncePerRun, now, number_at, timestamp
from gacert.sources.settings import Settings

FORMATS = ("auto", "json", "yaml")
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000  # values of a YAML document after alias expansion
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class FileConfig:
    path: str
    format: str
    max_age: float | None


@dataclass(frozen=True)
class _Read:
    document: Any
    evidence: Mapping[str, Any]
    modified: datetime


class FileSource(OncePerRun[FileConfig, _Read]):
    """One JSON or YAML document; see the module docstring."""

    type_name: ClassVar[str] = "file"

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> FileSource:
        return cls(source_id, read_config(Settings(settings)))

    @property
    def endpoint(self) -> str:
        return f"file: {self._config.path}"

    async def fetch(self, query: Query) -> Fetched:
        read = await self._once.get()
        value = number_at(self._label, read.document, query.text, reveal=False)
        series = () if value is None else (
            Series(labels={}, points=((read.modified.timestamp(), value),)),)
        return Fetched(series=series, evidence={**read.evidence, "path_read": query.text.strip(),
                                                "value": value})

    @property
    def _label(self) -> str:
        return f"file source {self._id!r} ({self._config.path})"

    async def _work(self) -> _Read:
        # Reading a large report can take a moment: keep the event loop free.
        return await asyncio.to_thread(self._read_now)

    def _read_now(self) -> _Read:
        config = self._config
        try:
            with open_regular(config.path) as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
                modified = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC)
        except OSError as exc:
            raise SourceError(f"{self._label}: cannot read: {exc.strerror or exc}") from None
        if len(raw) > MAX_FILE_BYTES:
            raise SourceError(f"{self._label}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        self._check_age(modified)
        document = self._parse(raw)
        evidence = {"path": os.path.abspath(config.path), "format": self._format(),
                    "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
                    "modified": timestamp(modified), "read_at": timestamp(now())}
        return _Read(document, evidence, modified)

    def _check_age(self, modified: datetime) -> None:
        if self._config.max_age is None:
            return
        age = (now() - modified).total_seconds()
        if age > self._config.max_age:
            raise SourceError(f"{self._label}: modified {timestamp(modified)}, {age:,.0f} s "
                              f"ago; max_age allows {self._config.max_age:,.0f} s")

    def _format(self) -> str:
        if self._config.format != "auto":
            return self._config.format
        return "yaml" if self._config.path.lower().endswith((".yaml", ".yml")) else "json"

    def _parse(self, raw: bytes) -> Any:
        kind = self._format()
        try:
            if kind == "json":
                return json.loads(raw)
            return _bounded_yaml(raw)
        except json.JSONDecodeError as exc:  # its message quotes no content
            where = f"line {exc.lineno}, column {exc.colno}"
            raise SourceError(f"{self._label}: not valid JSON at {where}: {exc.msg}") from None
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self._label}: not UTF-8 text (at byte {exc.start})") from None
        except yaml.MarkedYAMLError as exc:  # the message names the place, not the text
            mark = exc.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise SourceError(f"{self._label}: not valid YAML{where}: "
                              f"{exc.problem or 'a syntax error'}") from None
        except RecursionError:
            raise SourceError(f"{self._label}: nested too deep to read") from None
        except (ValueError, yaml.YAMLError) as exc:  # our own messages quote no content
            detail = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            raise SourceError(f"{self._label}: not valid {kind.upper()} ({detail})") from None


def _bounded_yaml(raw: bytes) -> Any:
    """`yaml.safe_load`, refusing a document whose aliases would expand it past
    MAX_NODES values (a "billion laughs" file)."""
    loader = _FAST_LOADER(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, {}, set()) > MAX_NODES:
            raise ValueError(f"the document expands through aliases to more than "
                             f"{MAX_NODES:,} values")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_nodes(node: yaml.Node, counted: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` becomes once every alias is expanded (a node reached
    twice is counted twice, computed once)."""
    if id(node) in counted:
        return counted[id(node)]
    if id(node) in open_nodes:  # a recursive alias: refused, it never ends
        return MAX_NODES + 1
    open_nodes.add(id(node))
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_nodes(item, counted, open_nodes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_nodes(key, counted, open_nodes)
                     + _expanded_nodes(value, counted, open_nodes) for key, value in node.value)
    open_nodes.discard(id(node))
    counted[id(node)] = min(total, MAX_NODES + 1)
    return counted[id(node)]


def read_config(settings: Settings) -> FileConfig:
    """Check and read the settings of a file source; no I/O."""
    path = os.path.expanduser(settings.required_text("path", "reports/k6-summary.json"))
    return FileConfig(path=path, format=settings.choice("format", FORMATS, "auto"),
                      max_age=settings.optional_seconds("max_age"))
