"""The `webhook` target: POST a JSON document, signed with HMAC-SHA256 when a secret is given.

The document (docs/notifications.md describes every key):

    {"schema": "gacert.notification/1", "event": "fail", "headline": "...",
     "policy": {"name", "title", "sha256"}, "window": {"start", "end"},
     "verdict": "fail", "previous_verdict": null, "checks": [...the checks it is about],
     "failing": [...ids of failing gate checks], "summary": {...counts},
     "report_url": "...", "context": {"command": "watch", "snapshot": 12, ...},
     "sent_at": "...", "gacert_version": "..."}

Headers: `X-Gacert-Event` (the event) and, with a secret,
`X-Gacert-Signature-256: sha256=<hex HMAC-SHA256 of the body bytes>`, as
GitHub signs its webhooks, so that a receiver can check who sent it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from gacert import __version__
from gacert.policy.params import interpolate_env
from gacert.publish.notify import ALERTING, Notice, failing, post
from gacert.redact import redact_url
from gacert.sources import check_url

SCHEMA = "gacert.notification/1"
SIGNATURE_HEADER = "X-Gacert-Signature-256"


class WebhookTarget:
    kind = "webhook"

    def __init__(self, url: str, secret: str | None) -> None:
        self._url = url
        self._secret = secret
        self.endpoint = redact_url(url)
        self.secrets: tuple[str, ...] = tuple(s for s in (url, secret) if s)

    def send(self, notice: Notice, timeout: float) -> None:
        body = json.dumps(document(notice), ensure_ascii=False, allow_nan=False).encode()
        headers = {"Content-Type": "application/json", "X-Gacert-Event": notice.event}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        post(self._url, body, headers, timeout)


def build(settings: Mapping[str, Any], environ: Mapping[str, str]) -> WebhookTarget:
    url = interpolate_env(settings["url"], environ, "url")
    check_url(url, ("http", "https"))
    secret = settings.get("secret")
    return WebhookTarget(url, interpolate_env(secret, environ, "secret") if secret else None)


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def document(notice: Notice) -> dict[str, Any]:
    """The JSON document a webhook receives (see the module docstring)."""
    doc = notice.document
    policy = doc["policy"]
    return {
        "schema": SCHEMA, "event": notice.event, "headline": notice.headline(),
        "policy": {"name": policy["name"], "title": policy.get("title"),
                   "sha256": policy["sha256"]},
        "window": {"start": doc["window"]["start"], "end": doc["window"]["end"]},
        "verdict": doc["status"], "previous_verdict": notice.previous,
        "checks": [{"id": c["id"], "title": c["title"], "status": c["status"],
                    "value": c["value"], "unit": c["unit"], "reason": c["reason"],
                    "gate": c.get("gate", True)} for c in notice.about()],
        "failing": [c["id"] for c in failing(doc, ALERTING["fail"])],
        "summary": dict(doc["summary"]),
        "report_url": notice.report_url or None,
        "context": dict(notice.context),
        "sent_at": notice.at,
        "gacert_version": __version__,
    }
