"""Several processes against one embedded store: no update lost, one create per idempotency key."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tfpilot_core.platform import Platform

CONFIG = """
[users.dev]
role = "developer"
[plugins.modules_dir]
paths = ["{modules}"]
"""


def _platform(home: str) -> Platform:
    environ = {"TFPILOT_HOME": home, "TFPILOT_CONFIG": f"{home}/tfpilot.toml"}
    return Platform.from_config(environ=environ, entry_points=False)


def _update_many(home: str, request_id: str, worker: int, count: int) -> None:
    platform = _platform(home)
    for i in range(count):
        platform.update("dev", request_id, {"tags": {f"w{worker}": str(i)}})


def _create(home: str, key: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    platform = _platform(home)
    request = platform.create(
        "dev",
        module="test/bucket",
        environment="dev",
        project="shop",
        inputs={"name": "race"},
        idempotency_key=key,
    )
    queue.put(request.id)


@pytest.fixture
def home(tmp_path: Path, module_dir: Path) -> str:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tfpilot.toml").write_text(CONFIG.format(modules=module_dir.parent.parent))
    return str(home)


@pytest.mark.slow
def test_concurrent_updates_lose_nothing(home: str) -> None:
    platform = _platform(home)
    request = platform.create(
        "dev", module="test/bucket", environment="dev", project="shop", inputs={"name": "x"}
    )
    workers, count = 4, 10
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_update_many, args=(home, request.id, w, count)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    final = platform.get(request.id)
    assert final.revision == 1 + workers * count
    updates = [e for e in platform.timeline(request.id) if e.type == "request_updated"]
    # Every accepted update got its own revision: none was written over another.
    assert sorted(e.data["revision"] for e in updates) == list(range(2, 2 + workers * count))
    # A top-level input replaces the whole value: the last writer's tags are what is stored.
    user_tags = {k for k in final.inputs["tags"] if not k.startswith("tfpilot:")}
    assert len(user_tags) == 1


@pytest.mark.slow
def test_concurrent_creates_with_one_idempotency_key(home: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_create, args=(home, "same-key", queue)) for _ in range(6)]
    for p in procs:
        p.start()
    ids = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(set(ids)) == 1
    assert [r.id for r in _platform(home).list().items] == [ids[0]]
