"""The web page: `GET /` (ask), `POST /` (the same without JavaScript), `GET /read/{id}`.

With JavaScript the page asks `POST /ask/stream` itself (static/newsdesk.js); these routes
render everything server-side so that a browser without it gets the same answer.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from newsdesk.api.deps import RuntimeDep
from newsdesk.api.errors import RETRY_AFTER_SECONDS, request_id, status_of
from newsdesk.api.runtime import Runtime
from newsdesk.api.schemas import MAX_ID_CHARS, AskRequest, FiltersIn
from newsdesk.api.services import ask as service
from newsdesk.api.services.ask import Failure
from newsdesk.api.web.render import (
    answer_view,
    format_date,
    iso_day,
    paragraphs,
    safe_url,
    turn_views,
)
from newsdesk.index import MAX_QUESTION_CHARS, NewsdeskError, Turn

log = logging.getLogger("newsdesk.api")
router = APIRouter(include_in_schema=False)

HERE = Path(__file__).parent
templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name: article text is never markup
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["nice_date"] = format_date
templates.filters["iso_day"] = iso_day

SECURITY_HEADERS = {
    # Defence in depth behind escaping: no inline script or handler may run on these pages.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MAX_SOURCES_LISTED = 200
"""Sources offered as suggestions in the filter box, at most."""
FIELD_LABELS = {"question": "Question", "source": "Source", "since": "From", "until": "To"}


def base_path(request: Request) -> str:
    """The app's root path (behind a proxy that mounts it under a prefix), for links."""
    return str(request.scope.get("root_path") or "").rstrip("/")


