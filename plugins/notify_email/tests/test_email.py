"""The email notifier with smtplib against aiosmtpd on 127.0.0.1 (plain, STARTTLS+AUTH, TLS)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpilot_core.interfaces import Delivery
from tfpilot_core.notifications import DeliveryRejected
from tfpilot_core.plugins import load_plugins
from tfpilot_notify_email.notifier import EmailNotifier
from tfpilot_notify_email.settings import EmailSettings

from .conftest import PASSWORD, USER, Inbox


def notifier(port: int, **extra: Any) -> EmailNotifier:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from_address": "tfpilot@example.com",
        "timeout": 5,
    }
    values.update(extra)
    return EmailNotifier(EmailSettings.model_validate(values))


def parsed(inbox: Inbox, index: int = 0) -> email.message.EmailMessage:
    message = email.message_from_bytes(inbox.envelopes[index].content, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_registered_lazily_and_shown_by_plugins() -> None:
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "notify_email"})
    assert loaded.infos["notify_email"].hooks == ["tfpilot_register_notifiers"]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        EmailSettings.model_validate({"host": "h", "from_address": "nobody"})
    with pytest.raises(ValueError, match="username and password go together"):
        EmailSettings.model_validate({"host": "h", "from_address": "a@b.c", "username": "u"})


def test_multipart_message_with_the_right_headers(
    smtp_factory: Callable[..., tuple[Inbox, int]], make_delivery: Callable[..., Delivery]
) -> None:
    inbox, port = smtp_factory("plain")
    notifier(port, starttls="auto").deliver(make_delivery(data={"error": "Error: quota exceeded"}))
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["alice@example.com"]
    assert envelope.mail_from == "tfpilot@example.com"
    message = parsed(inbox)
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == (
        "[tfpilot] Apply failed: req_dev_bucket_abc123 (sandbox/bucket in dev)"
    )
    assert message["From"] == "tfpilot <tfpilot@example.com>"
    assert message["To"] == "alice@example.com"
    assert message["Message-ID"] == "<dlv_0123456789abcdef@example.com>"
    assert message["Date"] is not None and message["Date"].datetime is not None
    assert message["List-Unsubscribe"] == (
        "<https://tfpilot.example/u/alice>, <mailto:tfpilot@example.com?subject=unsubscribe>"
    )
    text, html = parts(message)
    for body in (text, html):
        assert "quota exceeded" in body
        assert "https://runbooks.example/apply_failed?r=req_dev_bucket_abc123" in body
        assert "tfpilot notify prefs set --mute" in body


def test_starttls_and_auth_with_a_self_signed_certificate(
    smtp_factory: Callable[..., tuple[Inbox, int]],
    make_delivery: Callable[..., Delivery],
    certificate: tuple[Path, Path],
) -> None:
    inbox, port = smtp_factory("starttls")
    send = notifier(
        port,
        starttls="required",
        username=USER,
        password=PASSWORD,
        ca_file=str(certificate[0]),
    )
    send.deliver(make_delivery())
    assert len(inbox.envelopes) == 1
    # The session was really encrypted and authenticated (aiosmtpd refuses both otherwise).
    with pytest.raises(DeliveryRejected, match="authentication failed"):
        notifier(
            port, starttls="required", username=USER, password="wrong", ca_file=str(certificate[0])
        ).deliver(make_delivery())
    with pytest.raises(DeliveryRejected, match="not trusted"):
        notifier(port, starttls="required", username=USER, password=PASSWORD).deliver(
            make_delivery()
        )


def test_password_from_a_file_reference(
    smtp_factory: Callable[..., tuple[Inbox, int]],
    make_delivery: Callable[..., Delivery],
    certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    from tfpilot_core.config import load_config
    from tfpilot_core.plugins import PluginHost
    from tfpilot_core.registrations import PluginContext

    inbox, port = smtp_factory("starttls")
    (tmp_path / "smtp-password").write_text(PASSWORD + "\n")
    config_file = tmp_path / "tfpilot.toml"
    config_file.write_text(
        "[plugins.notify_email]\n"
        f'host = "127.0.0.1"\nport = {port}\nfrom_address = "tfpilot@example.com"\n'
        f'starttls = "required"\nusername = "{USER}"\n'
        'password = { "$file" = "smtp-password" }\n'
        f'ca_file = "{certificate[0]}"\n'
    )
    config = load_config(config_file, environ={"TFPILOT_HOME": str(tmp_path)})
    host = PluginHost(
        load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "notify_email"}),
        config,
        PluginContext.for_config(config),
    )
    [(name, built)] = host.notifiers()
    assert name == "email"
    host.send(name, built, make_delivery())
    assert len(inbox.envelopes) == 1


def test_implicit_tls(
    smtp_factory: Callable[..., tuple[Inbox, int]],
    make_delivery: Callable[..., Delivery],
    certificate: tuple[Path, Path],
) -> None:
    inbox, port = smtp_factory("tls")
    notifier(port, tls=True, ca_file=str(certificate[0])).deliver(make_delivery())
    assert parsed(inbox)["To"] == "alice@example.com"


def test_required_starttls_that_is_not_offered_is_refused(
    smtp_factory: Callable[..., tuple[Inbox, int]], make_delivery: Callable[..., Delivery]
) -> None:
    inbox, port = smtp_factory("plain")
    with pytest.raises(DeliveryRejected, match="does not offer STARTTLS"):
        notifier(port, starttls="required").deliver(make_delivery())
    assert inbox.envelopes == []


def test_server_down_is_transient(make_delivery: Callable[..., Delivery]) -> None:
    from .conftest import _free_port

    with pytest.raises(OSError):
        notifier(_free_port(), timeout=1).deliver(make_delivery())


def test_a_bad_recipient_is_refused(
    smtp_factory: Callable[..., tuple[Inbox, int]], make_delivery: Callable[..., Delivery]
) -> None:
    _, port = smtp_factory("plain")
    with pytest.raises(DeliveryRejected, match="not an email address"):
        notifier(port).deliver(make_delivery(recipient="alice@example.com\r\nBcc: x@y.z"))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hostile=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "<script>alert(1)</script>",
                    '"><img src=x onerror=alert(1)>',
                    "a & b",
                    "\r\nBcc: x@y",
                ]
            ),
            st.text(min_size=1, max_size=100),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_html_in_event_data_is_escaped(
    smtp_factory: Callable[..., tuple[Inbox, int]],
    make_delivery: Callable[..., Delivery],
    hostile: list[str],
) -> None:
    inbox, port = smtp_factory("plain")
    notifier(port).deliver(
        make_delivery("drift_detected", data={"addresses": hostile, "error": " ".join(hostile)})
    )
    message = parsed(inbox)
    _, html = parts(message)
    assert "<script>" not in html and "<img" not in html
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]
