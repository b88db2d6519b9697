"""The app factory: routes over one engine, loaded once by the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from newsdesk.api.docs import install_docs
from newsdesk.api.errors import install_error_handlers
from newsdesk.api.feeds import poll_feeds
from newsdesk.api.middleware import RequestContextMiddleware
from newsdesk.api.routes import admin, articles, ask, conversations, feedback, feeds, guilds, health
from newsdesk.api.runtime import Runtime
from newsdesk.api.schemas import ErrorBody
from newsdesk.api.web import install_web
from newsdesk.index import Settings

if TYPE_CHECKING:
    from newsdesk.index import Engine

log = logging.getLogger("newsdesk.api")

DESCRIPTION = """
Ask questions about the indexed news articles and get short answers with numbered,
verbatim citations. Admin routes need `Authorization: Bearer <NEWSDESK_ADMIN_TOKEN>`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the engine in the background (/ready is 503 until then); then poll the feeds, and
    watch the folders if asked."""
    runtime: Runtime = app.state.runtime
    stop = anyio.Event()

    async def start() -> None:
        if runtime.engine is None:
            await runtime.load()
        if runtime.engine is None:
            return
        tasks.start_soon(poll_feeds, runtime, stop)
        if runtime.settings.watch:
            from newsdesk.api.watch import watch_articles

            try:
                await watch_articles(runtime, stop)
            except Exception:  # the API keeps serving; the log says why watching stopped
                log.exception("watching the article folders stopped")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(start)
        yield
        stop.set()
        tasks.cancel_scope.cancel()
    await anyio.to_thread.run_sync(runtime.close)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The Newsdesk API.

    Without `engine`, the lifespan loads one from `settings` (built from the environment when
    not given) and, with embedded Chroma, owns the data dir's writer lock until shutdown. A
    given engine stays the caller's: the app answers with it at once, even when served
    without a lifespan (e.g. through httpx's ASGI transport).
    """
    settings = settings or Settings()
    runtime = Runtime(settings, engine)
    app = FastAPI(
        title="Newsdesk",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs from shipped files; ReDoc would need a CDN
        redoc_url=None,
    )
    app.state.runtime = runtime
    # Inner first: bodies sent without Content-Length are counted as they arrive (413 raised
    # into the route); the outer middleware refuses a declared oversize body up front.
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware, metrics=runtime.metrics, max_body_bytes=settings.max_body_bytes
    )
    if settings.trusted_proxies:  # outermost: the client's address is settled first
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    install_error_handlers(app)
    invalid = {422: {"model": ErrorBody, "description": "Invalid request (see `errors`)."}}
    for module in (ask, conversations, articles, admin, feeds, feedback, guilds):
        app.include_router(module.router, responses=invalid)
    app.include_router(health.router)
    install_web(app)  # the page for browsers: GET /, POST / (no JavaScript), /read/{id}
    if settings.api_docs:
        install_docs(app)
    return app
