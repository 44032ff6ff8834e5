"""Where a probe connects and how it proves who it is: its URL, headers, credentials, TLS.

Shared by the http and websocket probes. Secrets (a bearer token, a basic
password, a user:password in the URL, a token in the query string) go into
requests only: the redacted URL and the header *names* are what results,
reports and error messages show. Building the TLS context reads files, so it
happens at fetch time, never in `from_settings`.
"""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gacert.sources.settings import Settings

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Query parameters whose value is likely a credential (`?access_token=...`, `?sig=...`).
_SECRET_PARAM = re.compile(r"token|key|secret|password|passwd|auth|sig|credential|session",
                           re.IGNORECASE)
REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    """`url` without user:password and with secret-looking query values replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an invalid url)"
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs],
                          safe=REDACTED)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


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
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return parts.username, parts.password or ""


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
    given = [name for name, present in (("bearer_token", token), ("basic", basic.has("username")),
                                        ("user:password in the url", from_url)) if present]
    if len(given) > 1:
        raise ValueError(f"give at most one kind of credentials, not {' and '.join(given)}")
    if token:
        check_header("Authorization", token)
        return f"Bearer {token}"
    pair = (basic.required_text("username", "gacert"), basic.text("password") or "") \
        if basic.has("username") else from_url
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
    """The `tls` settings of a probe; `context()` loads the files."""

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
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def files(self) -> str:
        return ", ".join(f for f in (self.ca_file, self.cert_file, self.key_file) if f)
