"""Real local servers that notifications are sent to: an HTTP receiver for webhooks and
Slack, told how to answer, and an SMTP server (aiosmtpd) with STARTTLS and a login."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from gacert.demo.servers import HttpBehaviour, HttpServer, Received

HOST = "127.0.0.1"


class Receiver:
    """An HTTP server (gacert.demo.servers.HttpServer) that records every POST and
    answers `statuses` in turn (the last one for all later requests), after `delay`
    seconds."""

    def __init__(self, statuses: tuple[int, ...] = (200,), delay: float = 0.0) -> None:
        self._server = HttpServer(HttpBehaviour(statuses=statuses, delay=delay, body=b"ok",
                                                content_type="text/plain"))

    @property
    def url(self) -> str:
        return f"{self._server.url}hook"

    @property
    def received(self) -> list[Received]:
        return self._server.received

    def __enter__(self) -> Receiver:
        self._server.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed: apt-get install -y openssl (bash .ci/setup does)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((envelope, message_from_bytes(content)))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS, and a login of `user`/`password`."""

    def __init__(self, cert: Path, key: Path, user: str, password: str) -> None:
        self.inbox = _Inbox()
        self.logins: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.port = free_port()

        def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                         data: Any) -> AuthResult:
            assert isinstance(data, LoginPassword)
            self.logins.append(data.login.decode())
            ok = data.login.decode() == user and data.password.decode() == password
            # handled=False: aiosmtpd itself answers 535 to a wrong password.
            return AuthResult(success=ok, handled=False)

        self._controller = Controller(self.inbox, hostname=HOST, port=self.port,
                                      tls_context=context, require_starttls=True,
                                      authenticator=authenticate, auth_require_tls=True)

    @property
    def messages(self) -> list[tuple[Envelope, Message]]:
        return self.inbox.messages

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._controller.stop()
