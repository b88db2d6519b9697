"""The web page: `GET /` (ask), `POST /` (the same without JavaScript), `GET /read/{id}`.

With JavaScript the page asks `POST /ask/stream` itself (static/newsdesk.js); these routes
render everything server-side so that a browser without it gets the same answer.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

import httpx
import jinja2
from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.deps import RuntimeDep
from api.errors import RETRY_AFTER_SECONDS, request_id, status_of
from api.runtime import Runtime
from api.schemas import MAX_ID_CHARS, AskRequest, FiltersIn
from api.web.render import AnswerView, answer_view, format_date, iso_day, paragraphs, safe_url
from index.engine import MAX_QUESTION_CHARS
from index.errors import NewsdeskError

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
        generation = engine.store.generation
        cached = getattr(request.app.state, "web_sources", None)
        if cached and cached[0] == (id(engine), generation):
            return list(cached[1])
        names = {meta.get("source") for meta in engine.store.records().values()}
        found = sorted(n for n in names if isinstance(n, str) and n)[:MAX_SOURCES_LISTED]
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
    answer: AnswerView | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """The ask page, empty or with an answer or an error (the no-JavaScript result)."""
    return page(
        request,
        "index.html",
        status,
        headers,
        question=question,
        filters=filters or {},
        answer=answer,
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


@router.get("/", response_class=HTMLResponse)
def index(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The page to ask questions on."""
    return ask_page(request, runtime)


@router.post("/", response_class=HTMLResponse)
def ask_form(
    request: Request,
    runtime: RuntimeDep,
    question: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The form's answer rendered server-side (the page without JavaScript)."""
    filters = {"source": source.strip(), "since": since.strip(), "until": until.strip()}
    shown: dict[str, Any] = {"question": question, "filters": filters}
    wait = runtime.rate_limit.hit(f"ip:{request.client.host if request.client else 'unknown'}")
    if wait is not None:
        message = f"Too many questions: try again in {wait} seconds."
        return ask_page(request, runtime, 429, {"Retry-After": str(wait)}, error=message, **shown)
    try:
        given = {k: v for k, v in filters.items() if v}
        body = AskRequest(question=question, filters=FiltersIn(**given) if given else None)
    except ValidationError as exc:
        return ask_page(request, runtime, 422, error=validation_message(exc), **shown)
    engine = runtime.engine
    if engine is None:
        message = f"The index is still loading: try again in {RETRY_AFTER_SECONDS} seconds."
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return ask_page(request, runtime, 503, headers, error=message, **shown)
    try:
        answer = engine.ask(
            body.question, filters=body.filters.to_engine() if body.filters else None
        )
    except NewsdeskError as exc:
        status = status_of(exc)
        return ask_page(request, runtime, status, error=sentence(exc.for_clients()), **shown)
    except httpx.TransportError:
        log.error("request %s: the vector store is unreachable", request_id(request))
        message = "The article store cannot be reached: try again shortly."
        return ask_page(request, runtime, 503, error=message, **shown)
    except Exception:
        log.exception("request %s: unexpected error in the web form", request_id(request))
        message = f"Something went wrong (request id {request_id(request)}): try again later."
        return ask_page(request, runtime, 500, error=message, **shown)
    runtime.metrics.answer(answer.answered)
    view = answer_view(answer, base_path(request))
    return ask_page(request, runtime, answer=view, **shown)


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
        text, meta = engine.store.article(article_id)
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
