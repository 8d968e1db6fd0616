"""Fixtures: moto's S3 server over real HTTP, a fresh bucket per test, and store builders."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tfpilot_store_s3.store import S3Store
from tfpilot_store_s3.testing import FaultProxy, MotoS3Server

REGION = "us-east-1"

# Fake credentials through the standard chain (environment variables), and no config files: no
# real AWS account is ever reachable. Spawned child processes inherit the environment.
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session", autouse=True)
def _aws_environment() -> Iterator[None]:
    """The environment above for this directory's tests, restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "HTTP_PROXY", "http_proxy"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoS3Server]:
    """moto's threaded S3 server on 127.0.0.1 and a free port, for the whole session."""
    server = MotoS3Server().start()
    yield server
    server.stop()


def make_bucket(endpoint_url: str, name: str | None = None) -> str:
    """A new, empty bucket on the server (plain boto3, not the store)."""
    import boto3

    bucket = name or f"tfp-{uuid.uuid4().hex[:20]}"
    boto3.client("s3", region_name=REGION, endpoint_url=endpoint_url).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def bucket(moto_server: MotoS3Server) -> str:
    """A fresh bucket for one test."""
    return make_bucket(moto_server.endpoint_url)


@pytest.fixture
def store_kwargs(moto_server: MotoS3Server, bucket: str) -> dict[str, Any]:
    """Keyword arguments of an :class:`S3Store` on the test's bucket."""
    return {
        "bucket": bucket,
        "prefix": "tfpilot/",
        "region": REGION,
        "endpoint_url": moto_server.endpoint_url,
    }


@pytest.fixture
def make_store(store_kwargs: dict[str, Any]) -> Iterator[Callable[..., S3Store]]:
    """Builds stores on the test's bucket (closed at the end of the test)."""
    built: list[S3Store] = []

    def make(**overrides: Any) -> S3Store:
        store = S3Store(**{**store_kwargs, **overrides})
        built.append(store)
        return store

    yield make
    for store in built:
        store.close()


@pytest.fixture
def store_factory(store_kwargs: dict[str, Any]) -> Callable[[], S3Store]:
    """A picklable factory of stores on the test's bucket, for spawned processes."""
    return functools.partial(S3Store, **store_kwargs)


@pytest.fixture
def proxy(moto_server: MotoS3Server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the moto server."""
    running = FaultProxy(moto_server.port).start()
    yield running
    running.stop()
