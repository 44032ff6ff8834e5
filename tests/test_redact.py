"""`gacert.redact.redact_url`: the one redaction of every url gacert shows."""

from __future__ import annotations

import pytest

from gacert.redact import REDACTED, is_secret_parameter, printable, redact_text, redact_url


@pytest.mark.parametrize(("url", "shown"), [
    # Nothing secret: shown exactly as written.
    ("http://prometheus:9090", "http://prometheus:9090"),
    ("https://grafana/d/x?orgId=1&from=now-1h", "https://grafana/d/x?orgId=1&from=now-1h"),
    ("http://h/q?a=b%20c&d=%2F", "http://h/q?a=b%20c&d=%2F"),
    ("localhost:9090", "localhost:9090"),
    # An `@` plainly in the path of a url without userinfo or port stays.
    ("https://social.example/@gacert", "https://social.example/@gacert"),
    ("http://[::1]/x@y", "http://[::1]/x@y"),
    # User and password.
    ("http://bob:hunter2@127.0.0.1:9090/prom", "http://127.0.0.1:9090/prom"),
    ("http://bob@h/", "http://h/"),
    ("http://bob:p@ss@h/", "http://h/"),
    ("postgresql://app:pg@db/tars", "postgresql://db/tars"),
    ("bob:hunter2@h:9090", "h:9090"),
    # Passwords holding `/`, `#` or `?`: a parser sees `alice:pa` as host and port.
    ("http://alice:pa/ss@host", "http://host"),
    ("http://alice:pa#ss@host/x", "http://host/x"),
    ("http://alice:pa?ss@host:9090/", "http://host:9090/"),
    ("http://alice:1234/5@host", "http://host"),
    ("http://alice:pa/ss@host/prom?access_token=t", "http://host/prom?access_token=REDACTED"),
    # Query and fragment parameters that carry secrets; the others stay.
    ("wss://user:pw@tars.example.com/ws?token=abc&room=1",
     "wss://tars.example.com/ws?token=REDACTED&room=1"),
    ("http://h/?api_key=k&sig=s", "http://h/?api_key=REDACTED&sig=REDACTED"),
    ("http://h/cb#access_token=t&state=1", "http://h/cb#access_token=REDACTED&state=1"),
    ("https://b.s3/o?X-Amz-Credential=c&X-Amz-Signature=s&x-id=GetObject",
     "https://b.s3/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&x-id=GetObject"),
    ("http://h/?sig=a%3D%3D;key=b", "http://h/?sig=REDACTED;key=REDACTED"),
    ("--url=http://u:p@h/?token=t", "--url=http://h/?token=REDACTED"),
])
def test_urls_are_shown_without_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("name", [
    "access_token", "token", "api_key", "apikey", "key", "password", "secret", "signature",
    "sig", "auth", "ACCESS_TOKEN", "Api_Key", "PassWord", "X-Auth", "client_secret", "passwd",
    "access%5Ftoken",
])
def test_every_secret_parameter_is_redacted_whatever_its_case(name: str) -> None:
    assert is_secret_parameter(name)
    assert redact_url(f"http://h/?{name}=s3cr3t&step=60") == f"http://h/?{name}={REDACTED}&step=60"


@pytest.mark.parametrize("name", ["query", "step", "orgId", "room", "from", "time"])
def test_ordinary_parameters_are_kept(name: str) -> None:
    assert not is_secret_parameter(name)


@pytest.mark.parametrize(("text", "shown"), [
    ("connect to http://alice:pa/ss@host:9090/x failed", "connect to http://host:9090/x failed"),
    ("GET https://h/q?access_token=t&step=60: 502",
     "GET https://h/q?access_token=REDACTED&step=60: 502"),
    ("sent 'Authorization: Bearer abcdefgh1234'", "sent 'Authorization: Bearer REDACTED'"),
    ("no secrets here: up == 1", "no secrets here: up == 1"),
])
def test_urls_and_tokens_inside_messages_are_redacted(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_printable_shows_control_characters_and_hides_secrets() -> None:
    text = "svc=\x1b[2J\x1b[32mverdict: PASS\u202e\r at http://u:p@h/"
    assert printable(text) == "svc=\\x1b[2J\\x1b[32mverdict: PASS\\u202e\\x0d at http://h/"
    assert printable("a\nb\tc") == "a\nb\tc"
    assert printable("a\nb\tc", one_line=True) == "a\\x0ab\\x09c"
