"""Every failure becomes one JSON `ErrorBody` with the right status; never a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from newsdesk.api.schemas import ErrorBody
from newsdesk.index import (
    ArticleNotFound,
    ConfigError,
    ConversationNotFound,
    IndexLocked,
    InvalidArticle,
    InvalidQuestion,
    LLMUnavailable,
    ModelMismatch,
    NewsdeskError,
    SourceNotFound,
    StoreUnavailable,
)

log = logging.getLogger("newsdesk.api")

RETRY_AFTER_SECONDS = 5
"""What a client is told to wait when the index is loading or the store is unreachable."""
STORE_DOWN = "the vector store cannot be reached; try again shortly"

STATUS_OF: dict[type[NewsdeskError], int] = {
    InvalidQuestion: 422,
    InvalidArticle: 422,
    ArticleNotFound: 404,
    ConversationNotFound: 404,
    IndexLocked: 409,
    SourceNotFound: 409,
    StoreUnavailable: 503,
    LLMUnavailable: 503,
    ConfigError: 500,
    ModelMismatch: 500,
}
"""HTTP status of each project error; any other NewsdeskError is the client's (400)."""


class ApiError(Exception):
    """An error the API answers itself (auth, rate limit, conflicts, loading)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def request_id(request: Request) -> str | None:
    """The id the request-context middleware gave this request."""
    return getattr(request.state, "request_id", None)


def error_code(status: int) -> str:
    """`not_found`, `content_too_large`, …: the status phrase as a code."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def error_body(
    status: int, detail: str, rid: str | None, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON of an ErrorBody."""
    body = ErrorBody(error=error_code(status), detail=detail, request_id=rid, errors=errors)
    return body.model_dump(exclude_none=True)


def error_response(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, detail, request_id(request), errors), status_code=status, headers=headers
    )


def status_of(exc: NewsdeskError) -> int:
    """The HTTP status a project error maps to."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


async def on_newsdesk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NewsdeskError)
    status = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    if status >= 500:
        log.error("request %s failed: %s", request_id(request), exc)
    elif exc.public:
        log.warning("request %s: %s", request_id(request), exc)
    return error_response(request, status, exc.for_clients(), headers)


async def on_store_transport_error(request: Request, exc: Exception) -> JSONResponse:
    """A Chroma server that went away mid-request (the API makes no other httpx calls)."""
    log.error("request %s: the vector store is unreachable: %s", request_id(request), exc)
    return error_response(request, 503, STORE_DOWN, {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.detail, exc.headers)


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 413:
        limit = request.app.state.runtime.settings.max_body_bytes
        detail = f"the request body is over the {limit:,}-byte limit"
    elif status == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        status, detail = 422, "the body is not valid JSON: it is not UTF-8 text"
    return error_response(request, status, detail, dict(exc.headers or {}))


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request", "type": ""}
    where = ".".join(str(part) for part in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    if first["loc"] == ["body"] and "json" not in request.headers.get("content-type", ""):
        detail = "the body must be JSON, sent with 'Content-Type: application/json'"
    return error_response(request, 422, detail, errors=jsonable_encoder(errors))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above (unexpected errors are the middleware's: 500 + request id)."""
    app.add_exception_handler(NewsdeskError, on_newsdesk_error)
    app.add_exception_handler(httpx.TransportError, on_store_transport_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
