"""Health and readiness endpoints for load balancers and orchestrators (``docs/deploy.md``).

* ``GET /healthz``: the process answers (liveness). Touches nothing else.
* ``GET /readyz``: the replica can serve: its store answers a read (one ``get_record``; on S3
  one GET). 503 with a problem detail otherwise, so a balancer stops sending it requests.

Both are unauthenticated and say nothing about requests, users or configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from tfpilot_core.platform import Platform

__all__ = ["build_health_router"]

#: The record the readiness probe reads (it need not exist: a "none" answer is a working store).
_PROBE = ("health", "probe")


def build_health_router(platform: Platform) -> APIRouter:
    """The ``/healthz`` and ``/readyz`` routes."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await run_in_threadpool(platform.store.get_record, *_PROBE)
        except Exception as exc:  # any store failure: not ready (the reason, never a secret)
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": f"the store does not answer: {type(exc).__name__}",
                },
                status_code=503,
                media_type="application/problem+json",
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})

    return router
