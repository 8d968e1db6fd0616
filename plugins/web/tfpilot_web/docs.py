"""``/docs``: Swagger UI over ``/openapi.json``, its assets served from the installed
``swagger-ui-bundle`` package (no CDN: it works offline, and the page keeps the strict content
security policy every page has, scripts from this origin only), with the licence beside them;
and ``/favicon.ico``.
"""

from __future__ import annotations

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


def install_docs(app: Any) -> None:
    """Add ``/docs``, ``/docs/assets/*``, ``/docs/LICENSE`` and ``/favicon.ico`` to ``app``."""
    import swagger_ui_bundle

    app.mount(
        "/docs/assets", _Assets(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/docs/LICENSE", include_in_schema=False)
    def docs_licence() -> PlainTextResponse:
        from importlib.metadata import distribution

        text = distribution("swagger-ui-bundle").read_text("LICENSE") or ""
        return PlainTextResponse(
            "Swagger UI (swagger-api/swagger-ui), packaged by swagger-ui-bundle.\n\n" + text
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        data = (PACKAGE / "static" / "favicon.ico").read_bytes()
        return Response(
            data, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
        )
