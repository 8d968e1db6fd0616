"""The email notifier: one message per delivery (so per recipient) over SMTP.

``multipart/alternative`` with a text and an HTML part from the core's renderers, and the
headers a mail system expects: ``Message-ID`` (from the delivery id, so a retry carries the same
one), ``Date``, ``From``, ``To``, ``Subject``, ``List-Unsubscribe``. SMTP answers decide what the
outbox does: 5xx (refused recipient, sender, authentication) is permanent, 4xx and connection
problems are retried.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING

from tfpilot_core.notifications import DeliveryRejected
from tfpilot_core.notifications.render import build_message, render_html, render_text
from tfpilot_notify_email.settings import check_address

if TYPE_CHECKING:
    from tfpilot_core.interfaces import Delivery
    from tfpilot_core.models import Event, Request
    from tfpilot_notify_email.settings import EmailSettings


class EmailNotifier:
    """Sends deliveries by email. A user's address is ``[users.<name>] email``."""

    user_address = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def notify(self, event: Event, request: Request) -> None:
        """The older interface: not used by the outbox (it calls :meth:`deliver`)."""
        raise DeliveryRejected("the email notifier sends outbox deliveries only")

    def compose(self, delivery: Delivery) -> EmailMessage:
        """The message for ``delivery`` (also what tests and previews look at)."""
        s = self.settings
        try:
            to = check_address(delivery.recipient)
        except ValueError as exc:
            raise DeliveryRejected(str(exc)) from None
        message = build_message(delivery)
        domain = s.message_id_domain or s.from_address.rsplit("@", 1)[1]
        msg = EmailMessage()
        # Subjects are one line: a newline in user text must never start a header of its own.
        msg["Subject"] = " ".join(message.headline().split())
        msg["From"] = formataddr((s.from_name, s.from_address))
        msg["To"] = to
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = f"<{delivery.id}@{domain}>"
        unsubscribe = delivery.links.get("unsubscribe")
        targets = [f"<mailto:{s.from_address}?subject=unsubscribe>"]
        if unsubscribe:
            targets.insert(0, f"<{unsubscribe}>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Tfpilot-Request"] = delivery.request.id
        msg["X-Tfpilot-Event"] = delivery.event.type
        msg.set_content(render_text(message))
        msg.add_alternative(render_html(message), subtype="html")
        return msg

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def deliver(self, delivery: Delivery) -> None:
        """Send the message for ``delivery``."""
        msg = self.compose(delivery)
        s = self.settings
        try:
            if s.tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with smtp:
                smtp.ehlo()
                if not s.tls and s.starttls != "off":
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self._context())
                        smtp.ehlo()
                    elif s.starttls == "required":
                        raise DeliveryRejected(
                            f"{s.host}:{s.port} does not offer STARTTLS, which "
                            '[plugins.notify_email] starttls = "required" asks for'
                        )
                if s.username is not None and s.password is not None:
                    smtp.login(s.username, s.password)
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryRejected(f"smtp authentication failed: {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            if all(400 <= c < 500 for c in codes):
                raise RuntimeError(f"smtp: recipient deferred ({codes})") from None
            raise DeliveryRejected(f"smtp refused the recipient ({codes})") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise DeliveryRejected(f"smtp refused the message: {exc.smtp_code}") from None
            raise RuntimeError(f"smtp: temporary failure {exc.smtp_code}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryRejected(f"smtp: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryRejected(
                f"smtp: the server's certificate is not trusted ({exc.reason})"
            ) from None
