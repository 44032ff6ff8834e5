"""Notifications of a verdict, of a verdict that changed, and of gate checks that turn failing.

The policy's `notify:` section lists targets (`slack`, `webhook`, `email`,
one module each) and the events each wants:

- `verdict`: the final verdict of a run, or of a watch at the end of its window;
- `change`: a watch snapshot's verdict differs from the snapshot's before;
- `fail`: gate checks turned failing (fail, no_data, no_baseline, insufficient or
  error; with `alert_on: warn`, warn too): once per change of a check, not every interval.

A target told of the verdict at some moment is not also sent a fail notice
of the same moment: the verdict names the failing checks already.

A delivery that fails is retried with a doubling backoff (4xx answers other
than 408 and 429 are not retried: sending the same again would not help),
then recorded as failed: a `Delivery` is data for the results and the
terminal, never an exception, and never changes the verdict or the exit
code. Secrets (webhook URLs, signing secrets, passwords) are read from the
environment only when sending, and scrubbed from every error recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from gacert import __version__
from gacert.document import CheckDocument, NotificationDocument, ResultsDocument
from gacert.engine.waivers import document_counts_as
from gacert.errors import GacertError
from gacert.model import Notify, NotifyEvent, NotifyTarget
from gacert.policy.params import interpolate_env
from gacert.redact import REDACTED
from gacert.report.render import Templates
from gacert.timestamps import format_timestamp

MAX_BACKOFF_SECONDS = 30.0
# What makes a gate check "failing", for each `alert_on` level.
# A missing baseline and evidence that does not cover the window fail the verdict
# as missing data does.
_FAILING = ("fail", "no_data", "no_baseline", "insufficient", "error")
ALERTING = {"fail": _FAILING, "warn": (*_FAILING, "warn")}
USER_AGENT = f"gacert/{__version__}"


@dataclass(frozen=True)
class Notice:
    """Something to tell: an event about a results document (of a run or a snapshot)."""

    event: NotifyEvent
    document: ResultsDocument
    checks: tuple[str, ...] = ()  # the checks it is about: turned failing (fail), changed
    previous: str | None = None  # the verdict before (change)
    report_url: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)  # command, snapshot, elapsed
    templates: Templates | None = None  # for the email summary
    files: tuple[str, ...] = ()  # the report files of the package, for the email summary
    # When it was made: every attempt to deliver it sends the same bytes.
    at: str = field(default_factory=lambda: format_timestamp(datetime.now(UTC)))

    def about(self) -> list[CheckDocument]:
        """The checks the notice is about, in policy order; the failing gate checks
        for a verdict."""
        if self.event == "verdict":
            return failing(self.document, _FAILING)
        wanted = set(self.checks)
        return [c for c in self.document["checks"] if c["id"] in wanted]

    def headline(self) -> str:
        """One line: what happened, for subjects, headers and fallbacks."""
        doc = self.document
        title = doc["policy"].get("title") or doc["policy"]["name"]
        verdict = doc["status"].upper()
        if self.event == "fail":
            return f"{title}: {', '.join(self.checks)} turned failing (verdict so far {verdict})"
        if self.event == "change":
            return f"{title}: verdict changed from {(self.previous or '?').upper()} to {verdict}"
        return f"{title}: {verdict}"


class DeliveryError(Exception):
    """One attempt to deliver failed; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Target(Protocol):
    """A place notifications go, built from its settings (secrets resolved) without I/O."""

    # slack, webhook or email
    kind: str

    # Where it goes, for people and the results; never holds a secret.
    endpoint: str

    # The values that must never be shown (URLs, secrets, passwords).
    secrets: tuple[str, ...]

    # Deliver one notice within `timeout` seconds, or raise DeliveryError.
    def send(self, notice: Notice, timeout: float) -> None: ...


TargetFactory = Callable[[Mapping[str, Any], Mapping[str, str]], Target]


@dataclass(frozen=True)
class Delivery:
    """How sending one notice to one target went."""

    target: str  # the target's type
    endpoint: str  # never with secrets
    event: NotifyEvent
    checks: tuple[str, ...]
    delivered: bool
    attempts: int
    error: str | None
    sent_at: str

    def to_json(self) -> NotificationDocument:
        return {"target": self.target, "endpoint": self.endpoint, "event": self.event,
                "checks": list(self.checks), "delivered": self.delivered,
                "attempts": self.attempts, "error": self.error, "sent_at": self.sent_at}


def _factories() -> dict[str, TargetFactory]:
    # One literal registry; the modules import their clients only when used.
    from gacert.publish import mail, slack, webhook

    return {"slack": slack.build, "webhook": webhook.build, "email": mail.build}


