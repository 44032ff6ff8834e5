"""The http probe against real servers on 127.0.0.1: the standard library's HTTP
server told how to answer, raw sockets that stall, drop or answer garbage, and
`python -m http.server` as a peer serving files.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from probe_support import as_json, build, fetch_all, measure, value

from gacert.demo.prometheus import free_port
from gacert.demo.servers import HttpBehaviour, HttpServer, RawTcpServer
from gacert.errors import SourceError
from gacert.sources import source_type
from gacert.sources.http import HttpProbe

HttpFactory = Callable[..., HttpServer]
RawFactory = Callable[[str], RawTcpServer]


def found(url: str, **settings: Any) -> dict[str, Any]:
    return dict(measure("http", {"url": url, **settings}).measurements)


# -- measurements match what the server was told to do ----------------------------------


def test_a_100_ms_answer_is_never_measured_as_quicker(http_server: HttpFactory) -> None:
    slow = found(http_server(HttpBehaviour(delay=0.1)).url, requests=20, concurrency=5)
    assert slow["success_rate"] == 100.0
    assert slow["requests"] == {"total": 20, "succeeded": 20, "failed": 0}
    # The server sleeps 100 ms before it answers: no request can take less.
    latency = slow["latency"]
    assert 100.0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]


def test_a_300_ms_answer_measures_more_than_an_immediate_one(http_server: HttpFactory) -> None:
    # One request at a time: five at once on a machine loaded ten times over its
    # two CPUs took 220 ms each without any delay.
    slow = found(http_server(HttpBehaviour(delay=0.3)).url, requests=3)
    quick = found(http_server().url, requests=3)
    assert quick["latency"]["p50"] < slow["latency"]["p50"]


def test_concurrent_requests_overlap(http_server: HttpFactory) -> None:
    server = http_server(HttpBehaviour(delay=0.1))
    one = found(server.url, requests=5, concurrency=1)
    five = found(server.url, requests=20, concurrency=5)
    # At least 100 ms each: at most 10 requests a second one at a time, 50 five at a time.
    assert one["throughput"] <= 10.0
    assert five["throughput"] <= 50.0
    # Five at a time is five times as fast, were nothing else slow; twice is a wide margin.
    assert five["throughput"] > 2 * one["throughput"]


def test_a_500_for_one_request_in_five_gives_80_percent(http_server: HttpFactory) -> None:
    server = http_server(HttpBehaviour(fail_every=5))
    measured = found(server.url, requests=20)
    assert measured["success_rate"] == 80.0
    assert measured["status_codes"] == {"200": 16, "500": 4}
    assert measured["status_classes"] == {"1xx": 0, "2xx": 16, "3xx": 0, "4xx": 0, "5xx": 4}
    assert measured["failures"]["status"] == 4
    # An answer with a failing status is still timed: the page did come back.
    assert not math.isnan(measured["latency"]["p99"])


def test_bytes_are_the_body_sizes(http_server: HttpFactory) -> None:
    server = http_server(HttpBehaviour(body=b"x" * 1000))
    measured = found(server.url, requests=4)
    assert measured["bytes"] == {"total": 4000, "avg": 1000.0}


def test_a_duration_makes_requests_until_it_is_over(http_server: HttpFactory) -> None:
    server = http_server(HttpBehaviour(delay=0.1))
    fetched = measure("http", {"url": server.url, "duration": "1s", "concurrency": 2})
    total = fetched.measurements["requests"]["total"]
    assert server.requests == total
    # Each of the two workers starts a request only before the end, one at most every
    # 100 ms, and stops at the first it would start after the end. (The duration
    # includes making the HTTP client, which took 0.4 s on a loaded machine: a
    # second leaves room for requests.)
    assert 2 <= total <= 2 * 10
    assert all(sample["at_s"] <= 1.0 for sample in fetched.evidence["samples"])
    assert fetched.evidence["duration_s"] >= 1.0


# -- servers that misbehave ---------------------------------------------------------------


def test_nothing_listening_is_refused_every_time() -> None:
    fetched = measure("http", {"url": f"http://127.0.0.1:{free_port()}/", "requests": 3})
    assert value(fetched) == 0.0
    assert fetched.measurements["failures"]["refused"] == 3
    assert math.isnan(fetched.measurements["latency"]["p50"])
    assert fetched.evidence["errors"] == [{"cause": "refused", "detail": "connection refused",
                                           "count": 3}]


def test_a_server_that_stalls_times_out(raw_server: RawFactory) -> None:
    server = raw_server("stall")
    started = time.perf_counter()
    fetched = measure("http", {"url": f"http://{server.url}/", "requests": 2, "timeout": "100ms"})
    assert fetched.measurements["failures"]["timeout"] == 2
    assert fetched.evidence["errors"] == [{"cause": "timeout", "count": 2,
                                           "detail": "no full answer within 0.1 s"}]
    # The server never answers: without the timeout this would not end. 25 times the
    # two timeouts is far beyond what a loaded machine adds.
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize(("mode", "cause"), [
    pytest.param("garbage", "protocol", id="garbage instead of HTTP is a protocol failure"),
    pytest.param("drop", "disconnected", id="a reset connection is a disconnect"),
])
def test_servers_that_are_not_http(raw_server: RawFactory, mode: str, cause: str) -> None:
    server = raw_server(mode)
    measured = found(f"http://{server.url}/", requests=2)
    assert measured["success_rate"] == 0.0
    assert measured["failures"][cause] == 2


# -- assertions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("expect", "path", "ok"), [
    pytest.param({"body_contains": "All services operational"}, "", True,
                 id="body text that is there passes"),
    pytest.param({"body_contains": "Maintenance"}, "", False,
                 id="body text that is missing fails the request"),
    pytest.param({"json": {"status": "ok", "services": 4}}, "api/health", True,
                 id="JSON values that match pass"),
    pytest.param({"json": {"status": "degraded"}}, "api/health", False,
                 id="a JSON value that differs fails the request"),
    pytest.param({"json": {"status": "ok"}}, "", False,
                 id="a body that is not JSON fails a JSON assertion"),
    pytest.param({"status": [404]}, "", False, id="an unexpected status fails"),
    pytest.param({"status": "2xx"}, "", True, id="a status class is accepted"),
])
def test_assertions(http_server: HttpFactory, expect: dict[str, Any], path: str,
                    ok: bool) -> None:
    server = http_server()
    fetched = measure("http", {"url": server.url + path, "requests": 2, "expect": expect})
    assert value(fetched) == (100.0 if ok else 0.0)
    if not ok:
        assert fetched.evidence["errors"][0]["cause"] in ("assertion", "status")


def test_a_json_assertion_says_what_it_found(http_server: HttpFactory) -> None:
    server = http_server()
    fetched = measure("http", {"url": server.url + "api/health", "requests": 1,
                               "expect": {"json": {"status": "degraded"}}})
    assert fetched.evidence["errors"][0]["detail"] == "json status is 'ok', not 'degraded'"


# -- what the probe sends --------------------------------------------------------------------


def test_credentials_are_sent_and_never_recorded(http_server: HttpFactory) -> None:
    token = "http-t0ken-5ecret"
    server = http_server()
    source = build("http", {"url": server.url + f"?api_key={token}", "requests": 2,
                            "auth": {"bearer_token": token}, "headers": {"X-Org": "tars"}})
    fetched = fetch_all(source, "success_rate")[0]
    assert value(fetched) == 100.0
    assert server.seen_headers[0]["Authorization"] == f"Bearer {token}"
    assert server.seen_headers[0]["X-Org"] == "tars"
    assert token not in as_json(fetched)
    assert token not in source.endpoint
    assert fetched.evidence["probe"]["headers"] == ["Authorization", "X-Org"]


def test_basic_auth_from_the_url_is_sent_as_a_header(http_server: HttpFactory) -> None:
    server = http_server()
    url = server.url.replace("http://", "http://grafana:pa55word@")
    source = build("http", {"url": url, "requests": 1})
    assert value(fetch_all(source, "success_rate")[0]) == 100.0
    assert server.seen_headers[0]["Authorization"] == "Basic Z3JhZmFuYTpwYTU1d29yZA=="
    assert "pa55word" not in source.endpoint


def test_a_post_sends_its_json_body(http_server: HttpFactory) -> None:
    server = http_server()
    measured = found(server.url, requests=2, method="POST", json={"query": "up"})
    assert measured["success_rate"] == 100.0
    assert server.seen_headers[0]["Content-Length"] == str(len('{"query": "up"}'))


# -- a peer written elsewhere -----------------------------------------------------------------


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """`python -m http.server` serving a directory with one 50 kB page."""
    (tmp_path / "dashboard.html").write_bytes(b"<html>" + b"." * 50_000 + b"</html>")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                "127.0.0.1", "--directory", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url)
        yield url
    finally:
        process.terminate()
        process.wait(5)


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{url} did not come up", pytrace=False)


def test_python_http_server_serves_the_page(file_server: str) -> None:
    measured = found(file_server + "dashboard.html", requests=5, concurrency=2,
                     expect={"body_contains": "</html>"})
    assert measured["success_rate"] == 100.0
    assert measured["bytes"]["avg"] == 50_013
    missing = found(file_server + "missing.html", requests=1)
    assert missing["status_codes"] == {"404": 1}


# -- one run for every check, and plain errors -------------------------------------------------


def test_several_checks_share_one_probe_run(http_server: HttpFactory) -> None:
    server = http_server()
    fetched = fetch_all(build("http", {"url": server.url, "requests": 3}),
                        "success_rate", "latency.p95", "failures.timeout")
    assert server.requests == 3
    assert set(fetched[0].measurements) == set(source_type("http").measurements)
    assert [value(f) for f in fetched][2] == 0.0


def test_an_unknown_measurement_names_the_valid_ones(http_server: HttpFactory) -> None:
    server = http_server()
    with pytest.raises(SourceError, match=r"query 'latency\.p90': no latency\.p90; there is: "
                                          r"latency\.min, latency\.avg"):
        measure("http", {"url": server.url, "requests": 1}, "latency.p90")


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({"url": "ftp://x/"}, "must start with http:// or https://", id="an ftp url"),
    pytest.param({"url": "http://x/", "requests": 5, "duration": "1m"},
                 "give requests or duration, not both", id="requests and duration"),
    pytest.param({"url": "http://x/", "method": "FETCH"}, "method must be one of",
                 id="an unknown method"),
    pytest.param({"url": "http://x/", "body": "a", "json": {}}, "give body or json, not both",
                 id="two bodies"),
    pytest.param({"url": "http://x/", "expect": {"status": ["2xx", 700]}},
                 "700 is not a status", id="a status that does not exist"),
    pytest.param({"url": "http://x/", "headers": {"Bad Name": "x"}},
                 "is not a valid HTTP header name", id="a bad header name"),
    pytest.param({"url": "http://x/", "tls": {"key_file": "k.pem"}},
                 "tls.key_file needs tls.cert_file", id="a key without a certificate"),
    pytest.param({"url": "http://x/", "concurrency": 0}, "concurrency must be from 1 to 256",
                 id="zero concurrency"),
])
def test_impossible_settings_are_refused_before_any_io(settings: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpProbe.from_settings("web", settings)
