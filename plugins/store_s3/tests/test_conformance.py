"""The core's store conformance suite against moto's S3 server, over real HTTP with boto3."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from tfpilot_core.testing.store_conformance import StoreConformance
from tfpilot_store_s3.store import S3Store


class TestS3StoreConformance(StoreConformance):
    """Every contract test, plus the cross-process ones (spawned children, one bucket)."""

    @pytest.fixture
    def store(self, make_store: Callable[..., S3Store]) -> S3Store:
        return make_store()

    @pytest.fixture
    def store_factory(self, store_kwargs: dict[str, Any]) -> Callable[[], S3Store]:
        # A partial of the class: picklable, so spawned children build their own client.
        return functools.partial(S3Store, **store_kwargs)


class TestS3StoreConformanceKms(StoreConformance):
    """The same contract with ``aws:kms`` encryption on every write (no cross-process part)."""

    @pytest.fixture
    def store(self, make_store: Callable[..., S3Store]) -> S3Store:
        return make_store(sse="aws:kms", kms_key_id="alias/tfpilot", prefix="kms-data")

    @pytest.fixture
    def store_factory(self) -> Callable[[], S3Store]:
        pytest.skip("cross-process tests run once, in TestS3StoreConformance")
