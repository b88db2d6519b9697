"""Articles: list and open what was cited; add, replace and delete (admin)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from newsdesk.api.deps import Admin, EngineDep, RuntimeDep
from newsdesk.api.errors import RETRY_AFTER_SECONDS, ApiError
from newsdesk.api.runtime import Runtime
from newsdesk.api.schemas import (
    MAX_ID_CHARS,
    ArticleDetail,
    ArticleIn,
    ArticlePage,
    ArticleSummary,
    ArticleWritten,
    ErrorBody,
    Source,
)
from newsdesk.index import API_ORIGIN, from_record

router = APIRouter(tags=["articles"])

ArticleId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="The article id; may contain slashes, e.g. business/001.txt.",
    ),
]
WRITE_WAIT_SECONDS = 10.0
"""How long an article write waits for a running reindex before answering 409."""
NOT_FOUND = {404: {"model": ErrorBody, "description": "No article with this id."}}
ADMIN = {
    401: {"model": ErrorBody, "description": "Missing or wrong admin token."},
    403: {"model": ErrorBody, "description": "Admin routes are disabled (no token configured)."},
}


@router.get("/articles", response_model=ArticlePage)
def list_articles(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    source: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> ArticlePage:
    """A page of indexed articles, optionally of one `source` (as given in article metadata)."""
    rows = engine.list_articles(limit + 1, offset, source)
    items = [ArticleSummary.from_record(i, meta) for i, meta in rows[:limit]]
    more = len(rows) > limit
    return ArticlePage(
        items=items, limit=limit, offset=offset, next_offset=offset + limit if more else None
    )


@router.get("/sources", response_model=list[Source])
def list_sources(
    engine: EngineDep, prefix: Annotated[str, Query(max_length=200)] = ""
) -> list[Source]:
    """The sources articles come from (their `source` field), most articles first; `prefix`
    keeps those whose name starts with it (case-insensitive), for autocompletion."""
    wanted = prefix.casefold()
    found = [(n, c) for n, c in engine.publishers().items() if n.casefold().startswith(wanted)]
    return [Source(name=n, articles=c) for n, c in sorted(found, key=lambda nc: (-nc[1], nc[0]))]


@router.get("/articles/{article_id:path}", response_model=ArticleDetail, responses=NOT_FOUND)
def get_article(article_id: ArticleId, engine: EngineDep) -> ArticleDetail:
    """One article's metadata and full text (citations' quotes occur in it verbatim)."""
    text, meta = engine.article(article_id)
    return ArticleDetail.from_stored(article_id, text, meta)


def wait_for_reindex(runtime: Runtime) -> None:
    """Writes wait for a running reindex a little, then are refused rather than left hanging."""
    if not runtime.jobs.wait(WRITE_WAIT_SECONDS):
        raise ApiError(
            409,
            "a reindex is running; retry when it has finished",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def default_id(body: ArticleIn) -> str:
    """A stable id for an article sent without one: from its url, else its title and text."""
    key = body.url or f"{body.title}\n{body.text}"
    return "api/" + hashlib.sha256(key.encode()).hexdigest()[:16]


@router.post(
    "/articles",
    response_model=ArticleWritten,
    status_code=201,
    dependencies=[Admin],
    responses={
        200: {"model": ArticleWritten, "description": "Replaced, or unchanged."},
        409: {"model": ErrorBody, "description": "A folder's article id, or a reindex runs."},
        422: {"model": ErrorBody, "description": "Invalid article."},
        **ADMIN,
    },
)
def put_article(
    body: ArticleIn, engine: EngineDep, runtime: RuntimeDep, response: Response
) -> ArticleWritten:
    """Add an article (201), or replace the one with the same id (200); answerable on return.

    Articles synced from a folder are changed in their folder, not here.
    """
    article_id = body.id or default_id(body)
    article = from_record(body.record(), article_id, "article")
    previous = engine.record(article.id)
    if previous and previous.get("origin") != API_ORIGIN:
        raise ApiError(
            409,
            f"article {article.id!r} comes from an article folder: change it there and reindex",
        )
    wait_for_reindex(runtime)
    report = engine.upsert(article)
    status = "added" if report.added else "updated" if report.updated else "unchanged"
    if status != "added":
        response.status_code = 200
    if status == "unchanged":
        chunks = int((previous or {}).get("n_chunks", 0))
    else:
        chunks = report.chunks_added
    return ArticleWritten(id=article.id, status=status, chunks=chunks, seconds=report.seconds)


@router.delete(
    "/articles/{article_id:path}",
    status_code=204,
    dependencies=[Admin],
    responses={
        **NOT_FOUND,
        **ADMIN,
        409: {"model": ErrorBody, "description": "A reindex is running."},
    },
)
def delete_article(article_id: ArticleId, engine: EngineDep, runtime: RuntimeDep) -> None:
    """Remove an article and its chunks.

    An article from a folder comes back at that folder's next sync unless its file is gone.
    """
    wait_for_reindex(runtime)
    engine.delete(article_id)
