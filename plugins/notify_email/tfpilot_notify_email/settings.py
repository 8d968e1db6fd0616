"""The ``[plugins.notify_email]`` settings (the notifier is named ``email``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}$")


def check_address(value: str) -> str:
    """``value`` if it looks like a bare email address (no display name, no spaces)."""
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class EmailSettings(BaseModel):
    """SMTP server, sender and security."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=253)
    #: 587 (submission, STARTTLS), 465 (implicit TLS) or 25.
    port: int = Field(default=587, ge=1, le=65535)
    #: The ``From`` address.
    from_address: str
    from_name: str = Field(default="tfpilot", max_length=100)
    #: ``auto``: STARTTLS when the server offers it; ``required``: refuse to send without it;
    #: ``off``: never (a local relay).
    starttls: Literal["auto", "required", "off"] = "auto"
    #: Implicit TLS from the first byte (port 465); then ``starttls`` does not apply.
    tls: bool = False
    username: str | None = None
    #: Best given as ``{ "$env" = "SMTP_PASSWORD" }`` or ``{ "$file" = "smtp-password" }``.
    password: str | None = None
    #: A CA bundle to trust (a private CA); default: the system's.
    ca_file: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    #: The domain of ``Message-ID`` headers (default: the sender's domain).
    message_id_domain: str | None = None

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @model_validator(mode="after")
    def _check(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self
