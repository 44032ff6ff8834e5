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
import json
import math
import random
import re
import socket
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from gacert import __version__
from gacert.durations import format_duration, parse_duration
from gacert.errors import SourceError, exception_chain
from gacert.model import Fetched, Query, Series

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_CONCURRENCY = 8

# However many retries a policy asks for, one wait never exceeds this.
MAX_BACKOFF_SECONDS = 10.0
JITTER = 0.2  # +-20%, so that many checks failing together do not retry in lockstep
NOT_THE_API = "answered something that is not the Prometheus API"
# Prometheus error messages can quote a whole query; keep sentences readable.
MAX_DETAIL_CHARS = 500

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Everything up to the last `@` before the path: the userinfo of a url, with or without scheme.
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")


class PrometheusSource:
    """Runs PromQL queries against one Prometheus-compatible HTTP API."""

    type_name: ClassVar[str] = "prometheus"

    def __init__(
        self,
        source_id: str,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        concurrency: int = DEFAULT_CONCURRENCY,
        compression: bool = False,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        insecure_skip_verify: bool = False,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Check the settings and remember them; raise ValueError for impossible ones.

        Does no I/O: the HTTP client (and any TLS file) is loaded on the first fetch.
        `transport` replaces the network, for tests of code built on this source.
        """
        self._id = source_id
        self._endpoint, url_credentials = _split_url(url)
        _check_limits(timeout, retries, backoff, concurrency)
        # A token read from a file or a secret store often ends in a newline.
        token = bearer_token.strip() if bearer_token else None
        basic = _choose_basic_auth(token, basic_auth, url_credentials)
        self._headers = _request_headers(compression, headers, token, basic is not None)
        _check_tls(cert_file, key_file)
        self._basic = basic
        self._timeout = float(timeout)
        self._retries = retries
        self._backoff = float(backoff)
        self._concurrency = concurrency
        self._tls = (insecure_skip_verify, ca_file, cert_file, key_file)
        self._transport = transport
        self._query_url = _api_url(self._endpoint, "/api/v1/query")
        self._range_url = _api_url(self._endpoint, "/api/v1/query_range")
        self._http: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> PrometheusSource:
        """Build from a policy's validated, env-interpolated `sources.<id>` mapping."""
        auth = _section(settings, "auth")
        tls = _section(settings, "tls")
        basic = _section(auth, "basic")
        url = settings.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError("a prometheus source needs a url, e.g. http://localhost:9090")
        return cls(
            source_id,
            url,
            timeout=_seconds(settings, "timeout", DEFAULT_TIMEOUT),
            retries=_integer(settings, "retries", DEFAULT_RETRIES),
            backoff=_seconds(settings, "backoff", DEFAULT_BACKOFF),
            concurrency=_integer(settings, "concurrency", DEFAULT_CONCURRENCY),
            compression=_flag(settings, "compression"),
            headers=_string_map(settings, "headers"),
            bearer_token=_optional_text(auth, "bearer_token"),
            basic_auth=(
                (_optional_text(basic, "username") or "", _optional_text(basic, "password") or "")
                if basic
                else None
            ),
            insecure_skip_verify=_flag(tls, "insecure_skip_verify"),
            ca_file=_optional_text(tls, "ca_file"),
            cert_file=_optional_text(tls, "cert_file"),
            key_file=_optional_text(tls, "key_file"),
        )

    @property
    def source_id(self) -> str:
        return self._id

    @property
    def endpoint(self) -> str:
        """The url as configured, without any user:password."""
        return self._endpoint

    def __repr__(self) -> str:
        return f"PrometheusSource(id={self._id!r}, endpoint={self._endpoint!r})"

    async def fetch(self, query: Query) -> Fetched:
        """Run one instant or range query; raise SourceError when no usable answer comes."""
        url, form = self._request_for(query)
        body = await self._post_with_retries(url, form)
        try:
            return _parse_success(body)
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

    async def _post_with_retries(self, url: str, form: dict[str, str]) -> Any:
        attempts = self._retries + 1
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
        base = self._backoff * 2.0 ** (retry - 1)
        return min(MAX_BACKOFF_SECONDS, base * random.uniform(1 - JITTER, 1 + JITTER))

    async def _attempt(self, url: str, form: dict[str, str]) -> Any:
        client, gate = self._client()
        async with gate:
            try:
                # httpx's timeout bounds each read; this bounds the whole request.
                async with asyncio.timeout(self._timeout):
                    response = await client.post(url, data=form)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise _Transient(f"timed out (timeout {format_duration(self._timeout)})") from exc
            except httpx.TransportError as exc:
                raise self._transport_failure(exc) from exc
            except httpx.HTTPError as exc:  # e.g. a gzip body that does not decompress
                raise self._error(f"{NOT_THE_API} ({type(exc).__name__}: {exc})") from exc
        return self._read(response)

    def _client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        # Built on first use, inside the event loop that will use it.
        if self._http is None or self._gate is None:
            self._http = httpx.AsyncClient(
                auth=httpx.BasicAuth(*self._basic) if self._basic else None,
                headers=self._headers,
                timeout=self._timeout,
                verify=self._tls_context() if self._transport is None else True,
                follow_redirects=False,  # a redirected POST turns into a GET without its query
                limits=httpx.Limits(max_connections=self._concurrency),
                transport=self._transport,
            )
            self._gate = asyncio.Semaphore(self._concurrency)
        return self._http, self._gate

    def _tls_context(self) -> ssl.SSLContext:
        insecure, ca_file, cert_file, key_file = self._tls
        try:
            context = ssl.create_default_context(cafile=ca_file)
            if cert_file:
                context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(f for f in (ca_file, cert_file, key_file) if f)
            raise self._error(f"cannot load the TLS files ({files}): {exc}") from exc
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # -- answers --------------------------------------------------------------------

    def _read(self, response: httpx.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return _json_body(response)
            except _BadAnswer as exc:
                raise self._error(str(exc)) from None
        api_error = _api_error(response)
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

    def _error(self, detail: str) -> SourceError:
        return SourceError(f"prometheus source {self._id!r} at {self._endpoint}: {detail}")


class _Transient(Exception):
    """An attempt failed in a way the next attempt may not."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


class _BadAnswer(Exception):
    """A 2xx answer that carries no usable series; the message is the sentence's tail."""


# -- settings ---------------------------------------------------------------------------


def _split_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """Return the url without userinfo, and the user:password it held, if any."""
    redacted = _USERINFO.sub(lambda m: m.group("scheme") or "", url, count=1)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"url {redacted!r} is not a valid url") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {redacted!r} must start with http:// or https:// and name a host")
    if parts.fragment:
        raise ValueError(f"url {redacted!r} must not contain a #fragment")
    if parts.username is None:
        return redacted, None
    return redacted, (unquote(parts.username), unquote(parts.password or ""))


def _check_limits(timeout: float, retries: int, backoff: float, concurrency: int) -> None:
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number of 0 or more, not {retries!r}")
    if not (math.isfinite(backoff) and backoff >= 0):
        raise ValueError(f"backoff must be 0 or more seconds, not {backoff}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number of 1 or more, not {concurrency!r}")


def _choose_basic_auth(
    token: str | None,
    basic: tuple[str, str] | None,
    from_url: tuple[str, str] | None,
) -> tuple[str, str] | None:
    given = [name for name, value in (("bearer_token", token), ("basic", basic)) if value]
    if from_url:
        given.append("user:password in the url")
    if len(given) > 1:
        raise ValueError(f"give at most one kind of credentials, not {' and '.join(given)}")
    chosen = basic or from_url
    if chosen and ":" in chosen[0]:
        raise ValueError("a basic auth username cannot contain ':'")
    return chosen


def _request_headers(
    compression: bool,
    extra: Mapping[str, str] | None,
    token: str | None,
    has_basic: bool,
) -> httpx.Headers:
    headers = httpx.Headers(
        {
            "Accept": "application/json",
            # Prometheus compresses when asked; on loopback that costs more than it saves.
            "Accept-Encoding": "gzip" if compression else "identity",
            "User-Agent": f"gacert/{__version__}",
        }
    )
    for name, value in (extra or {}).items():
        _check_header(name, value)
        if name.lower() == "authorization" and (token or has_basic):
            raise ValueError("give the Authorization header or auth, not both")
        headers[name] = value
    if token:
        _check_header("Authorization", token)
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _check_header(name: str, value: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise ValueError(f"header name {name!r} is not a valid HTTP header name")
    # The value may be a secret: say what is wrong with it, never what it is.
    if not isinstance(value, str) or not value.isascii() or any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name} must be one line of ASCII text")


def _check_tls(cert_file: str | None, key_file: str | None) -> None:
    if key_file and not cert_file:
        raise ValueError("tls.key_file needs tls.cert_file, the client certificate it belongs to")


def _api_url(endpoint: str, api_path: str) -> str:
    """Join an API path below the url's own path, which may be a prefix such as /prometheus."""
    parts = urlsplit(endpoint)
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/") + api_path, parts.query, "")
    )


