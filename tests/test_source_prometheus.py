"""PrometheusSource against real servers on 127.0.0.1.

A scripted HTTP server (stdlib, in a thread) misbehaves on purpose: retries,
errors, odd bodies, stalls, headers, concurrency. A real Prometheus, started
on a tiny dataset backfilled here with promtool, checks the real API.
Every server binds a free loopback port and stops at the end of its test.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import math
import os
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from gacert.demo.gaday import scenario_window
from gacert.demo.prometheus import PrometheusServer, backfill, free_port
from gacert.errors import SourceError
from gacert.model import Fetched, Query
from gacert.sources.prometheus import PrometheusSource, read_config
from gacert.sources.settings import Settings

T0 = datetime(2025, 1, 15, 0, 0, tzinfo=UTC)  # 1736899200
T0_UNIX = 1736899200


def instant(text: str = "up", at: datetime = T0 + timedelta(minutes=10)) -> Query:
    return Query(
        check_id="c",
        text=text,
        mode="instant",
        start=at - timedelta(hours=1),
        end=at,
        step_seconds=60.0,
    )


def ranged(text: str = "up", minutes: int = 10, step: float = 60.0) -> Query:
    return Query(
        check_id="c",
        text=text,
        mode="range",
        start=T0,
        end=T0 + timedelta(minutes=minutes),
        step_seconds=step,
    )


def success(result_type: str, result: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}, **extra}


VECTOR = success(
    "vector",
    [
        {"metric": {"__name__": "up", "job": "api"}, "value": [T0_UNIX + 600, "1"]},
        {"metric": {"__name__": "up", "job": "db"}, "value": [T0_UNIX + 600, "0"]},
    ],
)


def fetch(source: PrometheusSource, query: Query) -> Fetched:
    """Run one fetch in a fresh event loop and close the source afterwards."""

    async def run() -> Fetched:
        try:
            return await source.fetch(query)
        finally:
            await source.aclose()

    return asyncio.run(run())


def fetch_error(source: PrometheusSource, query: Query) -> str:
    with pytest.raises(SourceError) as caught:
        fetch(source, query)
    return str(caught.value)


# -- the scripted server -------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: a JSON-able body (or raw bytes), a status, an optional stall."""

    body: Any = field(default_factory=lambda: VECTOR)
    status: int = 200
    delay: float = 0.0
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    form: dict[str, str]


class _Server(ThreadingHTTPServer):
    # Join handler threads on close; a stalled handler is woken by `stopping`.
    daemon_threads = False
    block_on_close = True
    accepted = 0  # connections accepted, counted before any TLS handshake

    def get_request(self) -> tuple[Any, Any]:
        self.accepted += 1
        return super().get_request()


