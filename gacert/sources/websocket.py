"""The `websocket` probe: force disconnects and measure how reconnecting goes (TARS-1001).

The probe opens a connection, then `iterations` times, one every `interval`
on a fixed schedule, drops it (abruptly, with a TCP reset; cleanly, with a
close handshake; or alternately) and reconnects, retrying up to `retries`
times with a doubling backoff. A reconnect counts as good when the new
connection answers: a pong to a ping, or the echo of a message. When the
server closes the connection itself between iterations, the probe reconnects
at once, as a client would, and counts that disconnect as the server's.

Measurements (times in ms):

- `success_rate`: good reconnects as a share of reconnects, percent;
- `reconnects.{total,succeeded,failed}`;
- `latency.{min,avg,p50,p95,p99,max}`: from the start of a reconnect (retries
  and their waits included) until the new connection answered;
- `jitter.{min,avg,p50,p95,p99,max}`: how far the time between two
  consecutive good reconnects was from `interval`;
- `downtime.{longest,total,periods}`: time without a working connection, from
  the disconnect until a new connection answered;
- `failures.<cause>`: failed connection attempts (retries included) by cause;
- `disconnects.{forced,by_server}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from gacert import __version__
from gacert.errors import exception_chain
from gacert.sources.endpoint import Endpoint, Tls, header_names
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

MAX_ITERATIONS = 100_000
MAX_BACKOFF_SECONDS = 30.0
# A reconnect record keeps this many failed attempts; the counts keep them all.
MAX_FAILURES_PER_RECORD = 5
FAILURE_CAUSES = ("refused", "dns", "tls", "timeout", "rejected", "protocol", "closed",
                  "no_answer", "connect", "error")
DISCONNECTS = ("abrupt", "clean", "alternate")
CHECKS = ("ping", "echo")
CLOSE_REASON = "gacert reconnect probe"


@dataclass(frozen=True)
class WsConfig:
    url: str = field(repr=False)  # as sent: may hold a token in the query string
    endpoint: str  # redacted, for people
    headers: Mapping[str, str] = field(repr=False)  # may hold credentials
    subprotocols: tuple[str, ...]
    iterations: int
    interval: float
    disconnect: str
    check: str
    message: str
    connect_timeout: float
    answer_timeout: float
    retries: int
    backoff: float
    tls: Tls


class _Failed(Exception):
    """One connection attempt failed; `cause` is one of FAILURE_CAUSES."""

    def __init__(self, cause: str, detail: str, close_code: int | None = None) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.close_code = close_code


@dataclass
class _Reconnect:
    """One (re)connection: the first connection has index 0."""

    index: int
    began: float  # seconds since the probe started
    disconnect: str  # how the previous connection ended: abrupt, clean, server <code>, none, first
    ok: bool = False
    up: float | None = None  # when the new connection answered
    attempts: int = 0
    failures: list[_Failed] = field(default_factory=list)
    downtime: float | None = None  # the outage this reconnect ended

    @property
    def latency(self) -> float | None:
        return None if self.up is None else self.up - self.began


class WebSocketProbe(NetworkProbe[WsConfig]):
    """Reconnect test of one WebSocket endpoint; see the module docstring."""

    type_name: ClassVar[str] = "websocket"

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> WebSocketProbe:
        return cls(source_id, read_config(Settings(settings)))

    async def _measure(self) -> Measured:
        started_at = now()
        config = self._config
        session = _Session(config, config.tls.context_for(config.url, self._label))
        try:
            await session.run()
        finally:
            await session.close()
        counted = session.tally()
        return Measured(measurements=judge(counted), evidence=session.evidence(started_at),
                        at=now(), tally=counted)

    @staticmethod
    def judge(counted: Tally) -> dict[str, Any]:
        return judge(counted)

    @staticmethod
    def cycle_summary(measurements: Mapping[str, Any]) -> dict[str, Any]:
        return {"reconnects": measurements["reconnects"]["total"],
                "failed": measurements["reconnects"]["failed"],
                "success_rate": measurements["success_rate"],
                "latency_avg": measurements["latency"]["avg"],
                "latency_p99": measurements["latency"]["p99"],
                "downtime_longest": measurements["downtime"]["longest"],
                "jitter_avg": measurements["jitter"]["avg"]}


# -- settings ---------------------------------------------------------------------------


def read_config(settings: Settings) -> WsConfig:
    """Check and read the settings of a websocket source; no I/O."""
    target = Endpoint.from_settings(settings, ("ws", "wss"), "wss://tars.example.com/ws")
    try:
        parse_uri(target.url)
    except InvalidURI as exc:
        # `exc.msg` is the reason alone; str(exc) would quote the url, secrets and all.
        raise ValueError(f"url {target.shown!r} is not a WebSocket url: {exc.msg}") from None
    iterations, duration = count_or_duration(settings, "iterations", 10, MAX_ITERATIONS)
    interval = settings.seconds("interval", 5.0)
    if duration is not None:
        iterations = min(MAX_ITERATIONS, max(1, int(duration // interval)))
    assert iterations is not None
    return WsConfig(
        url=target.url, endpoint=target.shown, headers=target.headers,
        subprotocols=tuple(settings.string_list("subprotocols")),
        iterations=iterations, interval=interval,
        disconnect=settings.choice("disconnect", DISCONNECTS, "abrupt"),
        check=settings.choice("check", CHECKS, "ping"),
        message=settings.text("message", "gacert probe") or "gacert probe",
        connect_timeout=settings.seconds("connect_timeout", 10.0),
        answer_timeout=settings.seconds("answer_timeout", 5.0),
        retries=settings.integer("retries", 3, 0, 10),
        backoff=settings.seconds("backoff", 1.0),
        tls=target.tls,
    )


# -- the reconnect test -----------------------------------------------------------------


class _Downtime:
    """Periods without a working connection."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.periods: list[float] = []

    def lost(self, at: float) -> None:
        if self.since is None:
            self.since = at

    def restored(self, at: float) -> float | None:
        if self.since is None:
            return None
        period, self.since = at - self.since, None
        self.periods.append(period)
        return period


