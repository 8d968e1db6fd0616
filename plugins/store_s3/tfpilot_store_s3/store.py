"""The S3 store: one JSON document per request, compare-and-swap with S3 conditional writes.

Concurrency
    Every write that must not overwrite someone else's is a *conditional* ``PutObject``, decided
    by S3 itself: a create carries ``If-None-Match: *`` (refused with 412 if the key exists), an
    update carries ``If-Match: <ETag of the version read>`` (refused with 412 if anything was
    written since). A request document holds its own version number, so two versions never have
    the same bytes, hence never the same ETag: there is no ABA. Event numbers are claimed the same
    way: ``events/<id>/<seq>`` is created with ``If-None-Match: *``, so two writers never get one
    number, and a number is only ever taken by writing the event, so a crash leaves no gap.

Retries and their ambiguity
    botocore retries throttling, 5xx and dropped connections with jittered exponential back-off.
    A retried conditional write can meet its *own* first attempt (which succeeded, but whose answer
    was lost) and be refused with 412. Every conditional write therefore carries a random write id
    in its object metadata; a 412 after retries is checked against the stored object's write id and
    counts as success when it is ours.

Listing (see ``keys.py`` for the key layout)
    ``index/all/`` holds one small, empty-ish object per request whose *key* carries the sort
    position (newest first) and the filter fields, and ``index/status/<status>/`` holds status
    markers. Listing is LIST calls over those keys (1,000 keys per call) plus one GET per request
    actually returned, done in parallel; 10,000 requests are never read to list 100.

    The request document is the truth; the index may lag, but only in the safe direction: entries
    are written *before* the document write they describe, and an entry is retired only after a
    newer document version no longer needs it, with a conditional delete (``If-Match``) that loses
    to anyone who rewrote the entry since. So the index can hold stale or ghost entries (a lost
    create race, a crashed write, a request that left a status) but never lacks one: every
    candidate is checked against its document before it is returned (position, fields and the
    status re-derived with the store's clock, since staleness is time-based), and stale entries
    only cost a GET. :meth:`S3Store.repair_index` removes them and re-adds entries for documents
    written by other means.

Drift shards
    An applied request also has a shard marker under ``index/shard/applied/``, named by its drift
    shard key first (``keys.shard_name``), written and retired with its status marker. A drift
    shard is a range of that key, so its members are one listing from the range's start (one
    LIST for a shard of up to 1,000), whatever the bucket holds. A bucket written by a store
    from before the markers lacks some of them: the markers are read only once
    ``meta/shard-index-ready`` exists, which the first create in an empty bucket and
    :meth:`S3Store.repair_index` (after adding every missing marker) write; until then a shard
    is read from the status markers, as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import to_json

from tfpilot_core.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldProblem,
    NotFoundError,
    PluginError,
    StoreCorruptionError,
    ValidationError,
)
from tfpilot_core.lifecycle import DEFAULT_STALE_AFTER, STALEABLE, RequestStatus, derive_status
from tfpilot_core.models import Event, Record, Request, RequestPage, RequestQuery, utcnow
from tfpilot_core.stores.counting import CallCounter
from tfpilot_core.stores.rows import IndexFilter, IndexRow, shard_range
from tfpilot_core.stores.validation import (
    check_artifact_name,
    check_namespace,
    check_record_key,
    check_request_id,
    decode_cursor,
    encode_cursor,
)
from tfpilot_store_s3 import keys
from tfpilot_store_s3.settings import Encryption, RetryMode, S3StoreSettings

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

__all__ = ["S3Store", "S3StoreError", "StoreCorruptionError"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R")

#: Object metadata (``x-amz-meta-*``) the store writes.
_META_WRITE = "tfpilot-write"
_META_STATUS = "tfpilot-status"
_META_SHA256 = "tfpilot-sha256"

#: How often a conditional write is re-sent after S3's 409 ConditionalRequestConflict (another
#: conditional write to the same key was in flight); S3 asks clients to retry these.
_CONFLICT_RETRIES = 5
#: Event number claims that may be lost to concurrent appenders before giving up.
_APPEND_ATTEMPTS = 1000
#: Requests whose last seen ETag is remembered (a long-lived process lists many).
_SEEN_MAX = 50_000
#: A ghost index entry (no matching document) younger than this may belong to a write in flight.
_GHOST_GRACE = timedelta(hours=1)
#: Statuses whose requests also have a shard marker (``index/shard/<status>/``): what drift reads.
_SHARDED = frozenset({RequestStatus.APPLIED.value})


class S3StoreError(PluginError):
    """S3 refused or failed an operation; the message names the bucket, the key and the region."""

    def __init__(self, message: str) -> None:
        super().__init__(message, plugin="store_s3")


class _Precondition(Exception):
    """A conditional write was refused (412): someone else's write is in place.

    ``retried`` says that botocore re-sent the write: the first attempt may have succeeded and
    been overwritten since, so the caller must check before calling it a lost race.
    """

    def __init__(self, key: str, *, retried: bool = False) -> None:
        super().__init__(key)
        self.retried = retried


class _Missing(Exception):
    """The object does not exist (404)."""


@dataclass(frozen=True)
class _Seen:
    """What this process last saw of a request document: enough to write the next version."""

    version: int
    etag: str
    status: str
    entry: str


@dataclass(frozen=True)
class _Object:
    body: bytes
    etag: str
    metadata: dict[str, str]


class S3Store:
    """A :class:`~tfpilot_core.interfaces.Store` in an S3 bucket (or an S3-compatible service).

    Safe to share between threads; any number of processes and machines may use one bucket and
    prefix at once. Build it with :meth:`from_settings` or with keyword arguments.

    :param bucket: the bucket (it must exist).
    :param prefix: every key starts with it.
    :param region: the bucket's region (``None``: the standard AWS chain decides).
    :param endpoint_url: an S3-compatible endpoint instead of AWS.
    :param sse: ``"AES256"`` or ``"aws:kms"``, sent with every write.
    :param kms_key_id: the KMS key for ``aws:kms``.
    :param retry_mode: botocore's ``standard`` or ``adaptive`` retries (jittered back-off).
    :param max_attempts: attempts per call, the first included.
    :param connect_timeout: seconds to connect.
    :param read_timeout: seconds to wait for an answer.
    :param workers: parallel GETs when listing.
    :param clock: the current time (tests move it); for status derivation and record expiry.
    :param stale_after: when an unfinished run counts as failed.
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "tfpilot/",
        region: str | None = None,
        endpoint_url: str | None = None,
        sse: Encryption = "AES256",
        kms_key_id: str | None = None,
        retry_mode: RetryMode = "standard",
        max_attempts: int = 8,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        workers: int = 16,
        clock: Callable[[], datetime] = utcnow,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        # Validated like the settings section, so both ways of building the store agree.
        settings = S3StoreSettings(
            bucket=bucket,
            prefix=prefix,
            region=region,
            endpoint_url=endpoint_url,
            sse=sse,
            kms_key_id=kms_key_id,
            retry_mode=retry_mode,
            max_attempts=max_attempts,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            workers=workers,
        )
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._clock = clock
        self._stale_after = stale_after
        self._sse: dict[str, str] = {"ServerSideEncryption": settings.sse}
        if settings.kms_key_id is not None:
            self._sse["SSEKMSKeyId"] = settings.kms_key_id
        self.client = self._make_client(settings)
        #: Every HTTP request sent to S3 (retries included), by operation and by verb: the
        #: request-count model of docs/store.md, counted by a botocore event hook.
        self.calls = CallCounter()
        self.client.meta.events.register("before-send.s3", self._count_request)
        self.region = settings.region or self.client.meta.region_name
        self._seen: dict[str, _Seen] = {}
        self._seen_lock = threading.Lock()
        self._last_seq: dict[str, int] = {}
        #: The last event this process appended per request, to chain the next one without a GET.
        self._last_event: dict[str, Event] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        #: Whether ``meta/shard-index-ready`` was seen (it is never removed), and whether this store
        #: checked it before its first create.
        self._shards_indexed = False
        self._shards_checked = False

    @classmethod
    def from_settings(cls, settings: S3StoreSettings, **overrides: Any) -> S3Store:
        """The store of a validated ``[plugins.store_s3]`` section."""
        return cls(**{**settings.model_dump(), **overrides})

    @staticmethod
    def _make_client(settings: S3StoreSettings) -> Any:
        # boto3 is imported here, never at import of the plugin (tfpilot --help stays fast).
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # Listing fetches documents in parallel: one pooled connection per worker.
            max_pool_connections=max(10, settings.workers),
        )
        # A session per store: boto3's default session is not thread-safe to create clients from.
        session = boto3.session.Session()
        return session.client(
            "s3",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            config=config,
        )

    def _count_request(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        # event_name is "before-send.s3.<Operation>"; returning None lets botocore send it.
        operation = event_name.rsplit(".", 1)[-1]
        self.calls.add(operation, str(getattr(request, "method", "?")), "total")

    def backend_calls(self) -> dict[str, int]:
        """S3 requests sent so far: by operation (``GetObject``), by verb (``GET``), ``total``."""
        return self.calls.snapshot()

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r}, region={self.region!r})"

    def close(self) -> None:
        """Stop the listing threads and close the HTTP connections."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.client.close()

    # -- low-level S3 calls with the store's error mapping -------------------------------------

    def _where(self, key: str | None = None) -> str:
        where = f"s3://{self.bucket}/{key}" if key else f"bucket {self.bucket!r}"
        endpoint = self.settings.endpoint_url
        return f"{where} (region {self.region!r}{f', endpoint {endpoint}' if endpoint else ''})"

    def _error(self, exc: BaseException, operation: str, key: str | None = None) -> S3StoreError:
        """A clear error for a failed call: names the bucket, the key, the region and a hint."""
        from botocore.exceptions import ClientError

        where = self._where(key)
        if not isinstance(exc, ClientError):
            return S3StoreError(
                f"S3 {operation} of {where} failed after retries: {type(exc).__name__}: {exc}"
            )
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        headers = meta.get("HTTPHeaders", {})
        actual_region = headers.get("x-amz-bucket-region") or error.get("Region")
        if code in ("NoSuchBucket",) or (code == "404" and key is None):
            hint = "the bucket does not exist: create it, or fix [plugins.store_s3] bucket"
        elif code in ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"):
            hint = (
                "access denied: the credentials from the AWS chain lack s3:GetObject,"
                " s3:PutObject, s3:DeleteObject or s3:ListBucket on the bucket and prefix"
                + (", or kms:GenerateDataKey/kms:Decrypt on the key" if self._kms else "")
            )
        elif code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed") or (
            code == "IllegalLocationConstraintException"
        ):
            hint = (
                f"wrong region: the bucket is in {actual_region!r}, set [plugins.store_s3] region"
                if actual_region
                else "wrong region: set [plugins.store_s3] region to the bucket's region"
            )
        else:
            hint = error.get("Message") or "unexpected answer"
        return S3StoreError(f"S3 {operation} of {where} failed: {code or status}: {hint}")

    @property
    def _kms(self) -> bool:
        return self._sse["ServerSideEncryption"] == "aws:kms"

    @staticmethod
    def _code(exc: ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    @staticmethod
    def _retried(exc: ClientError) -> bool:
        return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0) > 0

    def _call(self, operation: str, key: str | None, func: Callable[[], Any]) -> Any:
        """Run one boto3 call, turning what botocore raises into :class:`S3StoreError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return func()
        except ClientError as exc:
            if self._code(exc) in ("NoSuchKey", "404", "NotFound") and key is not None:
                raise _Missing(key) from exc
            raise self._error(exc, operation, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, operation, key) from exc

    def check_bucket(self) -> None:
        """One ``HeadBucket``: a clear error now rather than at the first write.

        :raises S3StoreError: the bucket is missing, not accessible, or in another region.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "HeadBucket") from exc

    def _get(self, key: str) -> _Object:
        """An object's bytes, ETag and metadata; :class:`_Missing` if there is none."""
        response = self._call("GetObject", key, lambda: self.client.get_object(**self._at(key)))
        with contextlib.closing(response["Body"]):
            body = response["Body"].read()
        return _Object(body, response["ETag"], dict(response.get("Metadata", {})))

    def _head(self, key: str) -> _Object:
        response = self._call("HeadObject", key, lambda: self.client.head_object(**self._at(key)))
        return _Object(b"", response["ETag"], dict(response.get("Metadata", {})))

    def _at(self, key: str) -> dict[str, str]:
        return {"Bucket": self.bucket, "Key": key}

    def _put(
        self,
        key: str,
        body: bytes,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> str:
        """An unconditional write (artifacts, index entries); returns the ETag."""
        response = self._call(
            "PutObject",
            key,
            lambda: self.client.put_object(
                **self._at(key),
                Body=body,
                ContentType=content_type,
                Metadata=dict(metadata or {}),
                **self._sse,
            ),
        )
        return str(response["ETag"])

    def _put_if(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """A conditional write: create-only without ``if_match``, else replace that ETag only.

        :return: the new ETag.
        :raises _Precondition: S3 refused the write (412): another write is in place.
        :raises _Missing: ``if_match`` was given and there is no object (404).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        write_id = uuid.uuid4().hex
        condition = {"IfMatch": if_match} if if_match is not None else {"IfNoneMatch": "*"}
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                response = self.client.put_object(
                    **self._at(key),
                    Body=body,
                    ContentType="application/json",
                    Metadata={**(metadata or {}), _META_WRITE: write_id},
                    **condition,
                    **self._sse,
                )
                return str(response["ETag"])
            except ClientError as exc:
                code = self._code(exc)
                if code == "PreconditionFailed":
                    # botocore may have re-sent a write whose first answer was lost: if the
                    # stored object carries our write id, that first attempt won.
                    retried = self._retried(exc) or attempt > 0
                    if retried:
                        with contextlib.suppress(_Missing):
                            stored = self._head(key)
                            if stored.metadata.get(_META_WRITE) == write_id:
                                return stored.etag
                    raise _Precondition(key, retried=retried) from exc
                if code == "ConditionalRequestConflict" and attempt < _CONFLICT_RETRIES:
                    time.sleep(random.uniform(0, 0.05 * 2**attempt))
                    continue
                if code in ("NoSuchKey", "404") and if_match is not None:
                    raise _Missing(key) from exc
                raise self._error(exc, "PutObject (conditional)", key) from exc
            except BotoCoreError as exc:
                raise S3StoreError(
                    f"S3 conditional PutObject of {self._where(key)} failed after retries"
                    f" ({type(exc).__name__}: {exc}); the write may or may not have happened:"
                    " read again before retrying"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _delete_if(self, key: str, etag: str) -> bool:
        """Delete ``key`` if it is still at ``etag``; whether it was deleted."""
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(**self._at(key), IfMatch=etag)
        except ClientError as exc:
            if self._code(exc) in ("PreconditionFailed", "NoSuchKey", "404"):
                return False
            raise self._error(exc, "DeleteObject (conditional)", key) from exc
        return True

    def _list(self, prefix: str, start_after: str = "") -> Iterator[dict[str, Any]]:
        """Every object under ``prefix`` after ``start_after``, in key order, page by page."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
        if start_after:
            kwargs["StartAfter"] = start_after
        while True:
            page = self._call(
                "ListObjectsV2", None, functools.partial(self.client.list_objects_v2, **kwargs)
            )
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            kwargs = {**kwargs, "ContinuationToken": page["NextContinuationToken"]}
            kwargs.pop("StartAfter", None)

    def _map(self, func: Callable[[_T], _R], items: list[_T]) -> list[_R]:
        """``func`` over ``items`` in parallel (listing fetches), results in order."""
        if len(items) <= 1:
            return [func(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.workers, thread_name_prefix="tfpilot-s3"
                )
            pool = self._pool
        return list(pool.map(func, items))

    # -- keys ------------------------------------------------------------------------------

    def _request_key(self, request_id: str) -> str:
        return f"{self.prefix}requests/{request_id}.json"

    def _events_prefix(self, request_id: str) -> str:
        return f"{self.prefix}events/{request_id}/"

    def _artifact_key(self, request_id: str, name: str) -> str:
        return f"{self.prefix}artifacts/{request_id}/{name}"

    def _records_prefix(self, namespace: str) -> str:
        return f"{self.prefix}records/{namespace}/"

    def _all_prefix(self) -> str:
        return f"{self.prefix}index/all/"

    def _status_prefix(self, status: str) -> str:
        return f"{self.prefix}index/status/{status}/"

    def _shard_prefix(self, status: str) -> str:
        return f"{self.prefix}index/shard/{status}/"

    def _shard_ready_key(self) -> str:
        return f"{self.prefix}meta/shard-index-ready"

    def _markers(self, request_id: str, status: str, entry: str) -> list[str]:
        """The index keys of a request that depend on its status: its status marker, and its
        shard marker when the status is one drift reads."""
        found = [self._status_prefix(status) + entry]
        if status in _SHARDED:
            found.append(self._shard_prefix(status) + keys.shard_name(request_id, entry))
        return found

    def _shards_ready(self) -> bool:
        """Whether every applied request of the bucket has its shard marker (a HEAD, until
        seen once)."""
        if not self._shards_indexed:
            with contextlib.suppress(_Missing):
                self._head(self._shard_ready_key())
                self._shards_indexed = True
        return self._shards_indexed

    def _check_shard_layout(self) -> None:
        """Before this store's first create: a bucket without requests starts with every
        shard marker there is, so it is marked ready (once per store object)."""
        if self._shards_checked:
            return
        if not self._shards_ready():
            page = self._call(
                "ListObjectsV2",
                None,
                functools.partial(
                    self.client.list_objects_v2,
                    Bucket=self.bucket,
                    Prefix=f"{self.prefix}requests/",
                    MaxKeys=1,
                ),
            )
            if not page.get("Contents"):
                self._put(self._shard_ready_key(), b"{}")
                self._shards_indexed = True
        self._shards_checked = True

    # -- requests --------------------------------------------------------------------------

    def _status(self, request: Request) -> str:
        """The status indexed for a write now (time can later turn it into ``failed``)."""
        return derive_status(request, now=self._clock(), stale_after=self._stale_after).value

    def _remember(self, request_id: str, seen: _Seen) -> None:
        with self._seen_lock:
            current = self._seen.get(request_id)
            if current is None or current.version <= seen.version:
                self._seen.pop(request_id, None)  # re-inserted last: the dict is oldest first
                self._seen[request_id] = seen
            if len(self._seen) > _SEEN_MAX:
                # Forgetting only costs a GET before the next write of that request.
                del self._seen[next(iter(self._seen))]

    def _index_body(self, version: int) -> bytes:
        # The version lets a later writer tell whether an entry is older than its own write; the
        # random write id makes every rewrite change the ETag, so that a conditional delete by a
        # writer who read the entry before the rewrite is refused.
        return json.dumps({"v": version, "w": uuid.uuid4().hex}).encode()

    def _write_entries(self, keys_: Iterable[str], version: int) -> None:
        for key in keys_:
            self._put(key, self._index_body(version))

    def _retire(self, key: str, *, up_to: int) -> None:
        """Delete an index entry if no write newer than version ``up_to`` has (re)written it.

        Best effort: a failure only leaves a stale entry, which listing skips.
        """
        try:
            entry = self._get(key)
            if int(json.loads(entry.body).get("v", 0)) <= up_to:
                self._delete_if(key, entry.etag)
        except (_Missing, ValueError, AttributeError):
            return
        except S3StoreError as exc:
            _log.warning("could not retire index entry %s: %s", key, exc)

    def _read(self, request_id: str) -> tuple[Request, _Seen]:
        """The stored document and what is needed to replace it; :class:`_Missing` if none."""
        from tfpilot_core.stores.sqlite import load_request

        obj = self._get(self._request_key(request_id))
        request = load_request(obj.body, request_id)
        status = obj.metadata.get(_META_STATUS) or self._status(request)
        seen = _Seen(request.version, obj.etag, status, keys.entry_name(request))
        self._remember(request_id, seen)
        return request, seen

    def create_request(self, request: Request) -> Request:
        """Store a new request at version 1; :class:`AlreadyExistsError` if the id is taken.

        The index entries are written first (see the module documentation), then the document with
        ``If-None-Match: *``, so that of concurrent creators exactly one wins.
        """
        check_request_id(request.id, field="id")
        stored = request.model_copy(update={"version": 1})
        key = self._request_key(stored.id)
        # Not the mechanism (the conditional write is), but an id already in use then leaves no
        # ghost index entries behind.
        with contextlib.suppress(_Missing):
            self._head(key)
            raise AlreadyExistsError(f"request {request.id!r} already exists")
        self._check_shard_layout()
        status = self._status(stored)
        entry = keys.entry_name(stored)
        self._write_entries(
            [self._all_prefix() + entry, *self._markers(stored.id, status, entry)], version=1
        )
        try:
            etag = self._put_if(key, stored.dump().encode(), metadata={_META_STATUS: status})
        except _Precondition as lost:
            if lost.retried:
                self._check_not_overwritten(stored.id, 1)
            raise AlreadyExistsError(f"request {request.id!r} already exists") from None
        self._remember(stored.id, _Seen(1, etag, status, entry))
        return stored

    def get_request(self, request_id: str) -> Request:
        """The stored request; :class:`NotFoundError` if there is none."""
        check_request_id(request_id)
        try:
            return self._read(request_id)[0]
        except _Missing:
            raise NotFoundError(f"request {request_id!r} not found") from None

    def put_request(self, request: Request, *, expected_version: int) -> Request:
        """Replace the request if its stored version is ``expected_version``; returns it at +1.

        The write carries ``If-Match`` with the ETag of version ``expected_version`` (remembered
        from this store's last read, or read now), so S3 refuses it if anything was written since.

        :raises ConflictError: the stored version is another one (names both versions).
        :raises NotFoundError: there is no such request.
        """
        check_request_id(request.id, field="id")
        stored = request.model_copy(
            update={"version": expected_version + 1, "updated_at": self._clock()}
        )
        key = self._request_key(stored.id)
        with self._seen_lock:
            seen = self._seen.get(stored.id)
        if seen is None or seen.version != expected_version:
            seen = self._fresh(stored.id, expected_version)
        status = self._status(stored)
        entry = keys.entry_name(stored)
        # Entries first: the index may hold more than the truth, never less.
        new_entries = []
        if entry != seen.entry:
            new_entries.append(self._all_prefix() + entry)
        if (status, entry) != (seen.status, seen.entry):
            new_entries += self._markers(stored.id, status, entry)
        self._write_entries(new_entries, version=stored.version)
        try:
            etag = self._put_if(
                key, stored.dump().encode(), if_match=seen.etag, metadata={_META_STATUS: status}
            )
        except _Missing:
            raise NotFoundError(f"request {stored.id!r} not found") from None
        except _Precondition as lost:
            if lost.retried:
                self._check_not_overwritten(stored.id, stored.version)
            current = self._fresh(stored.id, None)
            raise ConflictError(
                f"request {stored.id!r} was changed concurrently: expected version"
                f" {expected_version}, stored version is {current.version}"
            ) from None
        self._remember(stored.id, _Seen(stored.version, etag, status, entry))
        # The replaced version's entries, if this write no longer needs them.
        if entry != seen.entry:
            self._retire(self._all_prefix() + seen.entry, up_to=stored.version)
        if (status, entry) != (seen.status, seen.entry):
            kept = set(new_entries)
            for key in self._markers(stored.id, seen.status, seen.entry):
                if key not in kept:
                    self._retire(key, up_to=stored.version)
        return stored

    def _check_not_overwritten(self, request_id: str, version: int) -> None:
        """After a retried write was refused by a write that is not ours: did we lose?

        Only one write can produce a given version (each is conditional on the one before), so a
        stored document *at* ``version`` is someone else's and ours lost. A document already past
        it may have overwritten ours: the outcome is unknown, and saying "conflict" could make the
        caller apply its change twice.
        """
        current = self._fresh(request_id, None)
        if current.version > version:
            raise S3StoreError(
                f"request {request_id!r}: the write of version {version} was retried after a lost"
                f" answer and the document is now at version {current.version}; whether this"
                " write was applied is unknown: read the request before retrying"
            )

    def _fresh(self, request_id: str, expected_version: int | None) -> _Seen:
        """Read the stored version; a :class:`ConflictError` if it is not ``expected_version``."""
        try:
            _, seen = self._read(request_id)
        except _Missing:
            raise NotFoundError(f"request {request_id!r} not found") from None
        if expected_version is not None and seen.version != expected_version:
            raise ConflictError(
                f"request {request_id!r} was changed concurrently: expected version"
                f" {expected_version}, stored version is {seen.version}"
            )
        return seen

    # -- listing ---------------------------------------------------------------------------

    def list_requests(self, query: RequestQuery) -> RequestPage:
        """Requests matching every filter of ``query``, newest first, one page at a time.

        Candidates come from the index keys (LIST calls only); each one is then read and checked
        against its document (in parallel), which is the truth. ``created_after`` is inclusive,
        ``created_before`` exclusive; naive datetimes are UTC.
        """
        wanted = _parse_status(query.status)
        if wanted is None:
            prefixes = [self._all_prefix()]
        else:
            # A stored planning/applying/destroying can have turned into failed by now.
            statuses = {wanted} | (STALEABLE if wanted is RequestStatus.FAILED else set())
            prefixes = [self._status_prefix(s.value) for s in sorted(statuses)]
        position = decode_cursor(query.cursor) if query.cursor else None
        start = ""
        if position is not None:
            start = keys.position_after(*position)
        if query.created_before is not None:
            start = max(start, keys.position_before_time(keys.to_us(query.created_before)))
        after_us = None if query.created_after is None else keys.to_us(query.created_after)
        # The fields in an entry's key that can rule it out (an unknown field never does).
        where = IndexFilter(
            environments=_one(query.environment),
            modules=_one(query.module),
            projects=_one(query.project),
            authors=_one(query.author),
        )

        def candidates() -> Iterator[keys.IndexEntry]:
            streams = [self._entries(prefix, start) for prefix in prefixes]
            last = None
            for name, entry in heapq.merge(*streams, key=lambda item: item[0]):
                if name == last:
                    continue  # the same request under two status markers
                last = name
                if after_us is not None and entry.created_us < after_us:
                    return  # newest first: everything after this is older still
                if where.admits(_row(entry, None, doubtful=False)):
                    yield entry

        now = self._clock()
        items: list[Request] = []
        unreadable: list[str] = []
        source = candidates()
        want = query.limit + 1  # one more than a page, to know whether there is a next page
        while len(items) < want:
            # Exactly as many candidates as still wanted: every GET is a document returned, unless
            # the index holds stale entries, which cost another round.
            size = min(1000, want - len(items))
            batch = [e for _, e in zip(range(size), source, strict=False)]
            if not batch:
                break
            for entry, request in zip(batch, self._map(self._load_entry, batch), strict=True):
                if isinstance(request, str):
                    unreadable.append(request)
                    continue
                if request is None or not self._matches(request, entry, query, wanted, now):
                    continue
                items.append(request)
                if len(items) == want:
                    break
        if len(items) > query.limit:
            last = items[query.limit - 1]
            return RequestPage(
                items=items[: query.limit],
                next_cursor=encode_cursor(keys.to_us(last.created_at), last.id),
                unreadable=unreadable,
            )
        return RequestPage(items=items, next_cursor=None, unreadable=unreadable)

    def _entries(self, prefix: str, start: str) -> Iterator[tuple[str, keys.IndexEntry]]:
        for obj in self._list(prefix, prefix + start if start else ""):
            name = obj["Key"][len(prefix) :]
            entry = keys.parse_entry(name)
            if entry is not None:
                yield name, entry

    def _load_entry(self, entry: keys.IndexEntry) -> Request | str | None:

        try:
            return self._read(entry.request_id)[0]
        except _Missing:
            return None  # a ghost: a create that lost its race or has not finished
        except StoreCorruptionError:
            return entry.request_id  # unreadable: named in the page, never breaks the listing

    def _matches(
        self,
        request: Request,
        entry: keys.IndexEntry,
        query: RequestQuery,
        wanted: RequestStatus | None,
        now: datetime,
    ) -> bool:
        """Whether the document (the truth) belongs in the listing under this entry."""
        created_us = keys.to_us(request.created_at)
        if (created_us, request.id) != entry.sort_key():
            return False  # a stale entry: the document is listed under its own entry
        placement = request.placement
        for wanted_value, actual in (
            (query.environment, placement.environment),
            (query.module, placement.module),
            (query.project, placement.project),
            (query.author, request.created_by),
        ):
            if wanted_value is not None and wanted_value != actual:
                return False
        if query.created_after is not None and created_us < keys.to_us(query.created_after):
            return False
        if query.created_before is not None and created_us >= keys.to_us(query.created_before):
            return False
        return wanted is None or (
            derive_status(request, now=now, stale_after=self._stale_after) is wanted
        )

    def index_rows(
        self,
        where: IndexFilter | None = None,
        *,
        with_status: bool = False,
        with_cost: bool = False,
    ) -> list[IndexRow]:
        """The index's rows, from LIST calls alone (one per 1,000 keys; no document read).

        Without ``with_status`` the ``index/all/`` keys are listed; with it every status
        prefix, so that a request with markers under two statuses (a write that crashed between
        its document and the retirement of its old marker) is seen, and returned not ``exact``
        (its fields unknown), as are requests whose stored status time may turn into ``failed``
        and entries with a field too long for a key. The index holds no costs: ``with_cost``
        rows say so (``cost_indexed`` false) and the caller reads the documents of the rows it
        keeps. A drift shard of applied requests (``where.shard``) is read from its shard
        markers (:meth:`_shard_rows`).

        A create that crashed after writing its entries and before its document leaves a ghost
        entry, counted here until :meth:`repair_index` removes it.
        """
        where = where or IndexFilter()
        if (
            where.shard is not None
            and with_status
            and where.statuses
            and set(where.statuses) <= _SHARDED
            and self._shards_ready()
        ):
            return self._shard_rows(where)
        start = ""
        if where.created_before is not None:
            start = keys.position_before_time(keys.to_us(where.created_before))
        after_us = None if where.created_after is None else keys.to_us(where.created_after)
        prefixes: list[tuple[str | None, str]]
        if with_status:
            prefixes = [(s.value, self._status_prefix(s.value)) for s in RequestStatus]
        else:
            prefixes = [(None, self._all_prefix())]
        found: dict[str, tuple[keys.IndexEntry, str | None]] = {}
        doubtful: set[str] = set()
        for status, prefix in prefixes:
            for _, entry in self._entries(prefix, start):
                if after_us is not None and entry.created_us < after_us:
                    break  # newest first: the rest is older still
                seen = found.get(entry.request_id)
                if seen is not None:
                    doubtful.add(entry.request_id)  # two entries: only the document can tell
                    continue
                found[entry.request_id] = (entry, status)
        staleable = {s.value for s in STALEABLE}
        rows = []
        for request_id, (entry, status) in found.items():
            row = _row(entry, status, doubtful=request_id in doubtful)
            if with_status and status in staleable:
                row = replace(row, exact=False)
            if where.admits(row):
                rows.append(row)
        return rows

    def _shard_rows(self, where: IndexFilter) -> list[IndexRow]:
        """The rows of a drift shard's members: a listing of each wanted status's shard
        markers from the shard's first key, stopped at the next shard's (one LIST per 1,000
        members). Not ``exact``: another status marker of the request is not looked at, so
        the caller checks the documents (the drift shard reads them anyway)."""
        assert where.shard is not None
        low, high = shard_range(*where.shard)
        rows = []
        for status in sorted(set(where.statuses)):
            prefix = self._shard_prefix(status)
            for obj in self._list(prefix, prefix + low):
                parsed = keys.parse_shard_name(obj["Key"][len(prefix) :])
                if parsed is None:
                    continue
                key, entry = parsed
                if high is not None and key >= high:
                    break  # the next shard's members: this one's are all read
                row = replace(_row(entry, status, doubtful=False), exact=False)
                if where.admits(row):
                    rows.append(row)
        return rows

    def get_requests(self, ids: Sequence[str]) -> dict[str, Request]:
        """The stored requests of ``ids`` (those that exist), one GET each, in parallel."""
        loaded = self._map(self._load_id, list(ids))
        return {r.id: r for r in loaded if r is not None}

    def scan_requests(self) -> list[Request]:
        """Every stored request, read one by one without the index, newest first.

        The slow path the index exists to avoid: :meth:`repair_index` and the benchmark use it.
        """
        prefix = f"{self.prefix}requests/"
        names = [
            obj["Key"][len(prefix) : -len(".json")]
            for obj in self._list(prefix)
            if obj["Key"].endswith(".json")
        ]
        found = [r for r in self._map(self._load_id, names) if r is not None]
        return sorted(found, key=lambda r: (keys.to_us(r.created_at), r.id), reverse=True)

    def _load_id(self, request_id: str) -> Request | None:
        try:
            return self._read(request_id)[0]
        except _Missing:
            return None

    def repair_index(self, *, grace: timedelta = _GHOST_GRACE) -> dict[str, int]:
        """Make the index match the documents: add missing entries, remove stale ones.

        Not needed for correct listings (they never miss a request and skip stale entries); it
        keeps listings cheap after crashes and lost races, and indexes documents written by other
        means (a restore, a copy). Ghost entries younger than ``grace`` are kept: they may belong
        to a create whose document is being written.

        :return: counts of ``added`` and ``removed`` entries.
        """
        documents: dict[str, tuple[str, str, int]] = {}
        added = removed = 0
        for request in self.scan_requests():
            with self._seen_lock:
                seen = self._seen.get(request.id)
            if seen is None or seen.version != request.version:
                seen = self._fresh(request.id, None)
            documents[request.id] = (seen.entry, seen.status, seen.version)
            for key in (
                self._all_prefix() + seen.entry,
                *self._markers(request.id, seen.status, seen.entry),
            ):
                try:
                    self._head(key)
                except _Missing:
                    self._put(key, self._index_body(seen.version))
                    added += 1
        # Every document has its shard marker now: drift shards may be read from them.
        if not self._shards_ready():
            self._put(self._shard_ready_key(), b"{}")
            self._shards_indexed = True
        cutoff = self._clock() - grace
        index_prefix = f"{self.prefix}index/"
        for obj in self._list(index_prefix):
            rest = obj["Key"][len(index_prefix) :]
            kind, _, name = rest.partition("/")
            status = None
            if kind in ("status", "shard"):
                status, _, name = name.partition("/")
            if kind == "shard":
                parsed = keys.parse_shard_name(name)
                name = "" if parsed is None else name[len(parsed[0]) :]
            entry = keys.parse_entry(name)
            if entry is None:
                continue
            truth = documents.get(entry.request_id)
            if truth is not None and name == truth[0] and status in (None, truth[1]):
                continue  # the entry of the current document
            try:
                current = self._get(obj["Key"])
                written_by = int(json.loads(current.body).get("v", 0))
            except _Missing:
                continue
            except (ValueError, AttributeError):
                written_by = 0
            # An entry written for a version the document has reached (or passed) is stale for
            # sure; one without a document, or for a newer version, may be a write in flight.
            old = obj["LastModified"] < cutoff
            stale = (truth is not None and written_by <= truth[2]) or old
            if stale and self._delete_if(obj["Key"], current.etag):
                removed += 1
        return {"added": added, "removed": removed}

    # -- events ----------------------------------------------------------------------------

    def append_event(self, event: Event) -> Event:
        """Append to the request's event stream; returns the event with its ``seq`` set.

        The number is claimed by creating ``events/<id>/<seq>`` with ``If-None-Match: *``: a
        number taken by a concurrent appender is refused by S3 and the next one is tried, so
        numbers are distinct and, since a number is only taken by writing its event, gapless.
        """
        check_request_id(event.request_id)
        prefix = self._events_prefix(event.request_id)
        with self._seen_lock:
            seq = self._last_seq.get(event.request_id)
        if seq is None:
            seq = self._max_seq(prefix, 0)
        from tfpilot_core.event_chain import link

        for _ in range(_APPEND_ATTEMPTS):
            # Chained to the event before it (tfpilot_core.event_chain); a lost race re-reads it.
            previous: Event | None = None
            if seq:
                with self._seen_lock:
                    cached = self._last_event.get(event.request_id)
                if cached is not None and cached.seq == seq:
                    previous = cached  # the event this process appended last: no GET
                else:
                    try:
                        previous = Event.model_validate_json(
                            self._get(f"{prefix}{seq:012d}.json").body
                        )
                    except _Missing:
                        seq = self._max_seq(prefix, 0)
                        continue
            stored = link(event.model_copy(update={"seq": seq + 1}), previous)
            try:
                self._put_if(f"{prefix}{seq + 1:012d}.json", stored.model_dump_json().encode())
            except _Precondition:
                # Taken: find the current end of the stream and try after it.
                seq = self._max_seq(prefix, seq + 1)
                continue
            with self._seen_lock:
                self._last_seq[event.request_id] = max(
                    stored.seq, self._last_seq.get(event.request_id, 0)
                )
                self._last_event[event.request_id] = stored
            return stored
        raise ConflictError(
            f"request {event.request_id!r}: no event number after {_APPEND_ATTEMPTS} attempts"
        )

    def _max_seq(self, prefix: str, at_least: int) -> int:
        """The highest event number stored (listing only what comes after ``at_least``)."""
        start = f"{prefix}{at_least:012d}.json" if at_least else ""
        highest = at_least
        for obj in self._list(prefix, start):
            with contextlib.suppress(ValueError):
                highest = max(highest, int(obj["Key"][len(prefix) :].removesuffix(".json")))
        return highest

    def list_events(self, request_id: str) -> list[Event]:
        """The request's events in the order they were appended (empty for an unknown id)."""
        check_request_id(request_id)
        names = [obj["Key"] for obj in self._list(self._events_prefix(request_id))]
        events = [Event.model_validate_json(o.body) for o in self._map(self._get, names)]
        return sorted(events, key=lambda e: e.seq)

    # -- artifacts -------------------------------------------------------------------------

    def put_artifact(self, request_id: str, name: str, data: bytes) -> str:
        """Store a named artifact, replacing one of the same name; returns its sha256."""
        check_request_id(request_id)
        check_artifact_name(name)
        digest = hashlib.sha256(data).hexdigest()
        self._put(
            self._artifact_key(request_id, name),
            data,
            metadata={_META_SHA256: digest},
            content_type="application/octet-stream",
        )
        return digest

    def get_artifact(self, request_id: str, name: str) -> bytes:
        """A stored artifact's bytes, checked against their sha256; :class:`NotFoundError`."""
        check_request_id(request_id)
        check_artifact_name(name)
        key = self._artifact_key(request_id, name)
        try:
            obj = self._get(key)
        except _Missing:
            raise NotFoundError(f"artifact {name!r} of request {request_id!r} not found") from None
        # Plans are applied by digest: never hand out bytes that are not what was stored.
        if hashlib.sha256(obj.body).hexdigest() != obj.metadata.get(_META_SHA256):
            raise StoreCorruptionError(f"{self._where(key)} does not match its sha256")
        return obj.body

    # -- records ---------------------------------------------------------------------------

    def _record_key(self, namespace: str, key: str) -> str:
        return self._records_prefix(namespace) + keys.record_name(key)

    def _read_record(self, object_key: str) -> tuple[dict[str, Any], str] | None:
        try:
            obj = self._get(object_key)
        except _Missing:
            return None
        return json.loads(obj.body), obj.etag

    def _live(self, document: Mapping[str, Any]) -> bool:
        if document.get("deleted"):
            return False
        expires_us = document.get("expires_us")
        return expires_us is None or expires_us > keys.to_us(self._clock())

    @staticmethod
    def _to_record(document: Mapping[str, Any]) -> Record:
        expires_us = document.get("expires_us")
        return Record(
            namespace=document["namespace"],
            key=document["key"],
            value=document["value"],
            version=document["version"],
            expires_at=None if expires_us is None else keys.from_us(expires_us),
        )

    def get_record(self, namespace: str, key: str) -> Record | None:
        """A keyed record, or ``None``. Expired (and deleted) records read as ``None``."""
        check_namespace(namespace)
        check_record_key(key)
        found = self._read_record(self._record_key(namespace, key))
        if found is None or not self._live(found[0]) or found[0].get("key") != key:
            return None
        return self._to_record(found[0])

    def put_record(
        self,
        namespace: str,
        key: str,
        value: Mapping[str, Any],
        *,
        expected_version: int | None,
        expires_at: datetime | None = None,
    ) -> Record:
        """Compare-and-swap a record with a conditional write.

        ``expected_version=None`` creates it at version 1 (``If-None-Match: *``) or replaces an
        expired or deleted one at the next version (``If-Match``), so a holder of the old version
        can never act on the new record. Otherwise the live record must be at ``expected_version``
        and is replaced (``If-Match``) at +1.

        :raises ConflictError: a live record exists (create), the live record is at another
            version or there is none (update), or a concurrent write won.
        """
        check_namespace(namespace)
        check_record_key(key)
        object_key = self._record_key(namespace, key)
        found = self._read_record(object_key)
        live = found is not None and self._live(found[0])
        where = f"record {namespace}/{key}"
        if expected_version is None:
            if found is not None and live:
                raise ConflictError(f"{where} already exists at version {found[0]['version']}")
            version = 1 if found is None else int(found[0]["version"]) + 1
        else:
            if found is None or not live:
                raise ConflictError(
                    f"{where}: expected version {expected_version},"
                    " but there is no (unexpired) record"
                )
            if found[0]["version"] != expected_version:
                raise ConflictError(
                    f"{where}: expected version {expected_version},"
                    f" stored version is {found[0]['version']}"
                )
            version = expected_version + 1
        document = {
            "namespace": namespace,
            "key": key,
            # pydantic's encoder, as for the documents: datetimes, decimals and enums become JSON.
            "value": json.loads(to_json(dict(value))),
            "version": version,
            "expires_us": None if expires_at is None else keys.to_us(expires_at),
        }
        try:
            self._put_if(
                object_key,
                json.dumps(document).encode(),
                if_match=None if found is None else found[1],
            )
        except _Missing:
            raise ConflictError(f"{where} was changed concurrently (version {version})") from None
        except _Precondition as lost:
            if lost.retried:
                self._check_record_not_overwritten(object_key, where, version)
            raise ConflictError(f"{where} was changed concurrently (version {version})") from None
        return self._to_record(document)

    def _check_record_not_overwritten(self, object_key: str, where: str, version: int) -> None:
        """As :meth:`_check_not_overwritten`, for a record (tombstones included)."""
        found = self._read_record(object_key)
        if found is not None and int(found[0]["version"]) > version:
            raise S3StoreError(
                f"{where}: the write of version {version} was retried after a lost answer and the"
                f" record is now at version {found[0]['version']}; whether this write was applied"
                " is unknown: read the record before retrying"
            )

    def delete_record(self, namespace: str, key: str, *, expected_version: int) -> None:
        """Delete a record if its stored, unexpired version matches.

        The object is replaced by a tombstone at version + 1 (a conditional write), so that
        versions of a key keep growing: a later create cannot reuse a version that an old holder
        still has in hand.

        :raises ConflictError: the version differs, there is no live record, or a concurrent
            write won.
        """
        check_namespace(namespace)
        check_record_key(key)
        object_key = self._record_key(namespace, key)
        found = self._read_record(object_key)
        if found is None or not self._live(found[0]) or found[0]["version"] != expected_version:
            raise ConflictError(
                f"record {namespace}/{key}: expected version {expected_version}, but the stored"
                " record is another version, expired or missing"
            )
        tombstone = {
            "namespace": namespace,
            "key": key,
            "value": {},
            "version": expected_version + 1,
            "expires_us": None,
            "deleted": True,
        }
        where = f"record {namespace}/{key}"
        try:
            self._put_if(object_key, json.dumps(tombstone).encode(), if_match=found[1])
        except _Missing:
            raise ConflictError(f"{where} was changed concurrently") from None
        except _Precondition as lost:
            if lost.retried:
                self._check_record_not_overwritten(object_key, where, expected_version + 1)
            raise ConflictError(f"{where} was changed concurrently") from None

    # -- the due-time index (tfpilot_core.stores.due) --------------------------------------------

    def _due_prefix(self, namespace: str) -> str:
        return f"{self.prefix}index/due/{namespace}/"

    def mark_due(self, namespace: str, key: str, at: datetime) -> None:
        """Add the due entry ``(at, key)``: one empty object (one PUT)."""
        check_namespace(namespace)
        check_record_key(key)
        self._put(self._due_prefix(namespace) + keys.due_name(at, key), b"")

    def clear_due(self, namespace: str, key: str, at: datetime) -> None:
        """Remove the due entry ``(at, key)`` (one DELETE; a missing entry is fine)."""
        name = self._due_prefix(namespace) + keys.due_name(at, key)
        self._call("DeleteObject", None, lambda: self.client.delete_object(**self._at(name)))

    def due_keys(
        self, namespace: str, until: datetime, *, limit: int = 1000
    ) -> list[tuple[datetime, str]]:
        """Due entries at or before ``until``, earliest first: LIST calls by prefix only, which
        stop at the first entry due later (one call for up to 1,000 due entries)."""
        from urllib.parse import unquote

        prefix = self._due_prefix(namespace)
        until_us = keys.to_us(until)
        found: list[tuple[datetime, str]] = []
        for obj in self._list(prefix):
            due, _, name = obj["Key"][len(prefix) :].partition("~")
            if not due.isdigit() or int(due) > until_us or len(found) >= limit:
                break
            if "~" in name:
                continue  # a shortened (hashed) key name: cannot be read back, never written
            found.append((keys.from_us(int(due)), unquote(name)))
        return found

    def list_records(self, namespace: str, prefix: str = "") -> list[Record]:
        """Unexpired records of a namespace whose key starts with ``prefix``, by key."""
        check_namespace(namespace)
        list_prefix = self._records_prefix(namespace) + keys.record_name_prefix(prefix)
        names = [obj["Key"] for obj in self._list(list_prefix)]
        documents = [d for d in self._map(self._read_record, names) if d is not None]
        return sorted(
            (
                self._to_record(document)
                for document, _ in documents
                if self._live(document) and str(document.get("key", "")).startswith(prefix)
            ),
            key=lambda r: r.key,
        )


def _parse_status(value: str | None) -> RequestStatus | None:
    if value is None:
        return None
    try:
        return RequestStatus(value)
    except ValueError as exc:
        raise ValidationError(
            [
                FieldProblem(
                    field="status",
                    rule="enum",
                    message=f"{value!r} is not one of " + ", ".join(s.value for s in RequestStatus),
                )
            ],
            subject="request query",
        ) from exc


def _row(entry: keys.IndexEntry, status: str | None, *, doubtful: bool) -> IndexRow:
    """The row of an index entry; a doubtful one (a request with two entries that may
    disagree) has its fields unknown (empty) and is not exact."""
    fields = (entry.environment, entry.module, entry.project, entry.author)
    if doubtful:
        fields = (None, None, None, None)
    return IndexRow(
        id=entry.request_id,
        environment=fields[0] or "",
        module=fields[1] or "",
        project=fields[2] or "",
        author=fields[3] or "",
        created_at=keys.from_us(entry.created_us),
        status=status,
        exact=not doubtful and None not in fields,
    )


def _one(value: str | None) -> list[str]:
    """A single filter value as a list of wanted values (none: any)."""
    return [] if value is None else [value]