class ScriptedServer:
    """Answers the n-th request with replies[n] (the last reply repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def accepted(self) -> int:
        return self._httpd.accepted

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.replies[min(len(self.received), len(self.replies)) - 1]

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a client that never sends its body cannot hold the thread

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = server._next_reply(Received("POST", self.path, headers, form))
                try:
                    if reply.delay:
                        server.stopping.wait(reply.delay)
                    self._answer(reply, headers)
                except OSError:  # the client gave up (a timeout test); nothing to say
                    pass
                finally:
                    server._done()

            def _answer(self, reply: Reply, headers: dict[str, str]) -> None:
                body = reply.body
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if "gzip" in headers.get("accept-encoding", ""):
                    body = gzip.compress(body)
                    self.send_header("Content-Encoding", "gzip")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def source_for(url: str, **settings: Any) -> PrometheusSource:
    # Small backoff so that retry tests stay fast.
    return PrometheusSource.from_settings("prom", {"url": url, "backoff": "10ms", **settings})


# -- requests ---------------------------------------------------------------------------


def test_instant_query_posts_a_form_to_the_query_endpoint() -> None:
    with ScriptedServer() as server:
        fetch(source_for(server.url), instant('sum(rate(x{job="a b"}[5m]))'))
    [request] = server.received
    assert request.method == "POST"
    assert request.path == "/api/v1/query"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {"query": 'sum(rate(x{job="a b"}[5m]))', "time": str(T0_UNIX + 600)}


def test_range_query_posts_start_end_and_step() -> None:
    with ScriptedServer(Reply(success("matrix", []))) as server:
        fetch(source_for(server.url), ranged("up", minutes=60, step=30.5))
    [request] = server.received
    assert request.path == "/api/v1/query_range"
    assert request.form == {
        "query": "up",
        "start": str(T0_UNIX),
        "end": str(T0_UNIX + 3600),
        "step": "30.5",
    }


@pytest.mark.parametrize("prefix", ["/prometheus", "/prometheus/", "/a/b/"])
def test_a_path_prefix_in_the_url_is_kept(prefix: str) -> None:
    with ScriptedServer() as server:
        fetch(source_for(server.url + prefix), instant())
    assert server.received[0].path == "/" + prefix.strip("/") + "/api/v1/query"


def test_headers_bearer_token_extra_headers_and_no_compression() -> None:
    settings = {"auth": {"bearer_token": "tok-123"}, "headers": {"X-Scope-OrgID": "tenant-1"}}
    with ScriptedServer() as server:
        fetch(source_for(server.url, **settings), instant())
    headers = server.received[0].headers
    assert headers["authorization"] == "Bearer tok-123"
    assert headers["x-scope-orgid"] == "tenant-1"
    assert headers["accept-encoding"] == "identity"
    assert headers["user-agent"].startswith("gacert/")


def test_basic_auth_from_settings_and_from_the_url() -> None:
    expected = "Basic " + base64.b64encode(b"alice:pa ss").decode()
    with ScriptedServer() as server:
        basic = {"auth": {"basic": {"username": "alice", "password": "pa ss"}}}
        fetch(source_for(server.url, **basic), instant())
        with_userinfo = server.url.replace("http://", "http://alice:pa%20ss@")
        fetch(source_for(with_userinfo), instant())
    assert [r.headers["authorization"] for r in server.received] == [expected, expected]


def test_compression_asks_for_gzip_and_decodes_it() -> None:
    with ScriptedServer() as server:
        fetched = fetch(source_for(server.url, compression=True), instant())
    assert server.received[0].headers["accept-encoding"] == "gzip"
    assert len(fetched.series) == 2


def test_concurrency_caps_requests_in_flight() -> None:
    async def run(url: str) -> None:
        source = source_for(url, concurrency=2)
        try:
            await asyncio.gather(*(source.fetch(instant()) for _ in range(6)))
        finally:
            await source.aclose()

    with ScriptedServer(Reply(delay=0.1)) as server:
        asyncio.run(run(server.url))
    assert len(server.received) == 6
    assert server.max_in_flight == 2


# -- answers ----------------------------------------------------------------------------


def test_vector_keeps_every_label_including_the_metric_name() -> None:
    with ScriptedServer() as server:
        fetched = fetch(source_for(server.url), instant())
    assert [dict(s.labels) for s in fetched.series] == [
        {"__name__": "up", "job": "api"},
        {"__name__": "up", "job": "db"},
    ]
    assert [s.points for s in fetched.series] == [
        ((T0_UNIX + 600.0, 1.0),),
        ((T0_UNIX + 600.0, 0.0),),
    ]
    assert fetched.warnings == ()


def test_matrix_gives_every_point() -> None:
    body = success(
        "matrix", [{"metric": {"job": "api"}, "values": [[T0_UNIX, "1.5"], [T0_UNIX + 60.5, "2"]]}]
    )
    with ScriptedServer(Reply(body)) as server:
        fetched = fetch(source_for(server.url), ranged())
    [series] = fetched.series
    assert series.labels == {"job": "api"}
    assert series.points == ((T0_UNIX, 1.5), (T0_UNIX + 60.5, 2.0))


def test_scalar_is_one_series_without_labels() -> None:
    with ScriptedServer(Reply(success("scalar", [T0_UNIX, "42"]))) as server:
        fetched = fetch(source_for(server.url), instant("42"))
    [series] = fetched.series
    assert series.labels == {}
    assert series.points == ((T0_UNIX, 42.0),)


def test_string_results_are_not_numeric() -> None:
    with ScriptedServer(Reply(success("string", [T0_UNIX, "hello"]))) as server:
        message = fetch_error(source_for(server.url), instant('"hello"'))
    assert message.endswith("string results are not numeric")
    assert "'prom'" in message


def test_nan_and_infinities_become_floats() -> None:
    values = [[T0_UNIX, "NaN"], [T0_UNIX + 60, "+Inf"], [T0_UNIX + 120, "-Inf"]]
    with ScriptedServer(Reply(success("matrix", [{"metric": {}, "values": values}]))) as server:
        fetched = fetch(source_for(server.url), ranged())
    [(_, nan), (_, pos), (_, neg)] = fetched.series[0].points
    assert math.isnan(nan)
    assert pos == math.inf
    assert neg == -math.inf


def test_api_warnings_and_infos_are_returned() -> None:
    body = {**VECTOR, "warnings": ["partial response"], "infos": ["metric might not be a counter"]}
    with ScriptedServer(Reply(body)) as server:
        fetched = fetch(source_for(server.url), instant())
    assert fetched.warnings == ("partial response", "metric might not be a counter")
    assert len(fetched.series) == 2


def test_native_histograms_are_refused_with_advice() -> None:
    body = success("vector", [{"metric": {}, "histogram": [T0_UNIX, {"count": "3"}]}])
    with ScriptedServer(Reply(body)) as server:
        message = fetch_error(source_for(server.url), instant())
    assert "native histogram" in message
    assert "histogram_quantile" in message


# -- failures ---------------------------------------------------------------------------


def test_503_twice_then_success_is_retried() -> None:
    unavailable = Reply({"status": "error", "errorType": "unavailable", "error": "busy"}, 503)
    with ScriptedServer(unavailable, unavailable, Reply()) as server:
        fetched = fetch(source_for(server.url), instant())
    assert len(server.received) == 3
    assert len(fetched.series) == 2


def test_500_every_time_fails_after_all_retries() -> None:
    broken = Reply({"status": "error", "errorType": "internal", "error": "boom"}, 500)
    with ScriptedServer(broken) as server:
        message = fetch_error(source_for(server.url, retries=2), instant())
    assert len(server.received) == 3
    assert message == (
        f"prometheus source 'prom' at {server.url}: "
        "HTTP 500 Internal Server Error after 3 attempts: internal: boom"
    )


def test_502_and_504_are_retried_too() -> None:
    with ScriptedServer(Reply(b"bad gateway", 502), Reply(b"", 504), Reply()) as server:
        fetch(source_for(server.url), instant())
    assert len(server.received) == 3


def test_400_is_not_retried_and_carries_the_prometheus_error() -> None:
    body = {
        "status": "error",
        "errorType": "bad_data",
        "error": "1:5: parse error: unclosed left parenthesis",
    }
    with ScriptedServer(Reply(body, 400)) as server:
        message = fetch_error(source_for(server.url), instant("sum("))
    assert len(server.received) == 1
    assert "bad_data: 1:5: parse error: unclosed left parenthesis" in message
    assert message.startswith(f"prometheus source 'prom' at {server.url}: ")


def test_4xx_without_a_prometheus_body_gets_a_hint() -> None:
    with ScriptedServer(Reply(b"<html>nope</html>", 404, content_type="text/html")) as server:
        message = fetch_error(source_for(server.url), instant())
    assert len(server.received) == 1
    assert "HTTP 404 Not Found" in message
    assert "path prefix" in message


def test_a_redirect_is_reported_not_followed() -> None:
    moved = Reply(b"", 302, headers={"Location": "/elsewhere"})
    with ScriptedServer(moved) as server:
        message = fetch_error(source_for(server.url), instant())
    assert len(server.received) == 1
    assert "HTTP 302" in message


def test_garbage_body_is_not_the_prometheus_api() -> None:
    with ScriptedServer(Reply(b"<html>login</html>", content_type="text/html")) as server:
        message = fetch_error(source_for(server.url), instant())
    assert "answered something that is not the Prometheus API" in message
    assert "text/html" in message


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"status": "success"},
        {"status": "success", "data": {"resultType": "vector", "result": {}}},
        {"status": "success", "data": {"resultType": "weird", "result": []}},
        success("vector", [{"metric": {}, "value": [T0_UNIX]}]),
        success("vector", [{"metric": {}, "value": [T0_UNIX, 1]}]),
        success("vector", [{"metric": {}, "value": [T0_UNIX, "one"]}]),
        success("vector", [{"metric": {"a": 1}, "value": [T0_UNIX, "1"]}]),
        success("matrix", [{"metric": {}, "values": "x"}]),
        success("matrix", ["x"]),
    ],
)
def test_unexpected_shapes_are_not_the_prometheus_api(body: Any) -> None:
    with ScriptedServer(Reply(body)) as server:
        message = fetch_error(source_for(server.url), instant())
    assert "answered something that is not the Prometheus API" in message


def test_http_200_with_status_error_is_an_error() -> None:
    body = {"status": "error", "errorType": "execution", "error": "many-to-many matching"}
    with ScriptedServer(Reply(body)) as server:
        message = fetch_error(source_for(server.url), instant())
    assert len(server.received) == 1
    assert message.endswith("the query failed: execution: many-to-many matching")


def test_a_stalled_server_times_out() -> None:
    # Had the timeout not cut the request, the stalled answer (a success) would come.
    with ScriptedServer(Reply(delay=10)) as server:
        message = fetch_error(source_for(server.url, timeout="200ms", retries=1), instant())
    assert message.endswith("timed out (timeout 200ms) after 2 attempts")
    assert len(server.received) == 2


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    message = fetch_error(source_for(url, retries=3), instant())
    assert message == f"prometheus source 'prom' at {url}: connection refused after 4 attempts"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    source = source_for("http://127.0.0.1:1", backoff="1s")
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        delays = [source._delay_before(retry) for _ in range(50)]
        assert all(0.8 * base <= d <= 1.2 * base for d in delays)
    assert source._delay_before(20) <= 10.0


# -- secrets ----------------------------------------------------------------------------


def test_secrets_never_appear_in_errors_endpoint_or_repr() -> None:
    broken = Reply({"status": "error", "errorType": "internal", "error": "boom"}, 500)
    with ScriptedServer(broken) as server:
        sources = [
            source_for(server.url, retries=0, auth={"bearer_token": "s3cr3t-token"}),
            source_for(
                server.url, retries=0, auth={"basic": {"username": "bob", "password": "hunter2"}}
            ),
            source_for(server.url.replace("//", "//bob:hunter2@"), retries=0),
        ]
        for source in sources:
            text = fetch_error(source, instant()) + source.endpoint + repr(source)
            assert "s3cr3t-token" not in text
            assert "hunter2" not in text
    assert sources[2].endpoint == server.url


def test_secrets_never_appear_in_a_refused_connection_error() -> None:
    url = f"http://bob:hunter2@127.0.0.1:{free_port()}/prom"
    source = source_for(url, retries=0)
    message = fetch_error(source, instant())
    assert "hunter2" not in message
    assert source.endpoint == url.replace("bob:hunter2@", "")


# -- construction -----------------------------------------------------------------------


def test_construction_does_no_io_and_applies_defaults() -> None:
    source = PrometheusSource.from_settings(
        "prometheus", {"type": "prometheus", "url": "http://unreachable.invalid:9090"}
    )
    assert source.endpoint == "http://unreachable.invalid:9090"
    assert source.type_name == "prometheus"
    assert source.source_id == "prometheus"
    config = source._config
    assert (config.timeout, config.retries, config.backoff, config.concurrency) == (30.0, 3, 0.5, 8)
    assert config.compression is False
    asyncio.run(source.aclose())  # closing a source that never fetched is fine


def test_settings_durations_numbers_and_flags_are_parsed() -> None:
    config = read_config(
        Settings({
            "url": "https://h/prom",
            "timeout": "1m30s",
            "retries": 0,
            "backoff": "250ms",
            "concurrency": 2,
            "compression": True,
            "tls": {"ca_file": "/nonexistent/ca.pem", "insecure_skip_verify": False},
        })
    )
    assert (config.timeout, config.retries, config.backoff, config.concurrency) == (
        90.0, 0, 0.25, 2)
    assert config.compression is True
    assert config.target.tls.ca_file == "/nonexistent/ca.pem"  # not read before the first fetch


def test_env_interpolated_values_arrive_as_text() -> None:
    config = read_config(Settings({"url": "http://h", "retries": "5", "concurrency": "16",
                                   "compression": "true",
                                   "tls": {"insecure_skip_verify": "false"}}))
    assert (config.retries, config.concurrency, config.compression) == (5, 16, True)
    assert config.target.tls.insecure_skip_verify is False


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"url": "ftp://h"}, "http:// or https://"),
        ({"url": "localhost:9090"}, "http:// or https://"),
        ({"url": "http://"}, "http:// or https://"),
        ({"url": "http://h:99999"}, "not a valid url"),
        ({"url": ""}, "url is required, e.g. http://localhost:9090"),
        ({"url": "http://h#top"}, "must not contain a #fragment"),
        ({"url": "http://h", "timeout": "soon"}, "timeout"),
        ({"url": "http://h", "timeout": "0s"}, "timeout: '0s' is zero"),
        ({"url": "http://h", "retries": -1}, "retries must be from 0 to 10, not -1"),
        ({"url": "http://h", "retries": 11}, "retries must be from 0 to 10, not 11"),
        ({"url": "http://h", "retries": True}, "retries must be a whole number"),
        ({"url": "http://h", "concurrency": 0}, "concurrency must be from 1 to 64"),
        ({"url": "http://h", "compression": "yes"}, "compression must be true or false, not 'yes'"),
        ({"url": "http://h", "compression": 1}, "compression must be true or false, not 1"),
        ({"url": "http://h", "tls": {"insecure_skip_verify": "yes"}},
         "tls.insecure_skip_verify must be true or false, not 'yes'"),
        (
            {
                "url": "http://h",
                "auth": {"bearer_token": "t", "basic": {"username": "u", "password": "p"}},
            },
            "bearer_token and basic",
        ),
        ({"url": "http://u:p@h", "auth": {"bearer_token": "t"}}, "not bearer_token and user"),
        ({"url": "http://h", "auth": {"basic": {"password": "p"}}},
         "auth.basic.username is required"),
        ({"url": "http://h", "auth": {"basic": {"username": "a:b", "password": "p"}}},
         "cannot contain ':'"),
        ({"url": "http://h", "headers": {"Bad Name": "v"}}, "not a valid HTTP header name"),
        ({"url": "http://h", "headers": {"X-A": "line\nbreak"}}, "one line"),
        ({"url": "http://h", "headers": {"X-A": 1}}, "every value of headers must be a string"),
        (
            {"url": "http://h", "headers": {"Authorization": "x"}, "auth": {"bearer_token": "t"}},
            "not both",
        ),
        ({"url": "http://h", "tls": {"key_file": "k.pem"}}, "cert_file"),
    ],
)
def test_impossible_settings_raise_value_error(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        PrometheusSource.from_settings("p", settings)


@pytest.mark.parametrize("url", [
    "gopher://bob:hunter2@h",
    "http://bob:pa/ss-hunter2@h",  # the parser takes `bob:pa` for the host: an invalid port
    "http://bob:pa#ss-hunter2@h",
    "http://bob:pa?ss-hunter2@h",
    "http://bob:hunter2@h#frag",
])
def test_value_errors_do_not_echo_credentials(url: str) -> None:
    with pytest.raises(ValueError, match=r"^url '\w+://h\b") as caught:
        PrometheusSource.from_settings("p", {"url": url})
    assert "hunter2" not in str(caught.value)
    assert "bob" not in str(caught.value)


def test_an_empty_optional_token_means_no_auth() -> None:
    with ScriptedServer() as server:
        fetch(source_for(server.url, auth={"bearer_token": ""}), instant())
    assert "authorization" not in server.received[0].headers


# -- TLS --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed: apt-get install -y openssl (bash .ci/setup does)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[ScriptedServer]:
    cert, key = tls_files
    server = ScriptedServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    with server:
        yield server


def test_tls_with_the_servers_ca_file(
    tls_server: ScriptedServer, tls_files: tuple[Path, Path]
) -> None:
    fetched = fetch(source_for(tls_server.url, tls={"ca_file": str(tls_files[0])}), instant())
    assert len(fetched.series) == 2


def test_tls_insecure_skip_verify(tls_server: ScriptedServer) -> None:
    fetched = fetch(source_for(tls_server.url, tls={"insecure_skip_verify": True}), instant())
    assert len(fetched.series) == 2


def test_tls_unknown_certificate_fails_without_retrying(tls_server: ScriptedServer) -> None:
    message = fetch_error(source_for(tls_server.url, retries=3), instant())
    assert "certificate verification failed" in message
    assert tls_server.accepted == 1  # one connection: a retry would only fail again
    assert tls_server.received == []


def test_tls_missing_ca_file_is_a_source_error(tls_server: ScriptedServer) -> None:
    message = fetch_error(
        source_for(tls_server.url, tls={"ca_file": "/nonexistent/ca.pem"}), instant()
    )
    assert "cannot load the TLS files (/nonexistent/ca.pem)" in message


# -- a real Prometheus -------------------------------------------------------------------


def _openmetrics() -> str:
    """Two gauges, one sample a minute for 30 minutes from 2025-01-15T00:00:00Z."""
    lines = ["# HELP demo_temperature Room temperature.", "# TYPE demo_temperature gauge"]
    for room, base in (("hall", 18.0), ("lab", 20.0)):
        lines += [
            f'demo_temperature{{room="{room}"}} {base + i * 0.5} {T0_UNIX + 60 * i}'
            for i in range(31)
        ]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def real_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "data.om").write_text(_openmetrics())
    backfill(folder / "data.om", folder / "tsdb")
    with PrometheusServer(folder / "tsdb", folder) as server:
        yield server.url


def real(url: str) -> PrometheusSource:
    return PrometheusSource.from_settings("prometheus", {"url": url, "retries": 0})


@pytest.mark.prometheus
def test_real_instant_query(real_prometheus: str) -> None:
    fetched = fetch(real(real_prometheus), instant('demo_temperature{room="lab"}'))
    [series] = fetched.series
    assert series.labels == {"__name__": "demo_temperature", "room": "lab"}
    assert series.points == ((T0_UNIX + 600.0, 25.0),)


@pytest.mark.prometheus
def test_real_range_query_has_window_over_step_plus_one_points(real_prometheus: str) -> None:
    fetched = fetch(real(real_prometheus), ranged("sum(demo_temperature)", minutes=10, step=30))
    [series] = fetched.series
    assert series.labels == {}
    assert len(series.points) == 600 // 30 + 1
    assert series.points[0] == (T0_UNIX, 38.0)
    assert series.points[-1] == (T0_UNIX + 600, 48.0)


@pytest.mark.prometheus
def test_real_scalar_query(real_prometheus: str) -> None:
    fetched = fetch(real(real_prometheus), instant('scalar(demo_temperature{room="hall"})'))
    assert [(dict(s.labels), s.points) for s in fetched.series] == [
        ({}, ((T0_UNIX + 600.0, 23.0),))
    ]


@pytest.mark.prometheus
def test_real_parse_error_is_reported(real_prometheus: str) -> None:
    message = fetch_error(real(real_prometheus), instant("sum(demo_temperature"))
    assert message.startswith(f"prometheus source 'prometheus' at {real_prometheus}: ")
    assert "bad_data: " in message
    assert "parse error" in message


@pytest.mark.prometheus
def test_real_empty_result(real_prometheus: str) -> None:
    fetched = fetch(real(real_prometheus), instant('demo_temperature{room="nowhere"}'))
    assert fetched == Fetched(series=())


@pytest.mark.prometheus
def test_real_query_outside_the_data_is_empty(real_prometheus: str) -> None:
    fetched = fetch(real(real_prometheus), instant("demo_temperature", at=T0 - timedelta(days=1)))
    assert fetched.series == ()


# -- a token in the url, through a whole run ---------------------------------------------

TOKEN = "SECRET-4b1d-query-token"
TOKEN_POLICY = """\
version: 1
name: token-in-url
title: A Prometheus that takes its token in the query string
sources:
  prometheus:
    type: prometheus
    url: ${GACERT_TEST_PROMETHEUS_URL}
    retries: 0
