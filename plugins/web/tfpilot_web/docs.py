"""``/docs``: Swagger UI (5.x, which reads OpenAPI 3.1) over ``/openapi.json``, its assets
served from the installed ``swagger-ui-py`` package (no CDN: it works offline, and the page
keeps the strict content security policy every page has, scripts from this origin only), with
the licence beside them; and ``/favicon.ico``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from tfpilot_web.app import PACKAGE

#: The files of Swagger UI the page loads (the rest of the package is not served).
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tfpilot API</title>
  <link rel="icon" href="/favicon.ico">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="stylesheet" href="/static/docs.css">
</head>
<body>
  <main>
    <div id="swagger-ui"></div>
  </main>
  <footer><p>Swagger UI, served from this server under its licence:
    <a href="/docs/LICENSE">Apache License 2.0</a>.</p></footer>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/static/docs-init.js"></script>
</body>
</html>
"""


class _Assets(StaticFiles):
    """Only :data:`ASSETS` of the Swagger UI package (no source maps, no sample index.html)."""

    async def get_response(self, path: str, scope: Any) -> Response:
        if path not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return await super().get_response(path, scope)


def assets_dir() -> Path:
    """Swagger UI's files in the ``swagger-ui-py`` package (found without importing it: its
    ``__init__`` loads its framework handlers, which this server does not use)."""
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (a dependency of tfpilot-web)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_docs(app: Any) -> None:
    """Add ``/docs``, ``/docs/assets/*``, ``/docs/LICENSE`` and ``/favicon.ico`` to ``app``."""
    directory = assets_dir()
    app.mount("/docs/assets", _Assets(directory=directory), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/docs/LICENSE", include_in_schema=False)
    def docs_licence() -> PlainTextResponse:
        text = (directory / "LICENSE").read_text()
        return PlainTextResponse(
            "Swagger UI (swagger-api/swagger-ui), packaged by swagger-ui-py.\n\n" + text
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        data = (PACKAGE / "static" / "favicon.ico").read_bytes()
        return Response(
            data, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
        )
