"""The ``[plugins.cost_infracost]`` section: how Infracost is run.

Example::

    [plugins.cost_infracost]
    binary = "infracost"                        # or an absolute path
    api_key = { "$env" = "INFRACOST_API_KEY" }  # a secret reference, never a literal
    pricing_api_endpoint = "https://pricing.example.internal"  # self-hosted Cloud Pricing API
    usage_file = "infracost-usage.yml"          # relative to the configuration file
    currency = "EUR"
    timeout_seconds = 120
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class InfracostSettings(BaseModel):
    """How the ``infracost`` cost estimator runs Infracost."""

    model_config = ConfigDict(extra="forbid")

    #: The executable: a name looked up on ``PATH``, or a path.
    binary: str = Field(default="infracost", min_length=1)
    #: The Infracost API key, passed to the process as ``INFRACOST_API_KEY`` (its environment
    #: only: never its arguments, a log or an error). ``None``: Infracost's own credentials file.
    api_key: SecretStr | None = None
    #: A self-hosted Cloud Pricing API (``INFRACOST_PRICING_API_ENDPOINT``); ``None``: Infracost's.
    pricing_api_endpoint: str | None = None
    #: An Infracost usage file (``--usage-file``) giving usage of usage-based resources; a
    #: relative path is relative to the configuration file.
    usage_file: Path | None = None
    #: ISO 4217 code of the currency prices are shown in (``INFRACOST_CURRENCY``).
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    #: Seconds Infracost may run before it is stopped (its estimate then fails, clearly).
    timeout_seconds: float = Field(default=300, gt=0, le=3600)

    @field_validator("pricing_api_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://pricing.example.internal")
        return value.rstrip("/") if value else value
