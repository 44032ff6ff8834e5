"""The Prometheus source: PromQL over the HTTP API of Prometheus, Thanos, Mimir, Cortex...

One `PrometheusSource` per `sources:` entry of type `prometheus`. It posts
instant queries to `/api/v1/query` and range queries to `/api/v1/query_range`
(below any path prefix of the url), retries connection errors, timeouts and
5xx answers with jittered exponential backoff, never retries 4xx answers, and
keeps at most `concurrency` requests in flight. Every failure becomes a
`SourceError` whose sentence names the source and its url, never credentials.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from gacert import __version__
from gacert.durations import format_duration
from gacert.errors import SourceError, exception_chain
from gacert.model import Fetched, Query, Series
from gacert.sources.bodies import (
    PROMETHEUS_MAX_RESPONSE_BYTES,
    BodyTooLarge,
    ResponseLimits,
    read_body,
)
from gacert.sources.endpoint import Endpoint
from gacert.sources.settings import Settings

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_CONCURRENCY = 8
# The schema's bounds (schemas/policy.schema.json, prometheus_source).
MAX_RETRIES = 10
MAX_CONCURRENCY = 64

# However many retries a policy asks for, one wait never exceeds this.
MAX_BACKOFF_SECONDS = 10.0
JITTER = 0.2  # +-20%, so that many checks failing together do not retry in lockstep
NOT_THE_API = "answered something that is not the Prometheus API"
# Prometheus error messages can quote a whole query; keep sentences readable.
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class PrometheusConfig:
    """The checked settings of one prometheus source."""

    target: Endpoint  # url, headers with credentials, TLS; `shown` is the redacted url
    timeout: float
    retries: int
    backoff: float
    concurrency: int
    compression: bool
    limits: ResponseLimits  # bytes received and inflated per answer


class PrometheusSource:
    """Runs PromQL queries against one Prometheus-compatible HTTP API."""

    type_name: ClassVar[str] = "prometheus"

    def __init__(self, source_id: str, config: PrometheusConfig) -> None:
        """Remember the checked settings. Does no I/O: the HTTP client (and any TLS
        file) is loaded on the first fetch."""
        self._id = source_id
        self._config = config
        self._query_url = _api_url(config.target.url, "/api/v1/query")
        self._range_url = _api_url(config.target.url, "/api/v1/query_range")
        self._http: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> PrometheusSource:
        """Build from a policy's validated, env-interpolated `sources.<id>` mapping."""
        return cls(source_id, read_config(Settings(settings)))

    @property
    def source_id(self) -> str:
        return self._id

    @property
    def endpoint(self) -> str:
        """The url as configured, without user:password and secret query values."""
        return self._config.target.shown

    def __repr__(self) -> str:
        return f"PrometheusSource(id={self._id!r}, endpoint={self.endpoint!r})"

    async def fetch(self, query: Query) -> Fetched:
        """Run one instant or range query; raise SourceError when no usable answer comes."""
        url, form = self._request_for(query)
        response, body = await self._post_with_retries(url, form)
        try:
            return parse_answer(body)
        except _NotJson:
            kind = response.headers.get("content-type", "no content type")
            raise self._error(f"{NOT_THE_API} (HTTP {response.status_code}, {kind}, not JSON)"
                              ) from None
        except _BadAnswer as exc:
            raise self._error(str(exc)) from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = None
        self._gate = None

    # -- requests -------------------------------------------------------------------

    def _request_for(self, query: Query) -> tuple[str, dict[str, str]]:
        if query.mode == "range":
            form = {
                "query": query.text,
                "start": _unix(query.start),
                "end": _unix(query.end),
                "step": _number(query.step_seconds),
            }
            return self._range_url, form
        return self._query_url, {"query": query.text, "time": _unix(query.end)}

    async def _post_with_retries(self, url: str, form: dict[str, str]
                                 ) -> tuple[httpx.Response, bytes | bytearray]:
        attempts = self._config.retries + 1
        last: _Transient | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._delay_before(attempt))
            try:
                return await self._attempt(url, form)
            except _Transient as exc:
                last = exc
        assert last is not None  # the loop runs at least once and returns or records
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        detail = f": {last.detail}" if last.detail else ""
        raise self._error(f"{last.summary} after {tries}{detail}") from last

    def _delay_before(self, retry: int) -> float:
        """Wait before retry number `retry` (1-based): backoff doubling, jittered, capped."""
        base = self._config.backoff * 2.0 ** (retry - 1)
        return min(MAX_BACKOFF_SECONDS, base * random.uniform(1 - JITTER, 1 + JITTER))

    async def _attempt(self, url: str, form: dict[str, str]
                       ) -> tuple[httpx.Response, bytes | bytearray]:
        client, gate = self._client()
        timeout = self._config.timeout
        async with gate:
            try:
                # httpx's timeout bounds each read; this bounds the whole request.
                async with asyncio.timeout(timeout), \
                        client.stream("POST", url, data=form) as response:
                    body = await read_body(response, self._config.limits)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise _Transient(f"timed out (timeout {format_duration(timeout)})") from exc
            except BodyTooLarge as exc:  # the same answer would come again: no retry
                raise self._error(str(exc)) from None
            except ValueError as exc:  # an encoding not asked for, a body that does not inflate
                raise self._error(f"{NOT_THE_API} ({exc})") from None
            except httpx.TransportError as exc:
                raise self._transport_failure(exc) from exc
            except httpx.HTTPError as exc:  # e.g. a gzip body that does not decompress
                raise self._error(f"{NOT_THE_API} ({type(exc).__name__}: {exc})") from exc
        return response, self._read(response, body)

    def _client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        # Built on first use, inside the event loop that will use it.
        if self._http is None or self._gate is None:
            config = self._config
            tls = config.target.tls.context_for(config.target.url, self._label)
            self._http = httpx.AsyncClient(
                headers=_request_headers(config),
                timeout=config.timeout,
                # Plain http uses no TLS: False spares loading the CA bundle (~50 ms of
                # CPU) that httpx would otherwise do for every client.
                verify=tls if tls is not None else False,
                follow_redirects=False,  # a redirected POST turns into a GET without its query
                limits=httpx.Limits(max_connections=config.concurrency),
            )
            self._gate = asyncio.Semaphore(config.concurrency)
        return self._http, self._gate

    # -- answers --------------------------------------------------------------------

    def _read(self, response: httpx.Response, body: bytes | bytearray) -> bytes | bytearray:
        """The body of a 2xx answer; any other answer raised as an error or a retry."""
        status = response.status_code
        if 200 <= status < 300:
            return body
        api_error = _api_error(body)
        summary = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status >= 500:
            raise _Transient(summary, api_error or "")
        if 300 <= status < 400:
            raise self._error(f"answered {summary} (a redirect); set url to the final address")
        if api_error:
            raise self._error(f"rejected the query with HTTP {status}: {api_error}")
        raise self._error(f"answered {summary}; {_hint_for(status)}")

    def _transport_failure(self, exc: httpx.TransportError) -> _Transient | SourceError:
        for cause in exception_chain(exc):
            if isinstance(cause, ConnectionRefusedError):
                return _Transient("connection refused")
            if isinstance(cause, socket.gaierror):
                return _Transient("cannot resolve the host name", str(cause))
            # A certificate that fails now fails on every retry: report it at once.
            if isinstance(cause, ssl.SSLCertVerificationError):
                return self._error(f"TLS certificate verification failed: {cause.verify_message}")
            if isinstance(cause, ssl.SSLError):
                return self._error(f"TLS handshake failed: {cause.reason or cause}")
        if isinstance(exc, httpx.ConnectError):
            return _Transient("cannot connect", str(exc))
        return _Transient("the connection failed", f"{type(exc).__name__}: {exc}".rstrip(": "))

    @property
    def _label(self) -> str:
        return f"prometheus source {self._id!r} at {self.endpoint}"

    def _error(self, detail: str) -> SourceError:
        return SourceError(f"{self._label}: {detail}")


