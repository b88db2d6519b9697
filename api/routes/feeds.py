"""Admin routes for the polled feeds: list them with how their polls went, add, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from newsdesk.api.deps import Admin, EngineDep, RuntimeDep
from newsdesk.api.errors import ApiError
from newsdesk.api.routes.articles import ADMIN
from newsdesk.api.schemas import ErrorBody, Feed, FeedIn
from newsdesk.index import FeedState
from newsdesk.index import feed_id as id_of

router = APIRouter(tags=["admin"], dependencies=[Admin], responses=ADMIN)
FeedId = Annotated[str, Path(min_length=16, max_length=16, pattern="^[0-9a-f]+$")]


def shown(state: FeedState, configured: list[str]) -> Feed:
    return Feed(
        id=id_of(state.url),
        url=state.url,
        title=state.title,
        configured=state.url in configured,
        last_success=state.last_success,
        last_error=state.last_error,
        articles=state.articles,
        polls=state.polls,
        failures=state.failures,
        last_report=state.last_report,
    )


@router.get("/feeds", response_model=list[Feed])
def list_feeds(engine: EngineDep, runtime: RuntimeDep) -> list[Feed]:
    """The polled feeds and pages, with their last success, last error and counts."""
    book = engine.feed_book()
    configured = runtime.settings.feeds
    states = book.load()
    urls = list(dict.fromkeys([*configured, *states]))
    return [shown(states.get(url) or FeedState(url), configured) for url in urls]


@router.post("/feeds", response_model=Feed, status_code=201)
def add_feed(body: FeedIn, engine: EngineDep, runtime: RuntimeDep) -> Feed:
    """Poll a feed (RSS 2.0 / Atom 1.0) or an article page from now on; its first poll starts
    at once, or as soon as a sync that is running ends."""
    state = engine.feed_book().add(body.url)
    runtime.jobs.start_soon(engine, "feeds", [body.url])
    return shown(state, runtime.settings.feeds)


@router.delete(
    "/feeds/{feed_id}",
    status_code=204,
    responses={
        404: {"model": ErrorBody, "description": "No such feed."},
        409: {"model": ErrorBody, "description": "The feed is set in NEWSDESK_FEEDS."},
    },
)
def remove_feed(feed_id: FeedId, engine: EngineDep, runtime: RuntimeDep) -> Response:
    """Stop polling a feed added with POST /feeds; its articles stay indexed."""
    if any(id_of(url) == feed_id for url in runtime.settings.feeds):
        raise ApiError(409, "this feed is set in NEWSDESK_FEEDS on the server; remove it there")
    book = engine.feed_book()
    url = next((u for u in book.urls() if id_of(u) == feed_id), None)
    if url is None or not book.remove(url):
        raise ApiError(404, f"no feed with id {feed_id!r}; GET /feeds lists them")
    return Response(status_code=204)