def _section(settings: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = settings.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a mapping")
    return value


def _seconds(settings: Mapping[str, Any], key: str, default: float) -> float:
    value = settings.get(key)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _integer(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key)
    if value is None:
        return default
    # An env-interpolated value arrives as text.
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be a whole number, not {value!r}")
    return value


def _flag(settings: Mapping[str, Any], key: str) -> bool:
    value = settings.get(key, False)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {value!r}")
    return value


def _optional_text(settings: Mapping[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None or value == "":  # `${TOKEN:-}` leaves an optional secret empty
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _string_map(settings: Mapping[str, Any], key: str) -> dict[str, str]:
    section = _section(settings, key)
    if not all(isinstance(v, str) for v in section.values()):
        raise ValueError(f"every value of {key} must be a string")
    return {str(k): v for k, v in section.items()}


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


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise _BadAnswer(f"{NOT_THE_API} (HTTP {response.status_code}, {kind}, not JSON)") from None


def _api_error(response: httpx.Response) -> str | None:
    """`errorType: error` from a Prometheus error body, or None for any other body."""
    try:
        body = json.loads(response.content)
    except ValueError:
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


def _parse_success(body: Any) -> Fetched:
    if not isinstance(body, dict):
        raise _BadAnswer(f"{NOT_THE_API} (the JSON is not an object)")
    if body.get("status") == "error":
        raise _BadAnswer(f"the query failed: {_clip(_error_text(body))}")
    data = body.get("data")
    if body.get("status") != "success" or not isinstance(data, dict):
        raise _BadAnswer(f"{NOT_THE_API} (no status 'success' with data)")
    return Fetched(series=_series(data), warnings=_notes(body))


def _error_text(body: dict[str, Any]) -> str:
    kind, text = body.get("errorType"), body.get("error")
    text = text if isinstance(text, str) else "no error message"
    return f"{kind}: {text}" if isinstance(kind, str) and kind else text


def _notes(body: dict[str, Any]) -> tuple[str, ...]:
    # Newer Prometheus versions also send `infos`, e.g. "metric might not be a counter".
    notes: list[str] = []
    for key in ("warnings", "infos"):
        items = body.get(key)
        if isinstance(items, list):
            notes.extend(item for item in items if isinstance(item, str))
    return tuple(notes)


def _series(data: dict[str, Any]) -> tuple[Series, ...]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return (Series(labels={}, points=(_point(result),)),)
    if kind == "string":
        raise _BadAnswer("string results are not numeric")
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise _BadAnswer(f"{NOT_THE_API} (resultType {kind!r})")
    if kind == "vector":
        return tuple(_vector_series(item) for item in result)
    return tuple(_matrix_series(item) for item in result)


def _vector_series(item: Any) -> Series:
    if not isinstance(item, dict):
        raise _BadAnswer(f"{NOT_THE_API} (a vector element is not an object)")
    if "value" not in item:
        _refuse_histograms(item)
    return Series(labels=_labels(item.get("metric")), points=(_point(item.get("value")),))


def _matrix_series(item: Any) -> Series:
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
    try:
        number = float(value) if isinstance(value, str) else None
    except ValueError:
        number = None
    if number is None:
        raise _BadAnswer(f"{NOT_THE_API} (a sample value is not a number in a string)")
    return float(timestamp), number
