"""The `http` probe: make N requests (or requests for a while) and measure what a user sees.

Each request is timed from sending to the last byte of the body. A request
succeeds when its status is expected (any 2xx unless `expect.status` says
otherwise) and the body assertions hold (`expect.body_contains`,
`expect.json`). Failures are data, counted by cause, never exceptions: a
dashboard that refuses connections gets a success rate of 0 %, which its
checks judge. The probe runs once per run, whatever the number of checks
that read it (see `gacert.sources.probe`).

Measurements (times in ms): success_rate, requests.{total,succeeded,failed},
status_codes.<code>, status_classes.<1xx..5xx>, failures.<cause> (too_large: an
answer over `max_response_bytes` or `max_inflated_bytes`, see gacert.sources.bodies),
latency.{min,avg,p50,p95,p99,max}, bytes.{total,avg}, throughput (requests/s).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from gacert import __version__
from gacert.errors import exception_chain
from gacert.sources.bodies import BodyTooLarge, ResponseLimits, iter_body
from gacert.sources.endpoint import Endpoint, Tls, header_names
from gacert.sources.paths import Path, PathError, format_path, parse_path, resolve
from gacert.sources.probe import (
    Measured,
    NetworkProbe,
    bounded,
    count_by,
    ms,
    now,
    rate,
    timestamp,
)
from gacert.sources.settings import Settings, count_or_duration
from gacert.sources.tally import Samples, Tally

MAX_REQUESTS = 100_000
# Bodies are counted whole but kept only this far for the assertions.
MAX_KEPT_BODY = 1024 * 1024
MAX_DISTINCT_ERRORS = 20
FAILURE_CAUSES = ("status", "assertion", "timeout", "refused", "dns", "tls", "connect",
                  "disconnected", "protocol", "redirects", "too_large", "error")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class Expect:
    """What makes one answer a success."""

    statuses: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    body_contains: str | None = None
    json: tuple[tuple[Path, Any], ...] = ()

    def describe(self) -> dict[str, Any]:
        return {"status": [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.statuses],
                "body_contains": self.body_contains,
                "json": {format_path(path): value for path, value in self.json}}


@dataclass(frozen=True)
class HttpConfig:
    url: str = field(repr=False)  # as sent: may hold a token in the query string
    endpoint: str  # redacted, for people
    method: str
    headers: Mapping[str, str] = field(repr=False)  # may hold credentials
    body: bytes | None
    requests: int | None
    duration: float | None
    concurrency: int
    interval: float
    timeout: float
    follow_redirects: bool
    keep_alive: bool
    tls: Tls
    expect: Expect
    limits: ResponseLimits = field(default_factory=ResponseLimits)  # bytes per answer


@dataclass(frozen=True)
class _Sample:
    at: float  # seconds since the probe started
    status: int | None
    latency: float | None  # seconds, for answers read to the end
    size: int
    cause: str | None  # None: success
    detail: str = ""


class HttpProbe(NetworkProbe[HttpConfig]):
    """Requests to one URL, measured; see the module docstring."""

    type_name: ClassVar[str] = "http"

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> HttpProbe:
        return cls(source_id, read_config(Settings(settings)))

    async def _measure(self) -> Measured:
        config = self._config
        started_at, clock = now(), time.perf_counter()
        async with self._client() as client:
            samples = await _run_workers(client, config, clock)
        elapsed = time.perf_counter() - clock
        counted = tally(samples, elapsed)
        return Measured(measurements=judge(counted),
                        evidence=_evidence(config, samples, started_at, elapsed), at=now(),
                        tally=counted)

    @staticmethod
    def judge(counted: Tally) -> dict[str, Any]:
        return judge(counted)

    @staticmethod
    def cycle_summary(measurements: Mapping[str, Any]) -> dict[str, Any]:
        latency = measurements["latency"]
        return {"requests": measurements["requests"]["total"],
                "failed": measurements["requests"]["failed"],
                "success_rate": measurements["success_rate"],
                **{f"latency_{k}": latency[k] for k in ("p50", "p95", "p99", "max")}}

    def _client(self) -> httpx.AsyncClient:
        config = self._config
        verify: ssl.SSLContext | bool = config.tls.context_for(config.url, self._label) or True
        keepalive = config.concurrency if config.keep_alive else 0
        return httpx.AsyncClient(
            # Only the encodings gacert inflates itself, within its limits.
            headers={"User-Agent": f"gacert/{__version__}", "Accept-Encoding": "gzip, deflate",
                     **config.headers},
            timeout=config.timeout, verify=verify, follow_redirects=config.follow_redirects,
            limits=httpx.Limits(max_connections=config.concurrency,
                                max_keepalive_connections=keepalive))


# -- settings ---------------------------------------------------------------------------


def read_config(settings: Settings) -> HttpConfig:
    """Check and read the settings of an http source; no I/O."""
    target = Endpoint.from_settings(settings, ("http", "https"),
                                    "https://grafana.example.com/d/tars")
    requests, duration = count_or_duration(settings, "requests", 10, MAX_REQUESTS)
    method = settings.choice("method", METHODS, "GET")
    return HttpConfig(
        url=target.url, endpoint=target.shown, method=method,
        headers=target.headers, body=_body(settings),
        requests=requests, duration=duration,
        concurrency=settings.integer("concurrency", 1, 1, 256),
        interval=settings.seconds("interval", 0.0),
        timeout=settings.seconds("timeout", 10.0),
        follow_redirects=settings.flag("follow_redirects", True),
        keep_alive=settings.flag("keep_alive", True),
        tls=target.tls,
        expect=_expect(settings.section("expect")),
        limits=ResponseLimits.from_settings(settings),
    )


def _body(settings: Settings) -> bytes | None:
    text, document = settings.text("body"), settings.raw("json")
    if text is not None and document is not None:
        raise ValueError("give body or json, not both")
    if document is not None:
        return json.dumps(document).encode()
    return text.encode() if text is not None else None


def _expect(expect: Settings) -> Expect:
    raw_status = expect.raw("status")
    statuses = Expect.statuses if raw_status is None else _status_ranges(raw_status)
    document = expect.raw("json") or {}
    if not isinstance(document, Mapping):
        raise ValueError("expect.json must map paths to the values expected there, "
                         "e.g. {status: ok}")
    try:
        paths = tuple((parse_path(str(path)), value) for path, value in document.items())
    except PathError as exc:
        raise ValueError(f"expect.json: {exc}") from None
    return Expect(statuses=statuses, body_contains=expect.text("body_contains"), json=paths)


def _status_ranges(raw: Any) -> tuple[tuple[int, int], ...]:
    """`200`, `"2xx"` or a list of them: inclusive ranges of accepted statuses."""
    items = raw if isinstance(raw, list) else [raw]
    ranges = []
    for item in items:
        text = str(item).strip().lower()
        if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
            base = int(text[0]) * 100
            ranges.append((base, base + 99))
        elif text.isdigit() and 100 <= int(text) <= 599 and not isinstance(item, bool):
            ranges.append((int(text), int(text)))
        else:
            raise ValueError(f"expect.status: {item!r} is not a status such as 200 or 2xx")
    if not ranges:
        raise ValueError("expect.status must name at least one status")
    return tuple(ranges)


# -- requests ---------------------------------------------------------------------------


async def _run_workers(client: httpx.AsyncClient, config: HttpConfig,
                       clock: float) -> list[_Sample]:
    """`concurrency` workers share one request counter (or one deadline)."""
    tickets = itertools.count()
    deadline = clock + config.duration if config.duration is not None else None
    limit = config.requests if config.requests is not None else MAX_REQUESTS
    samples: list[_Sample] = []

    async def worker() -> None:
        while next(tickets) < limit:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            samples.append(await _request(client, config, clock))
            if config.interval:
                await asyncio.sleep(config.interval)

    await asyncio.gather(*(worker() for _ in range(config.concurrency)))
    return sorted(samples, key=lambda s: s.at)


async def _request(client: httpx.AsyncClient, config: HttpConfig, clock: float) -> _Sample:
    began = time.perf_counter()
    at = began - clock
    try:
        # httpx's timeout bounds each read; this bounds the whole request and its body.
        async with asyncio.timeout(config.timeout):
            status, size, kept = await _exchange(client, config)
    except (TimeoutError, httpx.TimeoutException):
        return _Sample(at, None, None, 0, "timeout", f"no full answer within {config.timeout} s")
    except httpx.HTTPError as exc:
        return _Sample(at, None, None, 0, *classify(exc))
    except BodyTooLarge as exc:
        return _Sample(at, None, None, 0, "too_large", str(exc))
    except ValueError as exc:  # an encoding not asked for, a body that does not inflate
        return _Sample(at, None, None, 0, "protocol", str(exc))
    latency = time.perf_counter() - began
    return _Sample(at, status, latency, size, *_judge(config.expect, status, kept))


async def _exchange(client: httpx.AsyncClient, config: HttpConfig) -> tuple[int, int, bytes]:
    """Send the request and read the whole body, within the limits: (status, body bytes
    inflated, the kept start)."""
    size, kept = 0, bytearray()
    async with client.stream(config.method, config.url, content=config.body) as response:
        async for chunk in iter_body(response, config.limits):
            size += len(chunk)
            if len(kept) < MAX_KEPT_BODY:
                kept += chunk[: MAX_KEPT_BODY - len(kept)]
        return response.status_code, size, bytes(kept)


def _judge(expect: Expect, status: int, body: bytes) -> tuple[str | None, str]:
    """(None, "") for a success, else the failure cause and what was wrong."""
    if not any(lo <= status <= hi for lo, hi in expect.statuses):
        return "status", f"HTTP {status}"
    if expect.body_contains is not None and expect.body_contains.encode() not in body:
        return "assertion", f"the body does not contain {expect.body_contains!r}"
    if expect.json:
        return _judge_json(expect, body)
    return None, ""


def _judge_json(expect: Expect, body: bytes) -> tuple[str | None, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return "assertion", "the body is not JSON"
    for path, wanted in expect.json:
        try:
            found = resolve(document, path)
        except PathError as exc:
            return "assertion", f"json: {exc}"
        if not _equal(found, wanted):
            return "assertion", f"json {format_path(path)} is {found!r}, not {wanted!r}"
    return None, ""


def _equal(found: Any, wanted: Any) -> bool:
    numbers = (int, float)
    if isinstance(found, numbers) and isinstance(wanted, numbers) \
            and not isinstance(found, bool) and not isinstance(wanted, bool):
        return float(found) == float(wanted)
    return bool(found == wanted)


def classify(exc: BaseException) -> tuple[str, str]:
    """The failure cause of a transport error (one of FAILURE_CAUSES) and a short detail."""
    for cause in exception_chain(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "refused", "connection refused"
        if isinstance(cause, socket.gaierror):
            return "dns", f"cannot resolve the host name: {cause}"
        if isinstance(cause, ssl.SSLError):
            return "tls", f"TLS: {getattr(cause, 'verify_message', None) or cause.reason or cause}"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "disconnected", "the server reset the connection"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirects", text
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        closed = "disconnected" in text or "peer closed" in text or isinstance(
            exc, httpx.ReadError | httpx.WriteError)
        return ("disconnected" if closed else "protocol"), text
    if isinstance(exc, httpx.ConnectError):
        return "connect", text
    return "error", f"{type(exc).__name__}: {text}"


# -- results ----------------------------------------------------------------------------


def tally(samples: list[_Sample], elapsed: float) -> Tally:
    """What one run counted and timed, in a form that adds up across watch cycles."""
    answered = [s for s in samples if s.latency is not None]
    counts = {"total": len(samples), "succeeded": sum(1 for s in samples if s.cause is None),
              "answered": len(answered), "bytes": sum(s.size for s in answered)}
    for code, n in count_by([str(s.status) for s in samples if s.status is not None]).items():
        counts[f"status.{code}"] = n
    for cause, n in count_by([s.cause for s in samples if s.cause is not None]).items():
        counts[f"failure.{cause}"] = n
    latencies = Samples.of([ms(s.latency) for s in answered if s.latency is not None])
    return Tally(counts=counts, samples={"latency": latencies}, seconds=elapsed)


def judge(counted: Tally) -> dict[str, Any]:
    """The measurements (see the module docstring) of a run, or of every cycle of a watch."""
    total, succeeded = counted.count("total"), counted.count("succeeded")
    statuses = counted.prefixed("status")
    causes = counted.prefixed("failure")
    answered = counted.count("answered")
    return {
        "success_rate": rate(succeeded, total),
        "requests": {"total": total, "succeeded": succeeded, "failed": total - succeeded},
        "status_codes": statuses,
        "status_classes": {f"{k}xx": sum(n for code, n in statuses.items()
                                         if int(code) // 100 == k) for k in range(1, 6)},
        "failures": {cause: causes.get(cause, 0) for cause in FAILURE_CAUSES},
        "latency": counted.values("latency").summary(),
        "bytes": {"total": counted.count("bytes"),
                  "avg": counted.count("bytes") / answered if answered else 0.0},
        "throughput": total / counted.seconds if counted.seconds > 0 else 0.0,
    }


def _evidence(config: HttpConfig, samples: list[_Sample], started_at: datetime,
              elapsed: float) -> dict[str, Any]:
    kept, omitted = bounded([_sample_evidence(s) for s in samples])
    return {
        "probe": {"url": config.endpoint, "method": config.method,
                  "requests": config.requests, "duration_s": config.duration,
                  "concurrency": config.concurrency, "interval_s": config.interval,
                  "timeout_s": config.timeout, "keep_alive": config.keep_alive,
                  "follow_redirects": config.follow_redirects,
                  "headers": header_names(config.headers), "expect": config.expect.describe()},
        "started_at": timestamp(started_at),
        "duration_s": round(elapsed, 3),
        "samples": kept,
        "samples_omitted": omitted,
        "errors": _distinct_errors(samples),
    }


def _sample_evidence(sample: _Sample) -> dict[str, Any]:
    return {"at_s": round(sample.at, 3), "ok": sample.cause is None, "status": sample.status,
            "latency_ms": None if sample.latency is None else ms(sample.latency),
            "bytes": sample.size, "cause": sample.cause}


def _distinct_errors(samples: list[_Sample]) -> list[dict[str, Any]]:
    counted: dict[tuple[str, str], int] = {}
    for sample in samples:
        if sample.cause is not None:
            key = (sample.cause, sample.detail)
            counted[key] = counted.get(key, 0) + 1
    return [{"cause": cause, "detail": detail, "count": n}
            for (cause, detail), n in list(counted.items())[:MAX_DISTINCT_ERRORS]]