class _Session:
    """One run of the reconnect test, its connection and what it recorded."""

    def __init__(self, config: WsConfig, tls: ssl.SSLContext | None) -> None:
        self.config = config
        self.tls = tls
        self.clock = time.perf_counter()
        self.conn: ClientConnection | None = None
        self.records: list[_Reconnect] = []
        self.down = _Downtime()
        self.elapsed_total = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.clock

    async def run(self) -> None:
        first = await self._reconnect(0, "first")
        if not first.ok:
            self.down.lost(0.0)
        # The schedule starts when the first attempt ended and never drifts:
        # a slow reconnect makes the next one start late, not every later one.
        start = self.elapsed()
        for index in range(1, self.config.iterations + 1):
            how = await self._disconnect(start + index * self.config.interval, index)
            await self._reconnect(index, how)
        self.elapsed_total = self.elapsed()
        if self.down.since is not None:
            self.down.restored(self.elapsed_total)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await _close(conn, self.config.answer_timeout)

    async def _disconnect(self, due: float, index: int) -> str:
        """Wait until `due` (or the server's close), then drop the connection: how it ended."""
        if self.conn is None:
            await asyncio.sleep(max(0.0, due - self.elapsed()))
            return "none"
        closed = await _hold(self.conn, due - self.elapsed())
        if closed is not None:
            self.down.lost(self.elapsed())
            self.conn = None
            return f"server {closed}"
        conn, self.conn = self.conn, None
        mode = self.config.disconnect
        if mode == "alternate":
            mode = "abrupt" if index % 2 else "clean"
        self.down.lost(self.elapsed())
        if mode == "abrupt":
            await _abort(conn)
        else:
            await _close(conn, self.config.answer_timeout)
        return mode

    async def _reconnect(self, index: int, how: str) -> _Reconnect:
        record = _Reconnect(index=index, began=self.elapsed(), disconnect=how)
        self.records.append(record)
        for attempt in range(self.config.retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt))
            record.attempts = attempt + 1
            try:
                self.conn = await self._open()
            except _Failed as failed:
                record.failures.append(failed)
                continue
            record.ok, record.up = True, self.elapsed()
            record.downtime = self.down.restored(record.up)
            break
        return record

    def _tls_options(self) -> dict[str, Any]:
        # websockets refuses an ssl argument with a ws:// url, even None.
        return {"ssl": self.tls} if self.tls is not None else {}

    def _backoff(self, retry: int) -> float:
        return min(MAX_BACKOFF_SECONDS, self.config.backoff * 2.0 ** (retry - 1))

    async def _open(self) -> ClientConnection:
        """A new connection that has answered, or _Failed with the cause."""
        config = self.config
        try:
            conn = await connect(
                config.url, additional_headers=dict(config.headers),
                subprotocols=[Subprotocol(p) for p in config.subprotocols] or None,
                open_timeout=config.connect_timeout, ping_interval=None,
                close_timeout=config.answer_timeout, user_agent_header=f"gacert/{__version__}",
                **self._tls_options())
        except Exception as exc:  # every way a connection can fail is a measured cause
            raise _connect_failure(exc, config.connect_timeout) from None
        try:
            async with asyncio.timeout(config.answer_timeout):
                await _answered(conn, config)
        except BaseException as exc:
            await _abort(conn)
            if isinstance(exc, Exception):
                raise _answer_failure(exc, config) from None
            raise
        return conn

    # -- results ------------------------------------------------------------------------

    def _reconnects(self) -> list[_Reconnect]:
        return [r for r in self.records if r.index > 0]

    def jitters(self) -> list[float]:
        """|time between two consecutive good reconnects - interval|, in seconds."""
        good = {r.index: r.up for r in self._reconnects() if r.up is not None}
        return [abs((good[i] - good[i - 1]) - self.config.interval)
                for i in sorted(good) if i - 1 in good]

    def tally(self) -> Tally:
        """What this run counted and timed, in a form that adds up across watch cycles."""
        reconnects = self._reconnects()
        good = [r for r in reconnects if r.ok]
        counts = {
            "total": len(reconnects), "succeeded": len(good),
            "forced": sum(1 for r in reconnects if r.disconnect in ("abrupt", "clean")),
            "by_server": sum(1 for r in reconnects if r.disconnect.startswith("server"))}
        for cause, n in count_by([f.cause for r in self.records for f in r.failures]).items():
            counts[f"failure.{cause}"] = n
        return Tally(counts=counts, seconds=self.elapsed_total, samples={
            "latency": Samples.of([ms(r.latency) for r in good if r.latency is not None]),
            "jitter": Samples.of([ms(j) for j in self.jitters()]),
            "downtime": Samples.of([ms(p) for p in self.down.periods])})

    def evidence(self, started_at: datetime) -> dict[str, Any]:
        config = self.config
        records, omitted = bounded([_record_evidence(r) for r in self._reconnects()])
        codes = count_by([str(f.close_code) for r in self.records for f in r.failures
                          if f.close_code is not None]
                         + [r.disconnect.split()[1] for r in self.records
                            if r.disconnect.startswith("server")])
        return {
            "probe": {"url": config.endpoint, "iterations": config.iterations,
                      "interval_s": config.interval, "disconnect": config.disconnect,
                      "check": config.check, "retries": config.retries,
                      "backoff_s": config.backoff, "connect_timeout_s": config.connect_timeout,
                      "answer_timeout_s": config.answer_timeout,
                      "subprotocols": list(config.subprotocols),
                      "headers": header_names(config.headers)},
            "started_at": timestamp(started_at),
            "duration_s": round(self.elapsed_total, 3),
            "first_connection": _record_evidence(self.records[0]) if self.records else None,
            "reconnects": records,
            "reconnects_omitted": omitted,
            "downtimes_ms": [ms(p) for p in self.down.periods][:1000],
            "jitter_ms": [ms(j) for j in self.jitters()][:1000],
            "close_codes": codes,
        }