class _Transient(Exception):
    """An attempt failed in a way the next attempt may not."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


class _BadAnswer(ValueError):
    """A 2xx answer that carries no usable series; the message is the sentence's tail."""


class _NotJson(_BadAnswer):
    """A 2xx answer that is not JSON at all."""


# -- settings ---------------------------------------------------------------------------


def read_config(settings: Settings) -> PrometheusConfig:
    """Check and read the settings of a prometheus source; no I/O."""
    return PrometheusConfig(
        target=Endpoint.from_settings(settings, ("http", "https"), "http://localhost:9090"),
        timeout=settings.seconds("timeout", DEFAULT_TIMEOUT),
        retries=settings.integer("retries", DEFAULT_RETRIES, 0, MAX_RETRIES),
        backoff=settings.seconds("backoff", DEFAULT_BACKOFF),
        concurrency=settings.integer("concurrency", DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY),
        compression=settings.flag("compression"),
        limits=ResponseLimits.from_settings(settings, PROMETHEUS_MAX_RESPONSE_BYTES),
    )


def _request_headers(config: PrometheusConfig) -> httpx.Headers:
    headers = httpx.Headers({
        "Accept": "application/json",
        # Prometheus compresses when asked; on loopback that costs more than it saves.
        "Accept-Encoding": "gzip" if config.compression else "identity",
        "User-Agent": f"gacert/{__version__}",
    })
    headers.update(config.target.headers)  # a policy's header replaces ours, whatever its case
    return headers


