"""Conditional writes are really used, and decided by the server; SSE is on every write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tfpilot_core.errors import AlreadyExistsError, ConflictError
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3.store import S3Store
from tfpilot_store_s3.testing import FaultProxy, MotoS3Server


def _raw(moto_server: MotoS3Server) -> Any:
    return boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server.endpoint_url)


def test_server_refuses_a_stale_if_match(moto_server: MotoS3Server, bucket: str) -> None:
    """moto itself (not our code) enforces If-Match and If-None-Match on PutObject."""
    s3 = _raw(moto_server)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfNoneMatch="*")
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfMatch=first)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch=first)
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"


def test_stale_put_request_is_refused_by_the_server(
    proxy: FaultProxy, make_store: Callable[..., S3Store]
) -> None:
    """The loser sends its write with If-Match (no read first) and S3 answers 412."""
    loser = make_store(endpoint_url=proxy.endpoint_url)
    winner = make_store()
    created = loser.create_request(make_request("req_race"))
    # The loser remembers version 1's ETag from its own write; the winner writes version 2.
    mine = created.model_copy(deep=True)
    mine.inputs["who"] = "loser"
    theirs = winner.get_request("req_race")
    theirs.inputs["who"] = "winner"
    winner.put_request(theirs, expected_version=1)
    remembered = created_etag(loser, "req_race", version=1)
    proxy.clear()

    with pytest.raises(ConflictError, match="expected version 1, stored version is 2"):
        loser.put_request(mine, expected_version=1)

    puts = [s for s in proxy.seen if s.method == "PUT" and "requests/req_race.json" in s.path]
    assert len(puts) == 1, "one write attempt, sent straight away"
    assert puts[0].headers.get("If-Match") == remembered
    assert puts[0].status == 412, "the server, not the client, refused the stale write"
    # The loser's first call after the write was the write itself: no read-then-compare.
    assert proxy.seen[0] is puts[0]
    assert winner.get_request("req_race").inputs["who"] == "winner"


def created_etag(store: S3Store, request_id: str, *, version: int) -> str:
    """The ETag the store remembered for ``version`` (what it must send in If-Match)."""
    seen = store._seen[request_id]
    assert seen.version == version
    return seen.etag


def test_create_sends_if_none_match(proxy: FaultProxy, make_store: Callable[..., S3Store]) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url)
    store.create_request(make_request("req_new"))
    # A second store that does not know the id exists: its create is refused by S3.
    other = make_store(endpoint_url=proxy.endpoint_url)
    proxy.clear()
    other._head = _never_found  # type: ignore[method-assign]  # skip the early existence check
    with pytest.raises(AlreadyExistsError):
        other.create_request(make_request("req_new"))
    puts = [s for s in proxy.seen if s.method == "PUT" and "requests/req_new.json" in s.path]
    assert [(p.headers.get("If-None-Match"), p.status) for p in puts] == [("*", 412)]


def _never_found(key: str) -> Any:
    from tfpilot_store_s3.store import _Missing

    raise _Missing(key)


def test_record_writes_are_conditional(
    proxy: FaultProxy, make_store: Callable[..., S3Store]
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url)
    store.put_record("locks", "lock/req_a", {"owner": "a"}, expected_version=None)
    store.put_record("locks", "lock/req_a", {"owner": "a"}, expected_version=1)
    store.delete_record("locks", "lock/req_a", expected_version=2)
    puts = [s for s in proxy.seen if s.method == "PUT" and "/records/" in s.path]
    assert puts[0].headers.get("If-None-Match") == "*"
    assert all(p.headers.get("If-Match") for p in puts[1:]) and len(puts) == 3


@pytest.mark.parametrize(
    ("sse", "kms_key_id"), [("AES256", None), ("aws:kms", "alias/tfpilot-test")]
)
def test_every_write_is_encrypted(
    proxy: FaultProxy,
    make_store: Callable[..., S3Store],
    moto_server: MotoS3Server,
    bucket: str,
    sse: str,
    kms_key_id: str | None,
) -> None:
    store = make_store(endpoint_url=proxy.endpoint_url, sse=sse, kms_key_id=kms_key_id)
    from tfpilot_core.models import Event

    request = store.create_request(make_request("req_enc"))
    store.put_request(request, expected_version=1)
    store.append_event(Event(request_id="req_enc", type="x"))
    store.put_artifact("req_enc", "plan.bin", b"plan")
    store.put_record("ns", "k", {}, expected_version=None)
    puts = [s for s in proxy.seen if s.method == "PUT"]
    assert len(puts) >= 7
    for put in puts:
        assert put.headers.get("x-amz-server-side-encryption") == sse, put.path
        assert put.headers.get("x-amz-server-side-encryption-aws-kms-key-id") == kms_key_id
    s3 = _raw(moto_server)
    for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        head = s3.head_object(Bucket=bucket, Key=obj["Key"])
        assert head["ServerSideEncryption"] == sse