def judge(counted: Tally) -> dict[str, Any]:
    """The measurements (see the module docstring) of a run, or of every cycle of a watch."""
    total, succeeded = counted.count("total"), counted.count("succeeded")
    causes = counted.prefixed("failure")
    downtime = counted.values("downtime")
    return {
        "success_rate": rate(succeeded, total),
        "reconnects": {"total": total, "succeeded": succeeded, "failed": total - succeeded},
        "latency": counted.values("latency").summary(),
        "jitter": counted.values("jitter").summary(),
        # The total of the rounded periods, so that it adds up with the evidence.
        "downtime": {"longest": downtime.high if downtime.count else 0.0,
                     "total": round(downtime.total, 3), "periods": downtime.count},
        "failures": {cause: causes.get(cause, 0) for cause in FAILURE_CAUSES},
        "disconnects": {"forced": counted.count("forced"),
                        "by_server": counted.count("by_server")},
    }


def _record_evidence(record: _Reconnect) -> dict[str, Any]:
    return {
        "i": record.index, "at_s": round(record.began, 3), "disconnect": record.disconnect,
        "ok": record.ok, "attempts": record.attempts,
        "latency_ms": None if record.latency is None else ms(record.latency),
        "downtime_ms": None if record.downtime is None else ms(record.downtime),
        "failures": [{"cause": f.cause, "detail": f.detail}
                     for f in record.failures[:MAX_FAILURES_PER_RECORD]],
    }


