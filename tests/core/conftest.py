"""Helpers shared by the core tests."""

from __future__ import annotations

import pytest

from tfpilot_core.models import Event, Placement, Request


@pytest.fixture
def request_doc() -> Request:
    """A minimal request document."""
    return Request(
        id="req_dev_bkt_abc234",
        placement=Placement(
            project="demo", environment="dev", module="sandbox/bucket", module_version="x"
        ),
        inputs={"name": "logs"},
        created_by="alice",
    )


@pytest.fixture
def event(request_doc: Request) -> Event:
    """An event of ``request_doc``."""
    return Event(request_id=request_doc.id, type="request_created", actor="alice")
