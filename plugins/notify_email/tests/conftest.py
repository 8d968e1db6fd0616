"""aiosmtpd on 127.0.0.1 (plain, STARTTLS + AUTH, implicit TLS) and deliveries to send."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from tfpilot_core.interfaces import Delivery
from tfpilot_core.models import Event, Placement, Request

USER, PASSWORD = "tfpilot", "correct horse battery"


@dataclass
class Inbox:
    """What the server accepted."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
) -> AuthResult:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, made now with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


@pytest.fixture
def smtp_factory(certificate: tuple[Path, Path]) -> Iterator[Callable[..., tuple[Inbox, int]]]:
    """``smtp_factory(mode)``: ``plain``, ``starttls`` (STARTTLS + AUTH required) or ``tls``."""
    controllers: list[Controller] = []

    def start(mode: str = "plain") -> tuple[Inbox, int]:
        inbox = Inbox()
        port = _free_port()
        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            kwargs = dict(
                tls_context=_server_context(certificate),
                require_starttls=True,
                auth_required=True,
                auth_require_tls=True,
                authenticator=_authenticator,
            )
        elif mode == "tls":
            kwargs = dict(ssl_context=_server_context(certificate))
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
        )
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def make_delivery() -> Callable[..., Delivery]:
    def make(
        type_: str = "apply_failed",
        *,
        recipient: str = "alice@example.com",
        data: dict[str, Any] | None = None,
        links: dict[str, str] | None = None,
    ) -> Delivery:
        now = datetime(2026, 12, 1, 12, tzinfo=UTC)
        request = Request(
            id="req_dev_bucket_abc123",
            placement=Placement(
                project="shop", environment="dev", module="sandbox/bucket", module_version="v1"
            ),
            inputs={"name": "logs"},
            created_by="alice",
            created_at=now,
            updated_at=now,
        )
        event = Event(
            request_id=request.id, type=type_, seq=7, at=now, actor="bob", data=data or {}
        )
        return Delivery(
            id="dlv_0123456789abcdef",
            event=event,
            request=request,
            channel="email",
            recipient=recipient,
            recipient_user="alice",
            runbook_url="https://runbooks.example/apply_failed?r=req_dev_bucket_abc123",
            links=links
            if links is not None
            else {"unsubscribe": "https://tfpilot.example/u/alice"},
        )

    return make
