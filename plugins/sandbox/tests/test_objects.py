"""The object store behind the provider, and the static price list."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.plan import Plan
from tfpilot_sandbox.cost import SandboxCostEstimator, monthly_price
from tfpilot_sandbox.objects import (
    NameTakenError,
    ObjectNotFoundError,
    ObjectStore,
    SandboxError,
    coerce_value,
)


def test_create_get_replace_delete(tmp_path: Path) -> None:
    """The basic cycle, one JSON file per object."""
    store = ObjectStore(tmp_path)
    store.create("sandbox_bucket", "logs", {"name": "logs", "encryption": True})
    path = tmp_path / "sandbox_bucket" / "logs.json"
    assert json.loads(path.read_text()) == {"name": "logs", "encryption": True}
    store.replace("sandbox_bucket", "logs", {"name": "logs", "encryption": False})
    assert store.get("sandbox_bucket", "logs") == {"name": "logs", "encryption": False}
    assert store.delete("sandbox_bucket", "logs") is True
    assert store.delete("sandbox_bucket", "logs") is False
    assert store.get("sandbox_bucket", "logs") is None
    assert list(path.parent.iterdir()) == []  # no temp files left behind


def test_names_are_unique_per_type(tmp_path: Path) -> None:
    """A taken name is refused for the same type and allowed for another."""
    store = ObjectStore(tmp_path)
    store.create("sandbox_bucket", "shared", {"name": "shared"})
    with pytest.raises(NameTakenError, match="name taken"):
        store.create("sandbox_bucket", "shared", {"name": "shared", "other": 1})
    assert store.get("sandbox_bucket", "shared") == {"name": "shared"}
    store.create("sandbox_queue", "shared", {"name": "shared"})


def test_concurrent_creates_have_one_winner(tmp_path: Path) -> None:
    """Exclusive create: of many racing creates of one name, exactly one succeeds."""
    store = ObjectStore(tmp_path)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.create("sandbox_queue", "race", {"name": "race", "by": i})
            results.append("won")
        except NameTakenError:
            results.append("lost")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]


@pytest.mark.parametrize("name", ["", "UPPER", "../x", "a/b", "-lead", "x" * 64, "a.b"])
def test_names_are_strict(tmp_path: Path, name: str) -> None:
    """A name becomes a file name: anything but a DNS-like label is refused."""
    with pytest.raises(SandboxError, match="invalid name"):
        ObjectStore(tmp_path).path("sandbox_bucket", name)


def test_update_and_list(tmp_path: Path) -> None:
    """``update`` merges changes into an existing object; ``list`` goes by type then name."""
    store = ObjectStore(tmp_path)
    with pytest.raises(ObjectNotFoundError):
        store.update("sandbox_bucket", "ghost", {"encryption": False})
    store.create("sandbox_queue", "b", {"name": "b"})
    store.create("sandbox_bucket", "z", {"name": "z", "encryption": True})
    store.create("sandbox_bucket", "a", {"name": "a"})
    store.update("sandbox_bucket", "z", {"encryption": False})
    assert [(o["type"], o["name"]) for o in store.list()] == [
        ("sandbox_bucket", "a"),
        ("sandbox_bucket", "z"),
        ("sandbox_queue", "b"),
    ]
    assert store.get("sandbox_bucket", "z") == {"name": "z", "encryption": False}


def test_coerce_value() -> None:
    """Command-line strings become typed JSON values."""
    assert coerce_value("bool", "TRUE") is True
    assert coerce_value("bool", "off") is False
    assert coerce_value("number", "60") == 60
    assert coerce_value("number", "1.5") == 1.5
    assert coerce_value("map", '{"a": "b"}') == {"a": "b"}
    assert coerce_value("string", "local-2") == "local-2"
    with pytest.raises(SandboxError):
        coerce_value("map", '{"a": 1}')


def _change(
    rtype: str, actions: list[str], before: Any, after: Any, mode: str = "managed"
) -> dict[str, Any]:
    return {
        "address": f"{rtype}.this",
        "type": rtype,
        "name": "this",
        "mode": mode,
        "provider_name": "registry.terraform.io/tfpilot/sandbox",
        "change": {"actions": actions, "before": before, "after": after},
    }


def test_price_list() -> None:
    """Flat prices, instance by size (730 hours) plus a public IP."""
    assert monthly_price("sandbox_bucket", {}) == Decimal("2.30")
    assert monthly_price("sandbox_queue", {}) == Decimal("0.40")
    assert monthly_price("sandbox_instance", {"size": "small"}) == Decimal("7.59")
    assert monthly_price("sandbox_instance", {"size": "small", "public_ip": True}) == Decimal(
        "11.24"
    )
    assert monthly_price("sandbox_instance", {}) is None
    assert monthly_price("sandbox_bucket", None) == Decimal(0)


def test_estimate_update_and_delete() -> None:
    """Resize + delete: per-line before/after and totals; other providers ignored."""
    document = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [
            _change("sandbox_instance", ["update"], {"size": "small"}, {"size": "large"}),
            _change("sandbox_queue", ["delete"], {"name": "q"}, None),
            _change("terraform_data", ["create"], None, {}),
        ],
    }
    for plan in (document, Plan.parse(document)):
        estimate = SandboxCostEstimator().estimate(None, plan)
        assert estimate is not None
        assert estimate.currency == "USD"
        assert estimate.estimator == "sandbox"
        assert estimate.previous == Decimal("7.59") + Decimal("0.40")
        assert estimate.monthly == Decimal("60.74")
        assert estimate.delta == Decimal("60.74") - Decimal("7.99")
        assert [line.resource_type for line in estimate.lines] == [
            "sandbox_instance",
            "sandbox_queue",
        ]


def test_estimate_none_without_sandbox_resources() -> None:
    """Nothing to price: ``None``, so another estimator's answer is used."""
    document = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [_change("terraform_data", ["create"], None, {})],
    }
    assert SandboxCostEstimator().estimate(None, Plan.parse(document)) is None


def test_unknown_size_makes_the_total_unknown() -> None:
    """An instance whose size is not known until apply has an unknown price."""
    document = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [
            _change("sandbox_instance", ["create"], None, {"name": "x"}),
            _change("sandbox_bucket", ["create"], None, {"name": "b"}),
        ],
    }
    estimate = SandboxCostEstimator().estimate(None, document)
    assert estimate is not None
    assert estimate.monthly is None
    assert estimate.previous == Decimal(0)
