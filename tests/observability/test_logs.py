"""Captured logs: masking, the size cap, FTS5 search that respects read grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfpilot_core.access import Access
from tfpilot_core.config import load_config
from tfpilot_core.masking import MASK
from tfpilot_core.models import Event, Placement, Request, RunAttempt, RunKind
from tfpilot_core.rbac import Action
from tfpilot_core.run_logs import CUT_MARKER, cap, capture, read
from tfpilot_core.run_logs.search import _scan, search
from tfpilot_core.stores.sqlite import SQLiteStore

SECRET = "hunter2-very-secret"
ERROR = "Error: creating bucket: BucketAlreadyExists: the name is taken ({secret})"


def _request(store: SQLiteStore, rid: str, project: str) -> tuple[Request, RunAttempt]:
    request = store.create_request(
        Request(
            id=rid,
            placement=Placement(
                project=project, environment="dev", module="sandbox/bucket", module_version="v1"
            ),
            inputs={"password": SECRET},
            created_by="alice",
        )
    )
    attempt = RunAttempt(
        id="plan-1-abcdef12",
        kind=RunKind.PLAN,
        number=1,
        runner="local",
        revision=1,
        actor="alice",
        details={"trace_id": "ab" * 16},
    )
    return request, attempt


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "t.db", synchronous="NORMAL")
    yield s
    s.close()


@pytest.fixture
def access(tmp_path: Path) -> Access:
    path = tmp_path / "tfpilot.toml"
    path.write_text(
        '[users.scoped]\ngrants = [{ role = "viewer", projects = ["shop"] }]\n'
        '[users.admin]\nrole = "admin"\n'
    )
    return Access(load_config(path, environ={}))


def _readable(access: Access, actor: str):
    return lambda p, e: access.may(actor, Action.READ, project=p, environment=e)


def test_capture_masks_and_reads_back(store: SQLiteStore) -> None:
    request, attempt = _request(store, "dev-bucket-aaaa", "shop")
    capture(store, request, attempt, "$ terraform plan\n" + ERROR.format(secret=SECRET), [SECRET])
    text = read(store, request.id, attempt.id)
    assert SECRET not in text and MASK in text
    assert f"trace_id={'ab' * 16}" in text and "attempt=plan-1-abcdef12" in text


def test_cap_keeps_head_and_tail_and_marks_the_cut() -> None:
    text = "init ok\n" + "x" * 10_000 + "\nError: the end"
    capped = cap(text, limit=2_000)
    assert len(capped.encode()) <= 2_000
    assert capped.startswith("init ok") and capped.endswith("Error: the end")
    assert CUT_MARKER.split("{")[0].strip() in capped
    assert cap("short", limit=2_000) == "short"


def test_search_finds_error_word_never_secret_nor_other_project(
    store: SQLiteStore, access: Access
) -> None:
    shop, a1 = _request(store, "dev-bucket-aaaa", "shop")
    bank, a2 = _request(store, "dev-bucket-bbbb", "bank")
    capture(store, shop, a1, ERROR.format(secret=SECRET), [SECRET])
    capture(store, bank, a2, ERROR.format(secret=SECRET), [SECRET])
    store.append_event(
        Event(request_id=bank.id, type="plan_failed", data={"error": "BucketAlreadyExists in bank"})
    )
    admin = search(store, "bucketalreadyexists", readable=_readable(access, "admin"))
    assert admin["method"] == "fts5"
    assert {(h["request_id"], h["source"]) for h in admin["hits"]} == {
        (shop.id, "log"),
        (bank.id, "log"),
        (bank.id, "event"),
    }
    scoped = search(store, "BucketAlreadyExists", readable=_readable(access, "scoped"))
    assert [h["request_id"] for h in scoped["hits"]] == [shop.id]
    for result in (admin, scoped):
        assert SECRET not in str(result)
    # The secret itself is not searchable: it was never stored.
    assert search(store, "hunter2", readable=_readable(access, "admin"))["hits"] == []
    # Query syntax is literal words: FTS operators do not break it.
    assert search(store, 'taken" (name*', readable=_readable(access, "admin"))["hits"]


def test_scan_search_for_other_stores(store: SQLiteStore, access: Access) -> None:
    shop, a1 = _request(store, "dev-bucket-aaaa", "shop")
    bank, a2 = _request(store, "dev-bucket-bbbb", "bank")
    for request, attempt in ((shop, a1), (bank, a2)):
        request.runs[RunKind.PLAN] = [attempt]
        store.put_request(request, expected_version=request.version)
        capture(store, request, attempt, ERROR.format(secret=SECRET), [SECRET])
    scoped = _scan(
        store,
        "BucketAlreadyExists",
        readable=_readable(access, "scoped"),
        since=None,
        environment=None,
        limit=10,
    )
    assert scoped["method"] == "scan"
    assert [h["request_id"] for h in scoped["hits"]] == [shop.id]
    assert SECRET not in str(scoped)
