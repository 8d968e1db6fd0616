"""The ``[plugins.store_s3]`` settings (selected with ``[core] store = "s3"``).

Credentials are deliberately not settings: boto3's standard chain (environment, shared config and
credentials files, SSO, web identity, container and instance roles) provides them, so secrets
never sit in ``tfpilot.toml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Server-side encryption of every write.
Encryption = Literal["AES256", "aws:kms"]
#: botocore's retry modes.
RetryMode = Literal["standard", "adaptive"]


class S3StoreSettings(BaseModel):
    """The ``[plugins.store_s3]`` section: where the data lives and how the client behaves."""

    model_config = ConfigDict(extra="forbid")

    #: The bucket (must exist; the store never creates buckets).
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    #: Every key starts with this (``"tfpilot/"``); a missing trailing ``/`` is added.
    prefix: str = Field(default="tfpilot/", max_length=200)
    #: The bucket's region; ``None`` uses the standard chain (``AWS_REGION``, config files).
    region: str | None = None
    #: An S3-compatible endpoint (MinIO, Ceph, LocalStack, moto); ``None`` for AWS.
    endpoint_url: str | None = None
    #: Server-side encryption of every write.
    sse: Encryption = "AES256"
    #: The KMS key (id, ARN or alias) for ``sse = "aws:kms"``; ``None`` uses the account's
    #: default ``aws/s3`` key.
    kms_key_id: str | None = None
    #: botocore's retry mode: both back off exponentially with jitter on throttling and 5xx;
    #: ``adaptive`` also rate-limits the client when it is throttled.
    retry_mode: RetryMode = "standard"
    #: Attempts per call, the first included.
    max_attempts: int = Field(default=8, ge=1, le=20)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    #: Parallel GETs when listing (and the size of the HTTP connection pool).
    workers: int = Field(default=16, ge=1, le=128)

    @model_validator(mode="after")
    def _check(self) -> S3StoreSettings:
        if self.kms_key_id is not None and self.sse != "aws:kms":
            raise ValueError('kms_key_id is only used with sse = "aws:kms"')
        if self.prefix.startswith("/") or ".." in self.prefix:
            raise ValueError("prefix must not start with '/' nor contain '..'")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        return self
