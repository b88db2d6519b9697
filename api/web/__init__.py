"""The web page for asking questions in a browser: server-rendered HTML (Jinja2, autoescaped),
a little JavaScript that streams the answer from `POST /ask/stream`, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the page's routes (`/`, `/read/{id}`) and its static files (`/static`) to `app`."""
    from newsdesk.api.web.routes import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
