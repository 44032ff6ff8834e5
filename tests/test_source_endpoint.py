"""One behaviour for every network source (prometheus, http, websocket): what a url
may be, how it is shown, which flags are booleans, how credentials are read.

Each source reads these settings with `gacert.sources.Endpoint` and
`gacert.sources.Settings`; these tests hold the three to the same answers.
"""

from __future__ import annotations

import base64
import re
import ssl
from typing import Any

import pytest
from probe_support import build

from gacert.errors import SourceError
from gacert.sources import Endpoint, Settings, Tls

SCHEMES = {"prometheus": "http", "http": "http", "websocket": "ws"}
TYPES = list(SCHEMES)


def settings_for(type_name: str, url: str, **more: Any) -> dict[str, Any]:
    return {"type": type_name, "url": url.replace("http", SCHEMES[type_name], 1), **more}


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("url", [
    "http://alice:pa/ss-0e7f@127.0.0.1",
    "http://alice:pa#ss-0e7f@127.0.0.1",
    "http://alice:pa?ss-0e7f@127.0.0.1:9",
])
def test_a_bad_url_is_refused_without_its_password(type_name: str, url: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid url|must not contain") as caught:
        build(type_name, settings_for(type_name, url))
    message = str(caught.value)
    assert "0e7f" not in message
    assert "alice" not in message
    assert "127.0.0.1" in message  # what is left of the url still says which one


@pytest.mark.parametrize("type_name", TYPES)
def test_the_endpoint_hides_user_password_and_query_tokens(type_name: str) -> None:
    source = build(type_name, settings_for(
        type_name, "http://bob:hunter2@127.0.0.1:9/x?Access_Token=tok-9&room=1"))
    scheme = SCHEMES[type_name]
    assert source.endpoint == f"{scheme}://127.0.0.1:9/x?Access_Token=REDACTED&room=1"
    assert "hunter2" not in repr(source)
    assert "tok-9" not in repr(source)


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("flag", ["yes", "on", "1", "no", "enabled"])
def test_a_flag_is_true_or_false_and_nothing_else(type_name: str, flag: str) -> None:
    settings = settings_for(type_name, "https://h", tls={"insecure_skip_verify": flag})
    with pytest.raises(ValueError, match=re.escape(
            f"tls.insecure_skip_verify must be true or false, not {flag!r}")):
        build(type_name, settings)


@pytest.mark.parametrize(("text", "meant"), [
    ("true", True), ("false", False), (" TRUE ", True), ("False", False), ("", False)])
def test_a_flag_from_an_environment_reference_arrives_as_text(text: str, meant: bool) -> None:
    # `insecure_skip_verify: ${SKIP_VERIFY:-false}` reaches the source as "false".
    assert Settings({"tls": {"on": text}}).section("tls").flag("on") is meant


def test_the_same_settings_give_the_same_endpoint() -> None:
    settings = Settings({
        "url": "https://u:p%20w@h/x?token=t",
        "headers": {"X-Scope-OrgID": "tenant-1"},
        "tls": {"insecure_skip_verify": True, "ca_file": "ca.pem"},
    })
    target = Endpoint.from_settings(settings, ("http", "https"), "https://h")
    assert target.url == "https://h/x?token=t"  # the token is sent, the user:password too...
    assert target.headers == {  # ...percent-decoded, as basic authentication
        "X-Scope-OrgID": "tenant-1",
        "Authorization": "Basic " + base64.b64encode(b"u:p w").decode()}
    assert target.shown == "https://h/x?token=REDACTED"
    assert target.tls == Tls(insecure_skip_verify=True, ca_file="ca.pem")


def test_tls_is_loaded_only_for_a_url_that_uses_it() -> None:
    tls = Tls(ca_file="/nonexistent/ca.pem")
    assert tls.context_for("http://h", "label") is None
    assert tls.context_for("ws://h", "label") is None
    for url in ("https://h", "HTTPS://h", "wss://h"):
        with pytest.raises(SourceError, match=r"^label: cannot load the TLS files "
                                              r"\(/nonexistent/ca\.pem\)"):
            tls.context_for(url, "label")
    skip = Tls(insecure_skip_verify=True).context_for("https://h", "label")
    assert skip is not None
    assert skip.verify_mode == ssl.CERT_NONE
