"""The `slack` target: a Block Kit message to a Slack incoming webhook.

The message has a header with the verdict (or what happened), the window and
the policy, the checks it is about (the failing gate checks, for a verdict),
a link to the report when the policy gives `notify.report_url`, and a
plain-text fallback for notifications. The webhook URL is a secret (whoever
has it can post to the channel): the policy names the environment variable
that holds it, and only that name is ever shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gacert.policy.params import interpolate_env
from gacert.publish.notify import Notice, check_line, post
from gacert.sources import check_url

MAX_LISTED = 10  # checks listed in one message; Slack caps a section at 3,000 characters
ICONS = {"pass": ":white_check_mark:", "warn": ":warning:", "fail": ":x:",
         "error": ":boom:"}


class SlackTarget:
    kind = "slack"

    def __init__(self, url: str, shown: str) -> None:
        self._url = url
        self.endpoint = shown
        self.secrets: tuple[str, ...] = (url,)

    def send(self, notice: Notice, timeout: float) -> None:
        body = json.dumps(message(notice), ensure_ascii=False).encode()
        post(self._url, body, {"Content-Type": "application/json"}, timeout)


def build(settings: Mapping[str, Any], environ: Mapping[str, str]) -> SlackTarget:
    written = str(settings["url"])
    url = interpolate_env(written, environ, "url")
    try:
        check_url(url, ("https", "http"))
    except ValueError:
        # The message would quote the URL, which is the secret.
        raise ValueError(f"the value of {written} is not an http(s) URL") from None
    return SlackTarget(url, f"slack webhook {written}")


def escape(text: Any) -> str:
    """Text for Slack mrkdwn: `&`, `<` and `>` are its only control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(notice: Notice) -> dict[str, Any]:
    """The Block Kit payload of a notice."""
    doc = notice.document
    window = doc["window"]
    icon = ICONS.get(doc["status"], "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": f"{icon} {notice.headline()}"[:150]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Verdict*\n{doc['status'].upper()}"},
            {"type": "mrkdwn", "text": f"*Window*\n{window['start']} → {window['end']}"},
            {"type": "mrkdwn", "text": f"*Policy*\n`{escape(doc['policy']['name'])}`"},
            {"type": "mrkdwn", "text": f"*Event*\n{notice.event}{_context(notice)}"}]},
    ]
    checks = notice.about()
    if checks:
        lines = [f"• {escape(check_line(c))}" for c in checks[:MAX_LISTED]]
        if len(checks) > MAX_LISTED:
            lines.append(f"… and {len(checks) - MAX_LISTED} more")
        title = "Failing gate checks" if notice.event != "change" else "Checks"
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": (f"*{title}*\n" + "\n".join(lines))[:2900]}})
    if notice.report_url:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"<{escape(notice.report_url)}|Open the report>"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(
        f"gacert {doc['gacert_version']} · policy SHA-256 {doc['policy']['sha256'][:12]}")}]})
    return {"text": notice.headline(), "blocks": blocks}


def _context(notice: Notice) -> str:
    snapshot = notice.context.get("snapshot")
    return f" (snapshot {snapshot})" if snapshot is not None else ""
