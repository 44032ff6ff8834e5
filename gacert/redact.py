"""One redaction for everything gacert shows: endpoints, error messages, recorded
commands, terminal lines and text reports (`printable`).

A URL reaches a policy with its secrets in it (`http://alice:pa55@host`,
`?access_token=...`); the secrets are sent, never shown. `redact_url` drops
the user:password and replaces the value of every query (and fragment)
parameter whose name says it carries a secret. It works on the text, not on
a parse, because the URLs that most need it are the broken ones: a password
holding `/`, `?` or `#` (`http://alice:pa/ss@host`) makes a parser see
`alice:pa` as the host and the rest of the password as a path.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from gacert.formatting import visible_controls

__all__ = ["REDACTED", "is_secret_parameter", "printable", "redact_text", "redact_url"]

REDACTED = "REDACTED"

# A parameter whose name contains one of these carries a credential:
# access_token, api_key, apikey, key, password, secret, X-Amz-Signature, sig, auth...
_SECRET_WORDS = ("token", "key", "secret", "password", "passwd", "pwd", "auth", "sig",
                 "credential", "session", "jwt")
# A value ends where a url cannot go on: at `&`, `;`, `#`, a space or a quote (a url
# quoted in a shell command).
_PARAMETER = re.compile(r"(?P<name>[^&;=?#]+)=(?P<value>[^&;#\s'\"]*)")


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter (or header) of this name likely carries a credential."""
    lowered = unquote_plus(name).lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact_url(url: str) -> str:
    """`url` without user:password and with the values of secret parameters replaced.

    Everything else stays as written, so that a URL without secrets is shown as
    configured. When it is unclear whether an `@` ends a password or belongs to
    the path, the text up to it is dropped: a mangled URL on screen costs less
    than a leaked password.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    rest = _without_userinfo(rest)
    path_end = _first_of(rest, "?#")
    address, tail = rest[:path_end], rest[path_end:]
    return f"{scheme}{separator}{address}{_redact_parameters(tail)}"


# A url inside free text (an error message, a program's output) runs to a space or
# a quote; an Authorization value follows its scheme word.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_CREDENTIAL_IN_TEXT = re.compile(r"\b(?P<scheme>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}",
                                 re.IGNORECASE)


def redact_text(text: str) -> str:
    """`text` with every url in it redacted (`redact_url`) and every `Bearer <token>`
    or `Basic <credentials>` replaced: for messages and output that quote them."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _CREDENTIAL_IN_TEXT.sub(lambda m: f"{m['scheme']} {REDACTED}", text)


def printable(text: str, *, one_line: bool = False) -> str:
    """The one function every message, terminal line and text report goes through:
    secrets redacted, control characters shown as escapes (see `visible_controls`)."""
    return visible_controls(redact_text(text), one_line=one_line)


def _without_userinfo(rest: str) -> str:
    """`rest` (the URL after `scheme://`) without a `user:password@` before the host."""
    at = rest.rfind("@")
    if at < 0:
        return rest
    authority = rest[:_first_of(rest, "/?#")]
    before = rest[:at]
    # Keep the `@` only where it is plainly in the path or query of a URL whose
    # host has no userinfo and no `:` (a port, or the start of a password:
    # `alice:pa/ss@host`, `alice:1234/5@host`). An IPv6 host holds `:` in brackets.
    in_path = _first_of(before, "/?#") < len(before) and "@" not in authority \
        and ":" not in authority.rpartition("]")[2]
    return rest if in_path else rest[at + 1:]


def _redact_parameters(tail: str) -> str:
    """The `?query#fragment` of a URL with secret values replaced (OAuth puts tokens
    in fragments too)."""
    def replace(match: re.Match[str]) -> str:
        if not is_secret_parameter(match["name"]):
            return match[0]
        return f"{match['name']}={REDACTED}"

    return _PARAMETER.sub(replace, tail)


def _first_of(text: str, characters: str) -> int:
    """The index of the first of `characters` in `text`, or len(text)."""
    found = [i for i in (text.find(c) for c in characters) if i >= 0]
    return min(found, default=len(text))