def page(
    request: Request,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a template as an HTML response with the page's security headers."""
    html = templates.get_template(name).render(
        base=base_path(request), max_question=MAX_QUESTION_CHARS, **context
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def known_sources(request: Request, runtime: Runtime) -> list[str]:
    """The sources named by indexed articles (for the filter's suggestions), cached until the
    index changes; empty while the index loads or cannot be read."""
    engine = runtime.engine
    if engine is None:
        return []
    try:
        generation = engine.generation
        cached = getattr(request.app.state, "web_sources", None)
        if cached and cached[0] == (id(engine), generation):
            return list(cached[1])
        found = engine.source_names()[:MAX_SOURCES_LISTED]
        request.app.state.web_sources = ((id(engine), generation), found)
        return found
    except Exception:  # suggestions are a convenience: the page works without them
        log.warning("cannot list the sources for the web page", exc_info=True)
        return []


def ask_page(
    request: Request,
    runtime: Runtime,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    question: str = "",
    filters: dict[str, str] | None = None,
    turns: list[Turn] | None = None,
    conversation_id: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """The ask page: empty, or a conversation (earlier turns above its latest answer), with
    an error when the last question failed (the no-JavaScript result)."""
    turns = turns or []
    latest = turns[-1] if turns and not error else None
    earlier = turns[:-1] if latest else turns
    base = base_path(request)
    return page(
        request,
        "index.html",
        status,
        headers,
        question=question,
        filters=filters or {},
        earlier=turn_views(earlier, base),
        asked=latest.question if latest else None,
        searched=latest.searched if latest and latest.searched != latest.question else None,
        answer=answer_view(latest.as_answer(), base) if latest else None,
        conversation_id=conversation_id,
        error=error,
        sources=known_sources(request, runtime),
        loading=runtime.engine is None,
    )


def sentence(text: str) -> str:
    """`the question is empty` as `The question is empty.`"""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def validation_message(exc: ValidationError) -> str:
    """One sentence for the first invalid form field."""
    first = exc.errors()[0]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    label = FIELD_LABELS.get(str(first["loc"][-1])) if first.get("loc") else None
    return sentence(f"{label}: {message}" if label else message)


def failure_message(request: Request, runtime: Runtime, failed: Failure) -> str:
    """One sentence for the page about a failed ask."""
    wait = failed.headers.get("Retry-After", str(RETRY_AFTER_SECONDS))
    if failed.status == 429:
        return f"Too many questions: try again in {wait} seconds."
    if failed.status == 503 and runtime.engine is None:
        return f"The index is still loading: try again in {wait} seconds."
    if failed.status == 503:
        return "The article store cannot be reached: try again shortly."
    if failed.status >= 500:
        return f"Something went wrong (request id {request_id(request)}): try again later."
    if failed.status == 404:
        return "This conversation expired or was deleted: ask again to start a new one."
    return sentence(failed.detail)


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    runtime: RuntimeDep,
    conversation: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """The page to ask questions on; `?conversation=<id>` shows that conversation."""
    filters = {"source": source, "since": since, "until": until}
    if not conversation:
        return ask_page(request, runtime, filters=filters)
    try:
        turns = service.conversations(runtime).turns(conversation)
    except Exception as exc:
        failed = service.failure(exc, request_id(request))
        message = failure_message(request, runtime, failed)
        return ask_page(request, runtime, failed.status, failed.headers, error=message)
    return ask_page(request, runtime, filters=filters, turns=turns, conversation_id=conversation)


@router.post("/", response_class=HTMLResponse)
def ask_form(
    request: Request,
    runtime: RuntimeDep,
    question: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    conversation_id: Annotated[str, Form()] = "",
) -> Response:
    """The form's question asked in its conversation (the page without JavaScript); then
    the conversation's page (303), whose URL names it. A failure is shown at once."""
    filters = {"source": source.strip(), "since": since.strip(), "until": until.strip()}
    cid = conversation_id.strip() or None
    shown: dict[str, Any] = {"question": question, "filters": filters, "conversation_id": cid}
    try:
        service.admit(runtime, f"ip:{request.client.host if request.client else 'unknown'}")
        try:
            given = {k: v for k, v in filters.items() if v}
            body = AskRequest(
                question=question,
                filters=FiltersIn(**given) if given else None,
                conversation_id=cid,
            )
        except ValidationError as exc:
            shown["turns"] = earlier_turns(runtime, cid)
            return ask_page(request, runtime, 422, error=validation_message(exc), **shown)
        answer = service.delivered(runtime, service.ask(runtime, body))
    except Exception as exc:
        failed = service.failure(exc, request_id(request))
        message = failure_message(request, runtime, failed)
        if failed.status == 404:  # the conversation is gone: the form starts a new one
            shown["conversation_id"] = None
        else:
            shown["turns"] = earlier_turns(runtime, cid)
        return ask_page(request, runtime, failed.status, failed.headers, error=message, **shown)
    query = urlencode(
        {"conversation": answer.conversation_id, **{k: v for k, v in filters.items() if v}}
    )
    return RedirectResponse(
        f"{base_path(request)}/?{query}", status_code=303, headers=SECURITY_HEADERS
    )


def earlier_turns(runtime: Runtime, conversation_id: str | None) -> list[Turn]:
    """The conversation's turns to show above an error, if they can be read."""
    if not conversation_id or runtime.conversations is None:
        return []
    try:
        return runtime.conversations.turns(conversation_id)
    except Exception:  # the error shown is the question's; the turns are a courtesy
        return []


@router.get("/read/{article_id:path}", response_class=HTMLResponse)
def read_article(
    request: Request,
    runtime: RuntimeDep,
    article_id: Annotated[str, PathParam(max_length=MAX_ID_CHARS)],
    quote: str | None = None,
) -> HTMLResponse:
    """One article as a readable page, the cited `quote` marked."""
    engine = runtime.engine
    if engine is None:
        message = f"The index is still loading: try again in {RETRY_AFTER_SECONDS} seconds."
        return problem(request, 503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    try:
        text, meta = engine.article(article_id)
    except NewsdeskError as exc:
        status = status_of(exc)
        message = "No article with this id is indexed." if status == 404 else exc.for_clients()
        return problem(request, status, message)
    authors = [a for a in (meta.get("authors") or "").split(", ") if a]
    return page(
        request,
        "article.html",
        article_id=article_id,
        title=meta.get("title") or article_id,
        published_at=meta.get("published_at") or None,
        source=meta.get("source") or None,
        authors=authors,
        url=safe_url(meta.get("url")),
        paragraphs=paragraphs(text, quote),
    )


def problem(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A short HTML error page (the JSON API keeps its own JSON errors)."""
    title = HTTPStatus(status).phrase
    return page(request, "problem.html", status, headers, title=title, message=message)
