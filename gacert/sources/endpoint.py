"""Where a network source connects and how it proves who it is: its URL, headers,
credentials, TLS.

Shared by the prometheus source and the http and websocket probes, and offered
to plugin authors through `gacert.sources`. Secrets (a bearer token, a basic
password, a user:password in the URL, a token in the query string) go into
requests only: the redacted URL (`gacert.redact.redact_url`) and the header
*names* are what results, reports and error messages show. Building the TLS
context reads files, so it happens at fetch time, never in `from_settings`.
Only the standard library is used, and `ssl` only once a context is built, so
that `gacert validate` stays quick.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from gacert.errors import SourceError
from gacert.redact import redact_url
from gacert.sources.settings import Settings

if TYPE_CHECKING:
    import ssl

__all__ = ["Endpoint", "Tls", "check_header", "check_url", "header_names", "redact_url",
           "request_headers"]

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and what to send: read from a source's `url`, `headers`,
    `auth` and `tls` settings by `Endpoint.from_settings`."""

    # Both hold secrets, so neither is in the repr.
    url: str = field(repr=False)  # as sent: user:password moved into `headers`, a token kept
    shown: str  # redacted, for results, reports and messages
    headers: Mapping[str, str] = field(repr=False)  # `headers` plus the Authorization
    tls: Tls

    @classmethod
    def from_settings(cls, settings: Settings, schemes: Sequence[str], example: str) -> Endpoint:
        """Check and read the settings; `example` is a url shown when `url` is missing."""
        url = settings.required_text("url", example)
        shown = check_url(url, schemes)
        return cls(url=strip_credentials(url), shown=shown,
                   headers=request_headers(settings, url),
                   tls=Tls.from_settings(settings.section("tls")))


def check_url(url: str, schemes: Sequence[str]) -> str:
    """Return the redacted `url`; raise ValueError unless it has one of `schemes` and a host."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"url {shown!r} is not a valid url") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"url {shown!r} must start with {wanted} and name a host")
    if parts.fragment:
        raise ValueError(f"url {shown!r} must not contain a #fragment")
    return shown


def url_credentials(url: str) -> tuple[str, str] | None:
    """The user and password of `url`, percent-decoded (`pa%20ss` is `pa ss`)."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


def strip_credentials(url: str) -> str:
    """`url` without its user:password, which the client sends as a header instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path,
                       parts.query, parts.fragment))


def request_headers(settings: Settings, url: str) -> dict[str, str]:
    """`headers` plus the Authorization header that `auth` (or the url's user:password) asks for."""
    headers = settings.string_map("headers")
    for name, value in headers.items():
        check_header(name, value)
    authorization = _authorization(settings.section("auth"), url_credentials(url))
    if authorization is not None:
        if any(name.lower() == "authorization" for name in headers):
            raise ValueError("give the Authorization header or auth, not both")
        headers["Authorization"] = authorization
    return headers


def _authorization(auth: Settings, from_url: tuple[str, str] | None) -> str | None:
    # A token read from a file or a secret store often ends in a newline.
    token = (auth.text("bearer_token") or "").strip() or None
    basic = auth.section("basic")
    # A password without a user name is a mistake, not a wish for no credentials.
    has_basic = basic.has("username") or basic.has("password")
    given = [name for name, present in (("bearer_token", token), ("basic", has_basic),
                                        ("user:password in the url", from_url)) if present]
    if len(given) > 1:
        raise ValueError(f"give at most one kind of credentials, not {' and '.join(given)}")
    if token:
        check_header("Authorization", token)
        return f"Bearer {token}"
    pair = (basic.required_text("username", "gacert"), basic.text("password") or "") \
        if has_basic else from_url
    if pair is None:
        return None
    if ":" in pair[0]:
        raise ValueError("a basic auth username cannot contain ':'")
    encoded = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode("ascii")
    return f"Basic {encoded}"


def check_header(name: str, value: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise ValueError(f"header name {name!r} is not a valid HTTP header name")
    # The value may be a secret: say what is wrong with it, never what it is.
    if not isinstance(value, str) or not value.isascii() or any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name} must be one line of ASCII text")


def header_names(headers: Mapping[str, str]) -> list[str]:
    """What results may record of the headers sent: their names."""
    return sorted(headers)


@dataclass(frozen=True)
class Tls:
    """The `tls` settings of a source; `context()` loads the files."""

    insecure_skip_verify: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def from_settings(cls, tls: Settings) -> Tls:
        value = cls(tls.flag("insecure_skip_verify"), tls.text("ca_file"),
                    tls.text("cert_file"), tls.text("key_file"))
        if value.key_file and not value.cert_file:
            raise ValueError("tls.key_file needs tls.cert_file, the client certificate it "
                             "belongs to")
        return value

    def context(self) -> ssl.SSLContext:
        """The client TLS context; raises OSError or ssl.SSLError for unusable files."""
        import ssl

        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def context_for(self, url: str, label: str) -> ssl.SSLContext | None:
        """The context for connecting to `url`, None when it does not use TLS; files that
        cannot be used are a SourceError that starts with `label`."""
        if urlsplit(url).scheme.lower() not in ("https", "wss"):
            return None
        try:
            return self.context()
        except OSError as exc:  # ssl.SSLError is an OSError too
            files = ", ".join(f for f in (self.ca_file, self.cert_file, self.key_file) if f)
            raise SourceError(f"{label}: cannot load the TLS files ({files}): {exc}") from exc
