"""Reading an HTTP answer with a bound on the bytes received and the bytes inflated.

A source's answer is untrusted: a server (or anything between) may send a
body of gigabytes, or a small gzip body that inflates to gigabytes (a "gzip
bomb", sent even to a client that asked for `identity`). Every network
source reads bodies here: the raw bytes are counted as they arrive, and a
compressed body is inflated by our own decompressor, a bounded step at a
time, so that neither count can pass its limit by more than one step.

Settings, for a prometheus source and an http probe alike:
`max_response_bytes` (bytes on the wire; default 128 MiB for a prometheus
source, whose answer for a fleet's day is large, and 64 MiB for a probe) and
`max_inflated_bytes` (default 256 MiB, bytes after decompression).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from gacert.sources.settings import Settings

__all__ = ["DEFAULT_MAX_INFLATED_BYTES", "DEFAULT_MAX_RESPONSE_BYTES",
           "PROMETHEUS_MAX_RESPONSE_BYTES", "BodyTooLarge",
           "ResponseLimits", "iter_body", "read_body"]

MIB = 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * MIB
# A range query over a day of 2,000 pods at a one-minute step is about 95 MB on
# the wire; the Prometheus source decodes it into compact arrays (about 260 MB
# peak for that day, docs/performance.md), so a fleet fits under the default.
PROMETHEUS_MAX_RESPONSE_BYTES = 128 * MIB
DEFAULT_MAX_INFLATED_BYTES = 256 * MIB
# The schema's bounds: at least 1 KiB, at most 64 GiB.
MIN_LIMIT, MAX_LIMIT = 1024, 64 * 1024 * MIB
# Output of one inflate step: a bomb never gets more than this past the limit.
_STEP = 256 * 1024


class BodyTooLarge(Exception):
    """An answer went over a limit; the message says which, as the end of a sentence."""


@dataclass(frozen=True)
class ResponseLimits:
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES

    @classmethod
    def from_settings(cls, settings: Settings,
                      max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> ResponseLimits:
        """The limits a source's settings give, `max_response_bytes` the default."""
        return cls(
            settings.integer("max_response_bytes", max_response_bytes, MIN_LIMIT, MAX_LIMIT),
            settings.integer("max_inflated_bytes", DEFAULT_MAX_INFLATED_BYTES, MIN_LIMIT,
                             MAX_LIMIT))


def _size(count: int) -> str:
    return f"{count / MIB:,.0f} MiB" if count >= MIB else f"{count:,} bytes"


class _Inflater:
    """Inflates gzip (one member or several) or deflate (zlib or raw), a step at a time."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._may_be_raw = not self._gzip  # until the first bytes inflate
        self._new()

    def _new(self) -> None:
        self._engine = zlib.decompressobj(31 if self._gzip else 15)

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        while data:
            try:
                chunk = self._engine.decompress(data, _STEP)
            except zlib.error:
                if not self._may_be_raw:
                    raise
                # "deflate" is sent raw by some servers, without the zlib header.
                self._engine = zlib.decompressobj(-15)
                chunk = self._engine.decompress(data, _STEP)
            self._may_be_raw = False
            out.append(chunk)
            data = self._engine.unconsumed_tail
            if self._engine.eof:  # a gzip body may hold several members
                data = self._engine.unused_data + data
                if data and self._gzip:
                    self._new()
                else:
                    break
        return out


async def iter_body(response: httpx.Response, limits: ResponseLimits) -> AsyncIterator[bytes]:
    """The body of `response`, inflated, chunk by chunk; raises BodyTooLarge past a limit
    and ValueError for an encoding gacert does not read or a body that does not inflate."""
    encoding = _content_encoding(response)
    inflater = _Inflater(encoding) if encoding else None
    received = inflated = 0
    async for raw in response.aiter_raw():
        received += len(raw)
        if received > limits.max_response_bytes:
            raise BodyTooLarge(f"the answer is larger than max_response_bytes "
                               f"({_size(limits.max_response_bytes)})")
        try:
            chunks = inflater.feed(raw) if inflater else [raw]
        except zlib.error as exc:
            raise ValueError(f"the {encoding} body does not inflate ({exc})") from None
        for chunk in chunks:
            inflated += len(chunk)
            if inflated > limits.max_inflated_bytes:
                raise BodyTooLarge(f"the answer inflates to more than max_inflated_bytes "
                                   f"({_size(limits.max_inflated_bytes)}); received "
                                   f"{_size(received)} {encoding}")
            yield chunk


async def read_body(response: httpx.Response, limits: ResponseLimits) -> bytearray:
    """The whole body of `response`, inflated, within `limits` (see `iter_body`).

    The chunks are gathered as they come (nothing more is held while the limits
    are checked), then moved into one buffer, each chunk freed as it is moved:
    never the chunks and a joined copy of them together (a fleet's answer is
    about 90 MB)."""
    chunks = [chunk async for chunk in iter_body(response, limits)]
    chunks.reverse()
    body = bytearray()
    while chunks:
        body += chunks.pop()
    return body


def _content_encoding(response: httpx.Response) -> str:
    """"" for identity; "gzip" or "deflate"; ValueError for anything else."""
    encoding = str(response.headers.get("content-encoding", "")).strip().lower()
    if encoding in ("", "identity"):
        return ""
    if encoding in ("gzip", "x-gzip", "deflate"):
        return encoding
    raise ValueError(f"the answer is encoded as {encoding!r}, which gacert does not read "
                     "(it asks for identity or gzip)")
