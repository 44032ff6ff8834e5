"""The `email` target: EMAIL_SUMMARY.txt sent through an SMTP server.

The body is the email summary of the results (the package's
EMAIL_SUMMARY.txt, from the policy's email template if it has one); its
`Subject:` line becomes the subject, prefixed by what happened for an early
warning or a change. The connection is upgraded with STARTTLS before any
login (`security: starttls`, the default), or TLS from the start (`tls`);
`none` is for a relay on the same host. The password comes from the
environment.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from gacert.policy.params import interpolate_env
from gacert.publish.notify import DeliveryError, Notice
from gacert.report.render import Templates, render_email


class EmailTarget:
    kind = "email"

    def __init__(self, settings: Mapping[str, Any], password: str | None) -> None:
        self.host = str(settings["host"])
        self.port = int(settings.get("port", 587))
        self.security = str(settings.get("security", "starttls"))
        self.ca_file = settings.get("ca_file")
        self.username = settings.get("username")
        self.sender = str(settings["from"])
        self.recipients = [str(r) for r in settings["to"]]
        self._password = password
        self.endpoint = f"smtp://{self.host}:{self.port} to {', '.join(self.recipients)}"
        self.secrets: tuple[str, ...] = (password,) if password else ()

    def send(self, notice: Notice, timeout: float) -> None:
        mail = compose(notice, self.sender, self.recipients)
        try:
            with self._connect(timeout) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._tls())
                if self.username:
                    smtp.login(str(self.username), self._password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"the SMTP server refused the login ({exc.smtp_code})",
                                retry=False) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("the SMTP server refused every recipient", retry=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {exc or type(exc).__name__}") from None

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self, timeout: float) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=self._tls())
        return smtplib.SMTP(self.host, self.port, timeout=timeout)


def build(settings: Mapping[str, Any], environ: Mapping[str, str]) -> EmailTarget:
    resolved = {k: v for k, v in settings.items() if k != "password"}
    resolved = interpolate_env(resolved, environ, "email")
    password = settings.get("password")
    return EmailTarget(resolved,
                       interpolate_env(password, environ, "password") if password else None)


def compose(notice: Notice, sender: str, recipients: list[str]) -> EmailMessage:
    """The email: EMAIL_SUMMARY.txt, its first line as the subject."""
    text = render_email(notice.document, notice.templates or Templates(), files=notice.files)
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else \
        notice.headline()
    body = rest.lstrip("\n") if first.startswith("Subject:") else text
    if notice.event != "verdict":
        subject = f"[gacert {notice.event}] {notice.headline()}"
    mail = EmailMessage()
    mail["Subject"] = " ".join(subject.split())
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail.set_content(body)
    return mail
