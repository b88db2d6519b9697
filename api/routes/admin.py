"""Admin routes: background reindex of the article folders and feeds, and the feedback to
review."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from newsdesk.api.deps import Admin, EngineDep, RuntimeDep
from newsdesk.api.errors import ApiError
from newsdesk.api.feeds import feed_urls
from newsdesk.api.jobs import SyncBusy
from newsdesk.api.routes.articles import ADMIN
from newsdesk.api.schemas import ErrorBody, FeedbackPage, ReindexJob

router = APIRouter(tags=["admin"], dependencies=[Admin], responses=ADMIN)


@router.post(
    "/reindex",
    response_model=ReindexJob,
    status_code=202,
    responses={409: {"model": ErrorBody, "description": "A sync is running, or no folders."}},
)
def reindex(engine: EngineDep, runtime: RuntimeDep) -> ReindexJob:
    """Sync the configured article folders (NEWSDESK_ARTICLES_DIRS) and poll the feeds
    (NEWSDESK_FEEDS and those added with POST /feeds) in the background.

    Answers at once with the job; follow it with GET /reindex/{job_id}. Questions keep being
    answered while it runs. A second reindex while one runs is refused (409), not queued.
    """
    dirs = runtime.settings.articles_dirs
    urls = feed_urls(runtime)
    if not dirs and not urls:
        raise ApiError(
            409,
            "no article folders or feeds are configured: set NEWSDESK_ARTICLES_DIRS or "
            "NEWSDESK_FEEDS on the server, or add a feed with POST /feeds",
        )
    if missing := [str(d) for d in dirs if not d.is_dir()]:
        raise ApiError(409, f"article folder(s) not found on the server: {', '.join(missing)}")
    try:
        return runtime.jobs.start(engine, dirs, "admin", urls)
    except SyncBusy as busy:
        raise ApiError(409, f"{busy}; follow it at /reindex/{busy.job.id}") from None


@router.get(
    "/reindex/{job_id}",
    response_model=ReindexJob,
    responses={404: {"model": ErrorBody, "description": "No such job."}},
)
def reindex_status(
    job_id: Annotated[str, Path(min_length=1, max_length=64)], runtime: RuntimeDep
) -> ReindexJob:
    """A reindex job's progress, and its sync report once finished."""
    job = runtime.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no reindex job {job_id!r} (the server keeps the last 50)")
    return job


@router.get("/feedback", response_model=FeedbackPage)
def list_feedback(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    rating: Literal["up", "down"] | None = None,
) -> FeedbackPage:
    """Ratings of answers, newest first, to review bad answers and turn them into eval questions."""
    rows = runtime.feedback.recent(limit + 1, offset, rating)
    more = len(rows) > limit
    return FeedbackPage(
        items=rows[:limit], limit=limit, offset=offset, next_offset=offset + limit if more else None
    )