def _api_url(endpoint: str, api_path: str) -> str:
    """Join an API path below the url's own path, which may be a prefix such as /prometheus."""
    parts = urlsplit(endpoint)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/") + api_path, parts.query, "")
    )


# -- request values ---------------------------------------------------------------------


def _unix(moment: datetime) -> str:
    # Queries carry aware UTC datetimes; a naive one is taken as UTC, never as local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _number(moment.timestamp())


def _number(value: float) -> str:
    """Seconds as Prometheus reads them, to the millisecond it stores."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


# -- answers ----------------------------------------------------------------------------
#
# An answer is parsed once, with msgspec: the envelope into raw slices of the
# body, then each series on its own straight into two arrays of float64, so that
# the Python objects of one series live only while it is converted and the body
# is never held twice (json.loads of a 90 MB matrix builds about 1 GB of lists
# and strings). What a typed decode refuses is decoded again loosely and
# checked by the plain validators below, which name the fault.


class _Sample(msgspec.Struct):
    """A vector element as Prometheus sends it."""

    metric: dict[str, str] | None = None
    value: tuple[float, str] | None = None


class _Matrix(msgspec.Struct):
    """A matrix element as Prometheus sends it."""

    metric: dict[str, str] | None = None
    values: list[tuple[float, str]] | None = None
    histograms: Any = None


class _Numbers(msgspec.Struct):
    """A matrix element whose sample values msgspec reads as numbers itself (its lax
    mode parses "1.5", "NaN", "-Inf" in C, several times faster than float() of
    each string); a value it does not read ("+Inf") sends the series to `_Matrix`."""

    metric: dict[str, str] | None = None
    values: list[tuple[float, float]] | None = None
    histograms: Any = None


_ENVELOPE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_VECTOR = msgspec.json.Decoder(list[_Sample])
_MATRIX_SERIES = msgspec.json.Decoder(_Matrix)
_MATRIX_NUMBERS = msgspec.json.Decoder(_Numbers, strict=False)
_ANY = msgspec.json.Decoder()


def _api_error(content: bytes | bytearray) -> str | None:
    """`errorType: error` from a Prometheus error body, or None for any other body."""
    try:
        body = _ANY.decode(content)
    except msgspec.DecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    kind = body.get("errorType")
    text = f"{kind}: {body['error']}" if isinstance(kind, str) and kind else body["error"]
    return _clip(text)


def _hint_for(status: int) -> str:
    if status in (401, 403):
        return "check the source's auth settings"
    if status == 404:
        return "check that the url is the Prometheus server, with any path prefix"
    return "the request was refused"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def parse_answer(body: bytes | bytearray) -> Fetched:
    """The series and notes of a 2xx answer of the query API (JSON bytes).

    Raises ValueError, whose message ends a sentence about the source, when the
    answer is not a successful Prometheus answer with numeric series. Takes
    bytes or a bytearray, as a reader of the body fills it.
    """
    try:
        envelope = _ENVELOPE.decode(body)
    except msgspec.ValidationError:  # JSON, but not an object
        raise _BadAnswer(f"{NOT_THE_API} (the JSON is not an object)") from None
    except msgspec.DecodeError:
        raise _NotJson(f"{NOT_THE_API} (not JSON)") from None
    return _parse_success(envelope)


def _parse_success(envelope: dict[str, msgspec.Raw]) -> Fetched:
    status = _decoded(envelope, "status")
    if status == "error":
        raise _BadAnswer(f"the query failed: {_clip(_error_text(envelope))}")
    data = _object(envelope.get("data"))
    if status != "success" or data is None:
        raise _BadAnswer(f"{NOT_THE_API} (no status 'success' with data)")
    return Fetched(series=_series(data), warnings=_notes(envelope))


def _decoded(envelope: dict[str, msgspec.Raw], key: str) -> Any:
    raw = envelope.get(key)
    return None if raw is None else _ANY.decode(raw)


def _object(raw: msgspec.Raw | None) -> dict[str, msgspec.Raw] | None:
    if raw is None:
        return None
    try:
        return _ENVELOPE.decode(raw)
    except msgspec.ValidationError:
        return None


def _error_text(envelope: dict[str, msgspec.Raw]) -> str:
    kind, text = _decoded(envelope, "errorType"), _decoded(envelope, "error")
    text = text if isinstance(text, str) else "no error message"
    return f"{kind}: {text}" if isinstance(kind, str) and kind else text


def _notes(envelope: dict[str, msgspec.Raw]) -> tuple[str, ...]:
    # Newer Prometheus versions also send `infos`, e.g. "metric might not be a counter".
    notes: list[str] = []
    for key in ("warnings", "infos"):
        items = _decoded(envelope, key)
        if isinstance(items, list):
            notes.extend(item for item in items if isinstance(item, str))
    return tuple(notes)


def _series(data: dict[str, msgspec.Raw]) -> tuple[Series, ...]:
    kind = _decoded(data, "resultType")
    result = data.get("result")
    if kind == "scalar":
        return (Series(labels={}, points=(_point(_decoded(data, "result")),)),)
    if kind == "string":
        raise _BadAnswer("string results are not numeric")
    if kind not in ("vector", "matrix") or result is None:
        raise _BadAnswer(f"{NOT_THE_API} (resultType {kind!r})")
    try:
        items = _RAW_LIST.decode(result)
    except msgspec.ValidationError:
        raise _BadAnswer(f"{NOT_THE_API} (resultType {kind!r})") from None
    if kind == "vector":
        return _vector(result, items)
    return tuple(_matrix_series(item) for item in items)


def _vector(result: msgspec.Raw, items: list[msgspec.Raw]) -> tuple[Series, ...]:
    try:
        samples = _VECTOR.decode(result)
    except msgspec.ValidationError:
        return tuple(_vector_series(_ANY.decode(item)) for item in items)
    if any(sample.value is None for sample in samples):
        return tuple(_vector_series(_ANY.decode(item)) for item in items)
    return tuple(_sample_series(sample) for sample in samples)


def _sample_series(sample: _Sample) -> Series:
    assert sample.value is not None
    timestamp, text = sample.value
    return Series(labels=sample.metric or {}, times=array("d", (timestamp,)),
                  values=array("d", (_value(text),)))


def _matrix_series(item: msgspec.Raw) -> Series:
    try:
        numbers = _MATRIX_NUMBERS.decode(item)
    except msgspec.ValidationError:
        return _matrix_text_series(item)
    if numbers.histograms or numbers.values is None:
        return _loose_matrix_series(_ANY.decode(item))
    flat = array("d", chain.from_iterable(numbers.values))
    return Series(labels=numbers.metric or {}, times=flat[0::2], values=flat[1::2])


def _matrix_text_series(item: msgspec.Raw) -> Series:
    try:
        matrix = _MATRIX_SERIES.decode(item)
    except msgspec.ValidationError:
        return _loose_matrix_series(_ANY.decode(item))
    if matrix.histograms or matrix.values is None:
        return _loose_matrix_series(_ANY.decode(item))
    if not matrix.values:
        return Series(labels=matrix.metric or {})
    times, texts = zip(*matrix.values, strict=True)
    try:
        values = array("d", map(float, texts))
    except ValueError:
        raise _BadAnswer(f"{NOT_THE_API} (a sample value is not a number in a string)") from None
    return Series(labels=matrix.metric or {}, times=array("d", times), values=values)


def _value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _BadAnswer(f"{NOT_THE_API} (a sample value is not a number in a string)") from None


# The loose path: plain JSON values, checked one by one to name what is wrong.


def _vector_series(item: Any) -> Series:
    if not isinstance(item, dict):
        raise _BadAnswer(f"{NOT_THE_API} (a vector element is not an object)")
    if "value" not in item:
        _refuse_histograms(item)
    return Series(labels=_labels(item.get("metric")), points=(_point(item.get("value")),))


def _loose_matrix_series(item: Any) -> Series:
    if not isinstance(item, dict):
        raise _BadAnswer(f"{NOT_THE_API} (a matrix element is not an object)")
    if item.get("histograms"):
        _refuse_histograms(item)
    values = item.get("values")
    if not isinstance(values, list):
        raise _BadAnswer(f"{NOT_THE_API} (a matrix element has no values)")
    return Series(labels=_labels(item.get("metric")), points=tuple(_point(v) for v in values))


def _refuse_histograms(item: dict[str, Any]) -> None:
    if "histogram" in item or "histograms" in item:
        raise _BadAnswer(
            "native histogram results are not numeric; "
            "wrap the query in histogram_quantile, histogram_count or histogram_sum"
        )
    raise _BadAnswer(f"{NOT_THE_API} (a vector element has no value)")


def _labels(raw: Any) -> dict[str, str]:
    # Prometheus always sends `metric`; some compatible servers omit it when empty.
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise _BadAnswer(f"{NOT_THE_API} (labels are not a map of strings)")
    return dict(raw)


def _point(raw: Any) -> tuple[float, float]:
    """A `[unix seconds, "value"]` sample; the value is text so that NaN and +-Inf survive JSON."""
    if not isinstance(raw, list) or len(raw) != 2:
        raise _BadAnswer(f"{NOT_THE_API} (a sample is not a [time, value] pair)")
    timestamp, value = raw
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise _BadAnswer(f"{NOT_THE_API} (a sample time is not a number)")
    if not isinstance(value, str):
        raise _BadAnswer(f"{NOT_THE_API} (a sample value is not a number in a string)")
    return float(timestamp), _value(value)
