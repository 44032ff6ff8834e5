"""Notifications to real local receivers: a webhook receiver that checks what it gets
(also a slow and a failing one), Slack's incoming webhook shape, and an SMTP server
with STARTTLS and a login. A failed delivery is data, retried, and never leaks a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from notify_support import Receiver, SmtpServer, self_signed
from sample_results import sample_results

from gacert.document import ResultsDocument
from gacert.model import Notify, NotifyTarget
from gacert.publish.notify import Delivery, Notice, newly_failing, send, target_problems
from gacert.publish.slack import message

SECRET = "hm4c-s3cret-key"
TOKEN = "t0ken-in-the-url"


def notify(*targets: NotifyTarget, retries: int = 3, timeout: float = 5.0) -> Notify:
    return Notify(targets=targets, retries=retries, backoff_seconds=0.01,
                  timeout_seconds=timeout, report_url="https://ci.example.com/report.html")


def webhook(url: str = "${HOOK_URL}", *when: Any, secret: bool = False) -> NotifyTarget:
    settings = {"url": url, **({"secret": "${HOOK_SECRET}"} if secret else {})}
    return NotifyTarget("webhook", tuple(when) or ("fail", "verdict"), settings)


@pytest.fixture
def document() -> ResultsDocument:
    return sample_results()


def fail_notice(document: ResultsDocument) -> Notice:
    return Notice("fail", document, checks=("p99_latency",),
                  report_url="https://ci.example.com/report.html",
                  context={"command": "watch", "snapshot": 3})


def recorded(deliveries: list[Delivery]) -> str:
    return json.dumps([d.to_json() for d in deliveries])


# -- webhook -----------------------------------------------------------------------------


def test_the_webhook_gets_the_documented_document_signed_with_the_secret(
        document: ResultsDocument) -> None:
    with Receiver() as receiver:
        env = {"HOOK_URL": receiver.url + f"?token={TOKEN}", "HOOK_SECRET": SECRET}
        deliveries = send(notify(webhook(secret=True)), [fail_notice(document)], env)
    assert [d.delivered for d in deliveries] == [True]
    [got] = receiver.received
    body = got.json()
    assert body["schema"] == "gacert.notification/1"
    assert body["event"] == "fail"
    assert [c["id"] for c in body["checks"]] == ["p99_latency"]
    assert body["checks"][0]["status"] == "fail"
    assert body["failing"] == ["p99_latency", "cache_hit_rate"]
    assert body["verdict"] == "fail"
    assert body["window"] == {"start": document["window"]["start"],
                              "end": document["window"]["end"]}
    assert body["context"] == {"command": "watch", "snapshot": 3}
    assert body["report_url"] == "https://ci.example.com/report.html"
    assert got.headers["X-Gacert-Event"] == "fail"
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Gacert-Signature-256"] == f"sha256={expected}"
    assert SECRET not in recorded(deliveries)
    assert TOKEN not in recorded(deliveries)


def test_without_a_secret_nothing_is_signed(document: ResultsDocument) -> None:
    with Receiver() as receiver:
        send(notify(webhook(receiver.url)), [fail_notice(document)], {})
    assert "X-Gacert-Signature-256" not in receiver.received[0].headers


def test_a_receiver_that_fails_twice_gets_the_notice_on_the_third_attempt(
        document: ResultsDocument) -> None:
    with Receiver(statuses=(500, 503, 200)) as receiver:
        [delivery] = send(notify(webhook(receiver.url)), [fail_notice(document)], {})
    assert (delivery.delivered, delivery.attempts, delivery.error) == (True, 3, None)
    assert len(receiver.received) == 3
    assert len({r.body for r in receiver.received}) == 1  # the same notice each time


def test_a_failing_receiver_is_retried_then_recorded_without_the_secret_url(
        document: ResultsDocument) -> None:
    waits: list[float] = []
    with Receiver(statuses=(500,)) as receiver:
        env = {"HOOK_URL": receiver.url + f"?token={TOKEN}"}
        [delivery] = send(Notify((webhook(),), retries=3, backoff_seconds=0.5),
                          [fail_notice(document)], env, sleep=waits.append)
    assert not delivery.delivered
    assert delivery.attempts == 4
    assert waits == [0.5, 1.0, 2.0]  # doubling backoff
    assert delivery.error is not None
    assert delivery.error.startswith("HTTP 500")
    assert TOKEN not in recorded([delivery])
    assert "token=REDACTED" in delivery.endpoint


def test_a_receiver_that_says_the_notice_is_wrong_is_not_asked_again(
        document: ResultsDocument) -> None:
    with Receiver(statuses=(404,)) as receiver:
        [delivery] = send(notify(webhook(receiver.url)), [fail_notice(document)], {})
    assert (delivery.delivered, delivery.attempts) == (False, 1)
    assert len(receiver.received) == 1


def test_a_slow_receiver_times_out_and_is_retried(document: ResultsDocument) -> None:
    with Receiver(delay=3.0) as receiver:
        [delivery] = send(notify(webhook(receiver.url), retries=1, timeout=0.3),
                          [fail_notice(document)], {})
    assert not delivery.delivered
    assert delivery.attempts == 2
    assert delivery.error == "no answer within 0.3 s"


def test_nothing_listening_is_a_failed_delivery_not_an_exception(
        document: ResultsDocument) -> None:
    with Receiver() as receiver:
        url = receiver.url
    [delivery] = send(notify(webhook(url), retries=1), [fail_notice(document)], {})
    assert not delivery.delivered
    assert delivery.error is not None
    assert delivery.error.startswith("cannot deliver")


# -- which notices go where ----------------------------------------------------------------


def test_each_target_gets_only_the_events_it_wants(document: ResultsDocument) -> None:
    verdict = Notice("verdict", document)
    with Receiver() as fails, Receiver() as everything, Receiver() as changes:
        policy = notify(webhook(fails.url, "fail"), webhook(everything.url, "fail", "verdict"),
                        webhook(changes.url, "change"))
        send(policy, [fail_notice(document), verdict], {})
    assert [r.json()["event"] for r in fails.received] == ["fail"]
    # The verdict names the failing checks already: no fail notice beside it.
    assert [r.json()["event"] for r in everything.received] == ["verdict"]
    assert changes.received == []
    verdict_checks = [c["id"] for c in everything.received[0].json()["checks"]]
    assert verdict_checks == ["p99_latency", "cache_hit_rate"]


def test_a_check_that_stays_failing_is_told_once_and_again_after_it_recovers(
        document: ResultsDocument) -> None:
    before: dict[str, str] = {}
    assert newly_failing(document, "fail", before) == ("p99_latency", "cache_hit_rate")
    still = {"p99_latency": "fail", "cache_hit_rate": "no_data"}
    assert newly_failing(document, "fail", still) == ()
    recovered = {"cache_hit_rate": "no_data"}
    assert newly_failing(document, "fail", recovered) == ("p99_latency",)


def test_alert_on_warn_also_tells_of_gate_checks_that_warn(document: ResultsDocument) -> None:
    for check in document["checks"]:
        if check["id"] == "availability":
            check["status"] = "warn"
    assert "availability" in newly_failing(document, "warn", {})
    assert "availability" not in newly_failing(document, "fail", {})


# -- slack -----------------------------------------------------------------------------------


def test_slack_gets_a_block_kit_message_and_only_the_variable_name_is_shown(
        document: ResultsDocument) -> None:
    slack = NotifyTarget("slack", ("verdict",), {"url": "${SLACK_WEBHOOK_URL}"})
    with Receiver() as receiver:
        secret_url = receiver.url.replace("/hook", "/services/T000/B000/XXXXsecret")
        [delivery] = send(notify(slack), [Notice("verdict", document,
                                                 report_url="https://ci.example.com/r")],
                          {"SLACK_WEBHOOK_URL": secret_url})
    assert delivery.delivered
    assert delivery.endpoint == "slack webhook ${SLACK_WEBHOOK_URL}"
    assert "XXXXsecret" not in recorded([delivery])
    [got] = receiver.received
    assert got.path == "/services/T000/B000/XXXXsecret"
    payload = got.json()
    assert payload["text"] == "T.A.R.S. GA Day certification: FAIL"
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "section", "section", "section", "context"]
    fields = "\n".join(f["text"] for f in payload["blocks"][1]["fields"])
    assert "*Verdict*\nFAIL" in fields
    assert document["window"]["start"] in fields
    failing = payload["blocks"][2]["text"]["text"]
    assert failing.startswith("*Failing gate checks*\n• p99_latency FAIL")
    assert "cache_hit_rate NO_DATA" in failing
    assert payload["blocks"][3]["text"]["text"] == "<https://ci.example.com/r|Open the report>"


def test_slack_text_from_data_cannot_make_links_or_mentions(document: ResultsDocument) -> None:
    document["checks"][2]["reason"] = "<!channel> <https://evil.example|click> & more"
    text = json.dumps(message(Notice("verdict", document)))
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; more" in text


def test_an_unset_webhook_variable_is_said_before_and_recorded_as_not_sent(
        document: ResultsDocument) -> None:
    policy = notify(NotifyTarget("slack", ("verdict",), {"url": "${SLACK_WEBHOOK_URL}"}))
    assert target_problems(policy, {}) == [
        "notify.targets[0] (slack): url: environment variable SLACK_WEBHOOK_URL is not set "
        "(set it, or write ${SLACK_WEBHOOK_URL:-default} in the policy)"]
    [delivery] = send(policy, [Notice("verdict", document)], {})
    assert (delivery.delivered, delivery.attempts) == (False, 0)
    assert delivery.error is not None
    assert "SLACK_WEBHOOK_URL is not set" in delivery.error


# -- email -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    with SmtpServer(*certificate, user="gacert", password="smtp-pa55") as server:
        yield server


def subject(mail: Message) -> str:
    return " ".join(str(mail["Subject"]).split())  # unfolded


def email(smtp: SmtpServer, cert: Path, **extra: Any) -> NotifyTarget:
    return NotifyTarget("email", ("verdict", "fail"), {
        "host": "127.0.0.1", "port": smtp.port, "ca_file": str(cert),
        "username": "${SMTP_USER}", "password": "${SMTP_PASSWORD}",
        "from": "gacert@example.com", "to": ["sre@example.com", "release@example.com"],
        **extra})


def test_email_sends_the_summary_over_starttls_after_a_login(
        smtp: SmtpServer, certificate: tuple[Path, Path], document: ResultsDocument) -> None:
    env = {"SMTP_USER": "gacert", "SMTP_PASSWORD": "smtp-pa55"}
    [delivery] = send(notify(email(smtp, certificate[0])),
                      [Notice("verdict", document, files=("report.md",))], env)
    assert delivery.delivered, delivery.error
    assert smtp.logins == ["gacert"]
    [(envelope, mail)] = smtp.messages
    assert envelope.rcpt_tos == ["sre@example.com", "release@example.com"]
    assert subject(mail) == ("T.A.R.S. GA Day certification report: FAIL "
                             "(2025-01-15T00:00:00Z to 2025-01-16T00:00:00Z)")
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode().replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert body.startswith("T.A.R.S. GA Day certification report\n")
    assert "Verdict:  FAIL (NOT CERTIFIED)" in body
    assert "  - report.md" in body
    assert "smtp-pa55" not in recorded([delivery])


def test_an_early_warning_email_says_what_turned_failing(
        smtp: SmtpServer, certificate: tuple[Path, Path], document: ResultsDocument) -> None:
    env = {"SMTP_USER": "gacert", "SMTP_PASSWORD": "smtp-pa55"}
    send(notify(email(smtp, certificate[0])), [fail_notice(document)], env)
    [(_, mail)] = smtp.messages
    assert subject(mail) == ("[gacert fail] T.A.R.S. GA Day certification: p99_latency "
                             "turned failing (verdict so far FAIL)")


def test_a_wrong_smtp_password_fails_once_and_is_not_shown(
        smtp: SmtpServer, certificate: tuple[Path, Path], document: ResultsDocument) -> None:
    env = {"SMTP_USER": "gacert", "SMTP_PASSWORD": "wrong-pa55"}
    [delivery] = send(notify(email(smtp, certificate[0])), [Notice("verdict", document)], env)
    assert (delivery.delivered, delivery.attempts) == (False, 1)
    assert delivery.error == "the SMTP server refused the login (535)"
    assert smtp.messages == []
    assert "wrong-pa55" not in recorded([delivery])


def test_an_smtp_server_not_trusted_is_a_failed_delivery(
        smtp: SmtpServer, certificate: tuple[Path, Path], document: ResultsDocument) -> None:
    target = email(smtp, certificate[0])
    settings = {k: v for k, v in target.settings.items() if k != "ca_file"}
    untrusted = NotifyTarget("email", target.when, settings)
    env = {"SMTP_USER": "gacert", "SMTP_PASSWORD": "smtp-pa55"}
    [delivery] = send(notify(untrusted, retries=0), [Notice("verdict", document)], env)
    assert not delivery.delivered
    assert delivery.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.error
    assert smtp.messages == []
