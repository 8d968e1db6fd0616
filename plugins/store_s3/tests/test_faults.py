"""Faults between the store and S3, injected by a real HTTP proxy in front of moto's server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tfpilot_core.errors import AlreadyExistsError
from tfpilot_core.models import Event, Request
from tfpilot_core.stores.cas import update_request
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3.store import S3Store, S3StoreError
from tfpilot_store_s3.testing import Fault, FaultProxy, MotoS3Server

DOC = "requests/req_f.json"


def _attempts(proxy: FaultProxy, method: str, path: str) -> list[Any]:
    return [s for s in proxy.seen if s.method == method and path in s.path]


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalError"), (503, "SlowDown"), (503, "ServiceUnavailable"), (429, "SlowDown")],
)
def test_5xx_and_throttling_are_retried(
    proxy: FaultProxy, make_store: Callable[..., S3Store], status: int, code: str
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url)
    created = store.create_request(make_request("req_f"))
    proxy.clear()
    proxy.inject(
        Fault("status", times=3, method="PUT", path_contains=DOC, status=status, code=code)
    )
    proxy.inject(
        Fault("status", times=2, method="GET", path_contains=DOC, status=status, code=code)
    )
    created.inputs["n"] = 1
    assert store.put_request(created, expected_version=1).version == 2
    assert store.get_request("req_f").inputs["n"] == 1
    puts = _attempts(proxy, "PUT", DOC)
    assert [p.fault for p in puts] == ["status"] * 3 + [None]
    assert puts[-1].status == 200
    gets = _attempts(proxy, "GET", DOC)
    assert [g.fault for g in gets] == ["status"] * 2 + [None]


def test_retries_give_up_with_a_clear_error(
    proxy: FaultProxy, make_store: Callable[..., S3Store], bucket: str
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url, max_attempts=3)
    proxy.inject(Fault("status", times=10, method="GET", status=503, code="SlowDown"))
    with pytest.raises(S3StoreError) as caught:
        store.get_request("req_f")
    message = str(caught.value)
    assert bucket in message and "us-east-1" in message and "SlowDown" in message
    assert len(_attempts(proxy, "GET", DOC)) == 3


def test_dropped_connection_mid_write_is_retried_and_leaves_no_partial(
    proxy: FaultProxy, make_store: Callable[..., S3Store]
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url)
    created = store.create_request(make_request("req_f", inputs={"blob": "x" * 50_000}))
    proxy.clear()
    proxy.inject(Fault("drop_mid_body", times=1, method="PUT", path_contains=DOC))
    created.inputs["blob"] = "y" * 50_000
    assert store.put_request(created, expected_version=1).version == 2
    assert [p.fault for p in _attempts(proxy, "PUT", DOC)] == ["drop_mid_body", None]
    stored = make_store().get_request("req_f")
    assert stored.version == 2 and stored.inputs["blob"] == "y" * 50_000


def test_write_that_never_completes_leaves_the_old_document(
    proxy: FaultProxy, make_store: Callable[..., S3Store], moto_server: MotoS3Server, bucket: str
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url, max_attempts=2)
    created = store.create_request(make_request("req_f", inputs={"blob": "x" * 50_000}))
    proxy.inject(Fault("drop_mid_body", times=10, method="PUT", path_contains=DOC))
    created.inputs["blob"] = "y" * 50_000
    with pytest.raises(S3StoreError, match="may or may not have happened"):
        store.put_request(created, expected_version=1)
    # Half bodies reached the server twice; what is stored is still the whole version 1.
    raw = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)
    body = raw.get_object(Bucket=bucket, Key="tfpilot/" + DOC)["Body"].read()
    document = Request.load(body)
    assert document.version == 1 and document.inputs["blob"] == "x" * 50_000
    keys = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys.count("tfpilot/" + DOC) == 1


def test_lost_answer_of_a_conditional_write_is_not_a_conflict(
    proxy: FaultProxy, make_store: Callable[..., S3Store]
) -> None:
    """The server applied the write but the answer was lost; botocore re-sends it, S3 says 412
    (the condition no longer holds, because of our own write), and the store recognises its write
    id instead of reporting a conflict or a duplicate."""
    store = make_store(endpoint_url=proxy.endpoint_url)
    proxy.inject(Fault("drop_after_forward", times=1, method="PUT", path_contains=DOC))
    created = store.create_request(make_request("req_f"))
    assert created.version == 1
    puts = _attempts(proxy, "PUT", DOC)
    assert [(p.fault, p.status) for p in puts] == [("drop_after_forward", 200), (None, 412)]

    proxy.clear()
    proxy.inject(Fault("drop_after_forward", times=1, method="PUT", path_contains=DOC))
    created.inputs["n"] = 1
    assert store.put_request(created, expected_version=1).version == 2
    assert [p.status for p in _attempts(proxy, "PUT", DOC)] == [200, 412]

    proxy.inject(Fault("drop_after_forward", times=1, method="PUT", path_contains="/events/"))
    assert store.append_event(Event(request_id="req_f", type="a")).seq == 1
    assert store.append_event(Event(request_id="req_f", type="b")).seq == 2
    assert [e.type for e in store.list_events("req_f")] == ["a", "b"]
    with pytest.raises(AlreadyExistsError):
        store.create_request(make_request("req_f"))


def test_lost_answer_then_overwritten_is_reported_as_unknown(
    proxy: FaultProxy, make_store: Callable[..., S3Store]
) -> None:
    """Our write landed, its answer was lost, and another writer moved on before the retry: the
    store cannot tell a lost race from an overwritten success, and says so rather than raising
    ConflictError (which would make update_request apply the change a second time)."""
    store = make_store(endpoint_url=proxy.endpoint_url)
    other = make_store()
    created = store.create_request(make_request("req_f", inputs={"counter": 0}))

    def competing_write() -> None:
        update_request(other, "req_f", _increment)

    proxy.inject(
        Fault("drop_after_forward", method="PUT", path_contains=DOC, after=competing_write)
    )
    with pytest.raises(S3StoreError, match="unknown"):
        store.put_request(_increment(created), expected_version=1)
    final = other.get_request("req_f")
    assert final.version == 3 and final.inputs["counter"] == 2  # both writes were applied


def _increment(request: Request) -> Request:
    request.inputs["counter"] = int(request.inputs.get("counter", 0)) + 1
    return request


def test_missing_bucket_is_named(moto_server: MotoS3Server) -> None:
    store = S3Store(
        bucket="no-such-bucket-here", region="us-east-1", endpoint_url=moto_server.endpoint_url
    )
    with pytest.raises(S3StoreError, match=r"no-such-bucket-here.*does not exist"):
        store.check_bucket()
    with pytest.raises(S3StoreError, match=r"no-such-bucket-here.*us-east-1.*does not exist"):
        store.create_request(make_request("req_x"))


def test_access_denied_is_named(proxy: FaultProxy, make_store: Callable[..., S3Store]) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url)
    proxy.inject(Fault("status", times=5, status=403, code="AccessDenied"))
    with pytest.raises(S3StoreError) as caught:
        store.get_request("req_x")
    assert "access denied" in str(caught.value) and store.bucket in str(caught.value)
    proxy.inject(Fault("status", times=5, method="HEAD", status=403, code="403"))
    with pytest.raises(S3StoreError, match="access denied"):
        store.check_bucket()


def test_wrong_region_is_named(proxy: FaultProxy, make_store: Callable[..., S3Store]) -> None:
    """What S3 answers when a bucket is addressed in the wrong region (simulated by the proxy:
    moto's server does not check regions): 301 PermanentRedirect naming the bucket's region."""
    store = make_store(endpoint_url=proxy.endpoint_url)
    redirect = {"x-amz-bucket-region": "eu-west-1"}
    proxy.inject(Fault("status", times=20, status=301, code="PermanentRedirect", headers=redirect))
    with pytest.raises(S3StoreError) as caught:
        store.check_bucket()
    message = str(caught.value)
    assert "wrong region" in message and "eu-west-1" in message and "us-east-1" in message
