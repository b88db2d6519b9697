"""Liveness, readiness, what is indexed (/stats) and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from newsdesk.api.deps import EngineDep, RuntimeDep, bearer, require_admin
from newsdesk.api.errors import RETRY_AFTER_SECONDS
from newsdesk.api.schemas import ErrorBody
from newsdesk.index import NewsdeskError

log = logging.getLogger("newsdesk.api")
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    detail: str | None = None
    articles: int | None = None
    chunks: int | None = None
    watcher: Literal["off", "starting", "ok", "degraded"] = Field(
        "off",
        description="`serve --watch`: `ok` while watching the article folders, `degraded` "
        "while watching is down and restarting (`detail` says why; answers still work), "
        "`off` without --watch.",
    )


class IndexStats(BaseModel):
    articles: int
    chunks: int
    model: str = Field(description="The embedding model the index was built with.")
    last_sync: str | None = Field(None, description="When an article was last indexed (UTC).")


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is up (it may still be loading the index: see /ready)."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Loading, or the store is unreachable."}},
)
def ready(runtime: RuntimeDep) -> Readiness | JSONResponse:
    """Ready to answer: model loaded and index open and reachable; 503 + Retry-After otherwise.

    A degraded folder watcher is reported (`watcher`, `detail`) but keeps the 200: questions are
    still answered, only new files wait for the watcher's restart.
    """
    engine = runtime.engine
    try:
        if engine is None:
            raise NewsdeskError(runtime.load_error or "the index is still loading")
        counts = engine.counts()
    except Exception as exc:  # any failure to reach the store means "not ready"
        if not isinstance(exc, NewsdeskError):
            log.warning("readiness: the store is unreachable: %s", exc)
        detail = (
            exc.for_clients() if isinstance(exc, NewsdeskError) else "the store cannot be reached"
        )
        body = Readiness(status="unavailable", detail=detail, watcher=runtime.watcher.state)
        return JSONResponse(
            body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    watcher = runtime.watcher
    return Readiness(status="ready", watcher=watcher.state, detail=watcher.detail, **counts)


@router.get(
    "/stats",
    response_model=IndexStats,
    responses={503: {"model": ErrorBody, "description": "Index loading or store unreachable."}},
)
def stats(engine: EngineDep) -> IndexStats:
    """What is indexed: articles, chunks, the embedding model and the last sync."""
    info = engine.stats()
    return IndexStats(**{key: info[key] for key in ("articles", "chunks", "model", "last_sync")})


async def metrics_access(request: Request, runtime: RuntimeDep) -> None:
    """The admin token, when NEWSDESK_METRICS_AUTH is on (read here, not declared as the
    route's security: the route is public by default)."""
    if runtime.settings.metrics_auth:
        await require_admin(runtime, await bearer(request))


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format: requests, latency, answered/refused, reindex jobs, index size.
    Needs the admin token when NEWSDESK_METRICS_AUTH is on."""
    return Response(runtime.metrics.render(), media_type=runtime.metrics.content_type)
