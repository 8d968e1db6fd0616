"""``tfpilot serve`` (the real CLI, its logging and uvicorn) with one more route that has a bug.

Run by ``test_log_scrub.py`` as ``python serve_with_a_bug.py PORT``. The route reads every part of
the request into local variables (headers, cookies, query, form or JSON body) and then fails with
a message that repeats some of them: the worst case for a log of the failure.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import Request

import tfpilot_web.app as web_app
from tfpilot_core.cli import main

_create_app = web_app.create_app


async def boom(request: Request) -> None:
    headers = dict(request.headers)
    cookies = dict(request.cookies)
    query = dict(request.query_params)
    body = await request.body()
    form: Any = None
    document: Any = None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(await request.form())
    elif body:
        document = await request.json()
    raise RuntimeError(f"cannot handle {query!r} {form!r} {document!r} {headers!r} {cookies!r}")


def create_app(*args: Any, **kwargs: Any) -> Any:
    app = _create_app(*args, **kwargs)
    app.add_api_route("/api/test-bug", boom, methods=["GET", "POST"])
    return app


web_app.create_app = create_app

if __name__ == "__main__":
    main(["serve", "--port", sys.argv[1]])