checks:
  - id: targets_up
    title: Some targets are up
    source: prometheus
    query: count(up)
    fail: value < 1
  - id: refused
    title: A query Prometheus refuses when it runs it
    source: prometheus
    query: up + on() up
    fail: value < 0
"""


def _written_texts(folder: Path) -> dict[str, str]:
    """Every file under `folder`, and every member of every tarball, as text."""
    texts: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        texts[f"{path}!{member.name}"] = extracted.read().decode(
                            "utf-8", errors="replace")
    return texts


@pytest.mark.prometheus
def test_a_token_in_the_url_reaches_prometheus_and_no_output(
    prometheus: PrometheusServer, tmp_path: Path
) -> None:
    # Prometheus ignores query parameters it does not know: the token rides along.
    (tmp_path / "policy.yaml").write_text(TOKEN_POLICY)
    start, end = scenario_window("clean")
    url = f"{prometheus.url}/?access_token={TOKEN}"
    proc = subprocess.run(
        [sys.executable, "-m", "gacert", "run", "policy.yaml", "--no-pdf", "-v",
         "--start", f"{start:%Y-%m-%dT%H:%M:%SZ}", "--end", f"{end:%Y-%m-%dT%H:%M:%SZ}",
         "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        env={**os.environ, "GACERT_TEST_PROMETHEUS_URL": url})
    assert "Traceback" not in proc.stderr, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    checks = {c["id"]: c for c in results["checks"]}
    assert checks["targets_up"]["status"] == "pass"
    assert checks["refused"]["status"] == "error"
    # The error names the source by its redacted url: the path a secret would take.
    shown = f"{prometheus.url}/?access_token=REDACTED"
    assert shown in checks["refused"]["error"]
    assert results["sources"][0]["endpoint"] == shown
    texts = _written_texts(tmp_path)
    assert any(name.endswith(".tar.gz") for name in texts)
    assert len(texts) > 5
    for name, text in [*texts.items(), ("stdout", proc.stdout), ("stderr", proc.stderr)]:
        assert TOKEN not in text, name
    assert shown in proc.stdout + proc.stderr


def test_a_bad_url_never_prints_a_password_holding_a_slash(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(TOKEN_POLICY)
    proc = subprocess.run(
        [sys.executable, "-m", "gacert", "run", "policy.yaml", "--no-pdf", "--duration", "1h",
         "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
        env={**os.environ, "GACERT_TEST_PROMETHEUS_URL": "http://alice:pa/ss-0e7f@127.0.0.1"})
    assert proc.returncode == 2
    assert "sources.prometheus: url 'http://127.0.0.1' is not a valid url" in proc.stderr
    assert "Traceback" not in proc.stderr
    for text in (proc.stdout, proc.stderr):
        assert "0e7f" not in text
        assert "pa/ss" not in text
