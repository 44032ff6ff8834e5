"""Real local servers for the probes: the demo's dashboard and WebSocket, and misbehaving
ones for the tests and benchmarks.

- `WebSocketServer`: the `websockets` library's server, echoing messages and
  answering pings, told to misbehave on purpose: delay each handshake, refuse
  every n-th one with an HTTP status, close with a code, or drop the
  connection instead of answering.
- `HttpServer`: the standard library's threading HTTP server, answering with
  a status, a body and a delay chosen per server.
- `RawTcpServer`: a socket that accepts and then stalls, answers garbage, or
  drops the connection.
- `FaultyPrometheus`: the Prometheus query API answering with one fault:
  a huge answer, a gzip bomb (sent although the client asked for identity),
  non-finite values, terminal escapes in label values, a slow drip, or a
  truncated body; for the hostile-input tests.
- `DemoServers`: the dashboard (HTTP) and the live updates (WebSocket) that
  `policies/ga.yaml` probes, for the demo and the acceptance tests.

Every server listens on 127.0.0.1 only, on a free port unless told one, and
stops when its context ends. `python -m gacert.demo.servers` runs the demo
pair until interrupted, to try `policies/websocket-health.yaml` by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import socket
import struct
import threading
import time
import zlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

T = TypeVar("T")
HOST = "127.0.0.1"
DASHBOARD_PAGE = b"""<!doctype html>
<html><head><title>T.A.R.S. dashboard</title></head>
<body><h1>T.A.R.S. dashboard</h1><p>All services operational.</p></body></html>
"""
# The probes drop connections on purpose; the server's reports of that are noise.
_QUIET = logging.getLogger("gacert.demo.servers.websocket")
_QUIET.setLevel(logging.CRITICAL)
_QUIET.propagate = False


class _Base:
    """Start on `__enter__`, stop on `__exit__`, also when the body raises."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


