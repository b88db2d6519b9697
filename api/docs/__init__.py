"""Interactive API docs at /docs from the Swagger UI files the `swagger-ui-bundle-v2` package
ships: nothing is loaded from another site, and the page has its own Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

HERE = Path(__file__).parent
PAGE = (HERE / "docs.html").read_text(encoding="utf-8")
HEADERS = {
    # Swagger UI sets style attributes from its script and draws icons as data: URIs.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install_docs(app: FastAPI) -> None:
    """Serve /docs (the page), /docs/assets (Swagger UI) and /docs/init.js (its start-up)."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    app.mount("/docs/own", StaticFiles(directory=HERE / "static"), name="docs-own")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path") or "").rstrip("/")
        return HTMLResponse(PAGE.replace("{root}", root), headers=HEADERS)