def failing(document: ResultsDocument, statuses: Sequence[str]) -> list[CheckDocument]:
    """The gate checks of `document` that count in the verdict with one of `statuses`
    (a waiver in force takes a check, or its failing series, out), in policy order."""
    return [c for c in document["checks"] if document_counts_as(c) in statuses]


def alerting(document: ResultsDocument, level: str) -> dict[str, str]:
    """Gate check id -> status, for the gate checks failing at `level` (see ALERTING)."""
    return {c["id"]: c["status"] for c in failing(document, ALERTING[level])}


def newly_failing(document: ResultsDocument, level: str,
                  before: Mapping[str, str]) -> tuple[str, ...]:
    """The gate checks failing now that were not failing before (a check that stays
    failing is told once; one that recovers and fails again is told again)."""
    return tuple(cid for cid in alerting(document, level) if cid not in before)


def report_link(notify: Notify, environ: Mapping[str, str]) -> str:
    """The policy's report_url with its variables replaced; "" when one is unset
    (`target_problems` says so before anything runs)."""
    try:
        return str(interpolate_env(notify.report_url, environ, "notify.report_url"))
    except GacertError:
        return ""


def target_problems(notify: Notify, environ: Mapping[str, str]) -> list[str]:
    """Why targets cannot be built (an unset variable), said before a run or watch
    starts; their notifications will be recorded as failed."""
    problems = []
    try:
        interpolate_env(notify.report_url, environ, "notify.report_url")
    except GacertError as exc:
        problems.append(f"{exc}; notifications will have no report link")
    for index, spec in enumerate(notify.targets):
        try:
            _build(spec, environ)
        except (GacertError, ValueError) as exc:
            problems.append(f"notify.targets[{index}] ({spec.type}): {exc}")
    return problems


def send(notify: Notify, notices: Sequence[Notice], environ: Mapping[str, str],
         sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    """Deliver each notice to each target that wants its event; targets concurrently."""
    plans = [(spec, _wanted(spec, notices)) for spec in notify.targets]
    plans = [(spec, wanted) for spec, wanted in plans if wanted]
    if not plans:
        return []
    with ThreadPoolExecutor(max_workers=len(plans)) as pool:
        done = pool.map(lambda plan: [_deliver(plan[0], n, notify, environ, sleep)
                                      for n in plan[1]], plans)
        return [delivery for deliveries in done for delivery in deliveries]


def _wanted(spec: NotifyTarget, notices: Sequence[Notice]) -> list[Notice]:
    wanted = [n for n in notices if n.event in spec.when]
    if any(n.event == "verdict" for n in wanted):
        wanted = [n for n in wanted if n.event != "fail"]
    return wanted


def _build(spec: NotifyTarget, environ: Mapping[str, str]) -> Target:
    return _factories()[spec.type](spec.settings, environ)


def _deliver(spec: NotifyTarget, notice: Notice, notify: Notify, environ: Mapping[str, str],
             sleep: Callable[[float], None]) -> Delivery:
    sent_at = format_timestamp(datetime.now(UTC))
    try:
        target = _build(spec, environ)
    except (GacertError, ValueError) as exc:
        return Delivery(spec.type, spec.type, notice.event, notice.checks, False, 0,
                        f"not sent: {exc}", sent_at)
    attempts, error = 0, None
    for attempt in range(notify.retries + 1):
        if attempt:
            sleep(min(MAX_BACKOFF_SECONDS, notify.backoff_seconds * 2.0 ** (attempt - 1)))
        attempts += 1
        try:
            target.send(notice, notify.timeout_seconds)
        except DeliveryError as exc:
            error = scrub(str(exc), target.secrets)
            if not exc.retry:
                break
            continue
        except Exception as exc:  # a broken target must not stop the others or the run
            error = scrub(f"{type(exc).__name__}: {exc}", target.secrets)
            continue
        return Delivery(spec.type, target.endpoint, notice.event, notice.checks, True,
                        attempts, None, sent_at)
    return Delivery(spec.type, target.endpoint, notice.event, notice.checks, False, attempts,
                    error, sent_at)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced (an error message may quote a URL)."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    """POST `body`; DeliveryError unless the answer is 2xx. Messages never quote the URL."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body,
                                   headers={"User-Agent": USER_AGENT, **headers})
    except httpx.TimeoutException:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"cannot deliver: {exc or type(exc).__name__}") from None
    if response.is_success:
        return
    status = response.status_code
    detail = " ".join(response.text[:200].split())
    raise DeliveryError(f"HTTP {status}{': ' + detail if detail else ''}",
                        retry=status >= 500 or status in (408, 429))


def check_line(check: CheckDocument) -> str:
    """`p99_latency FAIL: <reason>`: one check in one line of plain text."""
    reason = " ".join(str(check.get("reason") or "").split())
    return f"{check['id']} {check['status'].upper()}: {reason}"