# -- one connection ---------------------------------------------------------------------


async def _answered(conn: ClientConnection, config: WsConfig) -> None:
    """Return once the connection answered: a pong, or the echo of `message`."""
    if config.check == "ping":
        pong = await conn.ping()
        await pong
        return
    await conn.send(config.message)
    # Servers may push other messages first (a greeting, updates): skip them.
    while await conn.recv() != config.message:
        pass


async def _hold(conn: ClientConnection, seconds: float) -> str | None:
    """Keep the connection for `seconds`, reading what the server pushes; the close
    code if the server closed it meanwhile, else None."""
    deadline = time.perf_counter() + seconds
    while (remaining := deadline - time.perf_counter()) > 0:
        try:
            async with asyncio.timeout(remaining):
                await conn.recv()  # cancelling recv loses no data
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            return str(exc.rcvd.code if exc.rcvd else 1006)
    return None


async def _abort(conn: ClientConnection) -> None:
    """Drop the connection as a network failure would: a TCP reset, no close handshake."""
    sock = conn.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # Linger on, timeout 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.transport.abort()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            await conn.wait_closed()


async def _close(conn: ClientConnection, timeout: float) -> None:
    """Close with the closing handshake; websockets aborts it after `timeout`."""
    # A connection being left may fail to close cleanly: that is not what is measured,
    # and the next connection attempt says whether the server is still there.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout + 1.0):
            await conn.close(1000, CLOSE_REASON)


def _connect_failure(exc: Exception, timeout: float) -> _Failed:
    if isinstance(exc, InvalidStatus):
        return _Failed("rejected", f"the handshake was refused with HTTP "
                                   f"{exc.response.status_code}")
    if isinstance(exc, TimeoutError):
        return _Failed("timeout", f"no handshake within {timeout:g} s")
    for cause in exception_chain(exc):
        if isinstance(cause, ConnectionRefusedError):
            return _Failed("refused", "connection refused")
        if isinstance(cause, socket.gaierror):
            return _Failed("dns", f"cannot resolve the host name: {cause}")
        if isinstance(cause, ssl.SSLError):
            message = getattr(cause, "verify_message", None) or cause.reason or str(cause)
            return _Failed("tls", f"TLS: {message}")
        if isinstance(cause, EOFError | ConnectionResetError | ConnectionClosed):
            return _Failed("closed", "the server closed the connection during the handshake")
    if isinstance(exc, InvalidHandshake):
        return _Failed("protocol", f"invalid handshake: {exc}")
    if isinstance(exc, OSError):
        return _Failed("connect", str(exc) or type(exc).__name__)
    return _Failed("error", f"{type(exc).__name__}: {exc}")


def _answer_failure(exc: Exception, config: WsConfig) -> _Failed:
    if isinstance(exc, TimeoutError):
        return _Failed("no_answer", f"no {'pong' if config.check == 'ping' else 'echo'} "
                                    f"within {config.answer_timeout:g} s")
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else 1006
        reason = f" ({exc.rcvd.reason})" if exc.rcvd and exc.rcvd.reason else ""
        return _Failed("closed", f"closed by the server with code {code}{reason} "
                                 "before it answered", close_code=code)
    return _Failed("error", f"{type(exc).__name__}: {exc}")