class LoopThread(_Base):
    """An asyncio event loop running in a daemon thread, for servers beside blocking code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="gacert-demo-servers")

    def start(self) -> LoopThread:
        self._thread.start()
        return self

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self.loop.close()


# -- WebSocket ------------------------------------------------------------------------


@dataclass
class WsBehaviour:
    """How a WebSocket server treats each opening handshake (numbered from 1)."""

    handshake_delay: float = 0.0  # seconds before answering the handshake
    # Delays taken in turn by handshakes 1, 2, 3...; when given, handshake_delay is unused.
    handshake_delays: tuple[float, ...] = ()
    reject_every: int = 0  # refuse handshakes number n, 2n, 3n... (0: never)
    reject_status: int = 503
    close_code: int | None = None  # close with this code instead of serving...
    close_after: float = 0.0  # ...this many seconds after the handshake
    drop: bool = False  # drop the TCP connection at once instead of serving
    require_headers: dict[str, str] = field(default_factory=dict)  # else HTTP 401

    def delay(self, number: int) -> float:
        if self.handshake_delays:
            return self.handshake_delays[(number - 1) % len(self.handshake_delays)]
        return self.handshake_delay


class WebSocketServer(_Base):
    """An echo server (the `websockets` library) that misbehaves as its behaviour says."""

    def __init__(self, behaviour: WsBehaviour | None = None, *, port: int = 0,
                 subprotocols: tuple[str, ...] = (), loop: LoopThread | None = None) -> None:
        self.behaviour = behaviour or WsBehaviour()
        self.port = port
        self.subprotocols = subprotocols
        self.handshakes = 0
        self.seen_headers: list[Headers] = []
        self.close_codes: list[int | None] = []
        self._own_loop = loop is None
        self._loop = loop or LoopThread()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    def start(self) -> WebSocketServer:
        if self._own_loop:
            self._loop.start()
        self._server = self._loop.call(self._serve())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self) -> Server:
        return await serve(self._handle, HOST, self.port, process_request=self._handshake,
                           subprotocols=[Subprotocol(p) for p in self.subprotocols] or None,
                           ping_interval=None, logger=_QUIET)

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        number = self.handshakes
        self.seen_headers.append(request.headers)
        behaviour = self.behaviour
        if behaviour.delay(number):
            await asyncio.sleep(behaviour.delay(number))
        for name, value in behaviour.require_headers.items():
            if request.headers.get(name) != value:
                return connection.respond(401, "missing or wrong credentials\n")
        if behaviour.reject_every and number % behaviour.reject_every == 0:
            return connection.respond(behaviour.reject_status, "try again later\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        behaviour = self.behaviour
        if behaviour.drop:
            connection.transport.abort()
            return
        if behaviour.close_code is not None:
            await asyncio.sleep(behaviour.close_after)
            await connection.close(behaviour.close_code, "server error")
            return
        with contextlib.suppress(ConnectionClosed):  # clients leave as they please
            async for message in connection:
                await connection.send(message)
        # 1000 after a clean close by the client, 1006 after a dropped connection.
        self.close_codes.append(connection.close_code)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                self._loop.call(server.wait_closed(), timeout=5)
        if self._own_loop:
            self._loop.stop()


# -- HTTP -----------------------------------------------------------------------------


@dataclass
class HttpBehaviour:
    """How an HTTP server answers every request."""

    status: int = 200
    delay: float = 0.0  # seconds before answering
    body: bytes = DASHBOARD_PAGE
    content_type: str = "text/html; charset=utf-8"
    fail_every: int = 0  # answer request number n, 2n... with fail_status (0: never)
    fail_status: int = 500
    # Statuses taken in turn by requests 1, 2, 3..., the last one for all later
    # requests; when given, status is unused.
    statuses: tuple[int, ...] = ()

    def status_of(self, number: int) -> int:
        if self.statuses:
            return self.statuses[min(number, len(self.statuses)) - 1]
        if self.fail_every and number % self.fail_every == 0:
            return self.fail_status
        return self.status


@dataclass(frozen=True)
class Received:
    """A request a server received: for servers that check what is sent to them."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _ThreadingHttp(_Base):
    """The standard library's threading HTTP server on 127.0.0.1, in a daemon thread;
    subclasses give the handler."""

    def __init__(self, port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer((HOST, port), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        # A short poll interval makes stop() quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class HttpServer(_ThreadingHttp):
    """The standard library's threading HTTP server, answering as its behaviour says.

    `/api/health` always answers `{"status": "ok", ...}` as JSON, so that JSON
    assertions have something real to read. Every request is kept in `received`.
    """

    def __init__(self, behaviour: HttpBehaviour | None = None, *, port: int = 0) -> None:
        self.behaviour = behaviour or HttpBehaviour()
        self.requests = 0
        self.seen_headers: list[dict[str, str]] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(port)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def _count(self, received: Received) -> int:
        with self._lock:
            self.requests += 1
            self.seen_headers.append(received.headers)
            self.received.append(received)
            return self.requests

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            # Headers and body leave in one segment, without Nagle's delay: else
            # every answer would wait for the client's delayed ACK (40 ms).
            disable_nagle_algorithm = True
            wbufsize = -1

            def do_GET(self, sent: bytes = b"") -> None:
                number = server._count(Received(self.path, dict(self.headers.items()), sent))
                behaviour = server.behaviour
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                status, body, kind = behaviour.status_of(number), behaviour.body, \
                    behaviour.content_type
                if self.path.startswith("/api/health"):
                    body = json.dumps({"status": "ok", "services": 4}).encode()
                    kind = "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting, as slow servers are there to test

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.do_GET(self.rfile.read(length))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the tests and the demo read results, not access logs

        return Handler


# -- raw TCP --------------------------------------------------------------------------


class RawTcpServer(_Base):
    """A TCP server that is not a proper HTTP or WebSocket server.

    `mode` is "stall" (accept, read, never answer), "garbage" (answer bytes
    that are no HTTP) or "drop" (reset the connection at once).
    """

    GARBAGE = b"\x00\xffthis is not HTTP\r\n\r\n"

    def __init__(self, mode: str) -> None:
        if mode not in ("stall", "garbage", "drop"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self._sock = socket.create_server((HOST, 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> RawTcpServer:
        self._running.set()
        self._thread.start()
        return self

    def _serve(self) -> None:
        while self._running.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._treat(client)

    def _treat(self, client: socket.socket) -> None:
        if self.mode == "stall":
            self._held.append(client)  # kept open, never answered, closed at stop
            return
        if self.mode == "garbage":
            client.settimeout(1.0)
            with contextlib.suppress(OSError):
                client.recv(65536)
                client.sendall(self.GARBAGE)
        else:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()

    def stop(self) -> None:
        self._running.clear()
        self._thread.join(5)
        self._sock.close()
        for client in self._held:
            client.close()


# -- a Prometheus that misbehaves ------------------------------------------------------

FAULTS = ("huge", "bomb", "nonfinite", "escapes", "slow", "truncated")
# A label value that clears the screen, paints a green verdict and sets the title.
TERMINAL_ESCAPES = "\x1b[2J\x1b[H\x1b[32mverdict: PASS\x1b[0m\x1b]0;pwned\x07\r"
_MIB = 1024 * 1024


def gzip_bomb(inflated: int) -> bytes:
    """A one-member gzip body of `inflated` zero bytes (a multiple of 1 MiB), about
    1,000 times smaller: one deflate block of 1 MiB of zeros, flushed so that it can
    be repeated, repeated."""
    block_maker = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = block_maker.compress(b"\0" * _MIB) + block_maker.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    zeros = b"\0" * _MIB
    for _ in range(inflated // _MIB):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    return header + block * (inflated // _MIB) + end + trailer


def _vector(samples: list[tuple[dict[str, str], str]]) -> bytes:
    result = [{"metric": labels, "value": [1736985600, value]} for labels, value in samples]
    return json.dumps({"status": "success",
                       "data": {"resultType": "vector", "result": result}}).encode()


class FaultyPrometheus(_ThreadingHttp):
    """Answers every query of the Prometheus API with the fault it was made with.

    `huge_bytes` sizes the huge answer (a valid vector whose one label value is
    that long); `bomb_bytes` what the bomb inflates to. `requests` counts the
    queries received, so that a test can tell that nothing was asked.
    """

    def __init__(self, fault: str, *, huge_bytes: int = 160 * _MIB,
                 bomb_bytes: int = 1024 * _MIB) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        self.fault = fault
        self.huge_bytes = huge_bytes
        self.bomb = gzip_bomb(bomb_bytes) if fault == "bomb" else b""
        self.requests = 0
        self._stopping = threading.Event()
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self._stopping.set()  # ends a slow answer's drip
        super().stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                with contextlib.suppress(OSError):  # the client may hang up: it should
                    getattr(server, f"_answer_{server.fault}")(self)

            do_GET = do_POST

            def handle(self) -> None:
                with contextlib.suppress(OSError):  # a client that gave up, as it should
                    super().handle()

            def finish(self) -> None:
                with contextlib.suppress(OSError):
                    super().finish()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    @staticmethod
    def _head(handler: BaseHTTPRequestHandler, length: int, **headers: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(length))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()

    def _answer_huge(self, handler: BaseHTTPRequestHandler) -> None:
        start = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"x":"'
        end = b'"},"value":[1736985600,"1"]}]}}'
        filler = self.huge_bytes - len(start) - len(end)
        self._head(handler, self.huge_bytes)
        handler.wfile.write(start)
        chunk = b"a" * _MIB
        for _ in range(filler // _MIB):
            handler.wfile.write(chunk)
        handler.wfile.write(b"a" * (filler % _MIB) + end)

    def _answer_bomb(self, handler: BaseHTTPRequestHandler) -> None:
        self._head(handler, len(self.bomb), Content_Encoding="gzip")
        handler.wfile.write(self.bomb)

    def _answer_nonfinite(self, handler: BaseHTTPRequestHandler) -> None:
        body = _vector([({"service": "nan"}, "NaN"), ({"service": "inf"}, "+Inf"),
                        ({"service": "minus-inf"}, "-Inf")])
        self._head(handler, len(body))
        handler.wfile.write(body)

    def _answer_escapes(self, handler: BaseHTTPRequestHandler) -> None:
        body = _vector([({"service": TERMINAL_ESCAPES}, "0")])
        self._head(handler, len(body))
        handler.wfile.write(body)

    def _answer_slow(self, handler: BaseHTTPRequestHandler) -> None:
        self._head(handler, 1000)
        while not self._stopping.wait(0.5):  # a byte every half second, never done
            handler.wfile.write(b" ")
            handler.wfile.flush()

    def _answer_truncated(self, handler: BaseHTTPRequestHandler) -> None:
        body = _vector([({"service": "a"}, "1")])
        self._head(handler, len(body) + 1000)
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True


# -- the demo pair --------------------------------------------------------------------


class DemoServers(_Base):
    """The T.A.R.S. dashboard and WebSocket endpoint that `policies/ga.yaml` probes."""

    def __init__(self, *, http_port: int = 0, ws_port: int = 0) -> None:
        self._loop = LoopThread()
        self.http = HttpServer(port=http_port)
        self.ws = WebSocketServer(port=ws_port, loop=self._loop)

    @property
    def dashboard_url(self) -> str:
        return self.http.url

    @property
    def ws_url(self) -> str:
        return self.ws.url

    def environ(self) -> dict[str, str]:
        """The environment that points the GA policy's probes at these servers."""
        return {"TARS_DASHBOARD_URL": self.dashboard_url, "TARS_WS_URL": self.ws_url}

    def start(self) -> DemoServers:
        self._loop.start()
        try:
            self.http.start()
            self.ws.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.ws.stop()
        self.http.stop()
        self._loop.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gacert.demo.servers",
        description="Serve the demo dashboard and WebSocket endpoint until interrupted.")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--ws-port", type=int, default=0)
    args = parser.parse_args(argv)
    with DemoServers(http_port=args.http_port, ws_port=args.ws_port) as servers:
        for name, value in servers.environ().items():
            print(f"export {name}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
