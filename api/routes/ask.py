"""POST /ask and POST /ask/stream: the engine's answer, whole or as Server-Sent Events."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from functools import partial

import anyio
import httpx
from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import EngineDep, RateLimited, RuntimeDep
from api.errors import error_body, request_id, status_of
from api.schemas import AskRequest, ErrorBody
from index.answer.models import Answer
from index.errors import NewsdeskError

log = logging.getLogger("newsdesk.api")
router = APIRouter(tags=["ask"])

ERRORS = {
    422: {"model": ErrorBody, "description": "Empty or oversized question, bad filters."},
    429: {"model": ErrorBody, "description": "Rate limited; see Retry-After."},
    503: {"model": ErrorBody, "description": "Index loading or store unreachable."},
}
ERROR_SCHEMA = "#/components/schemas/ErrorBody"
PIECE = re.compile(r".+?(?:(?<=[.!?])\s+|$)", re.DOTALL)
"""A sentence-sized piece of answer text, with its trailing whitespace."""


def answer_pieces(text: str) -> list[str]:
    """Split an answer into pieces that join back into exactly the same text."""
    return PIECE.findall(text)


@router.post("/ask", response_model=Answer, dependencies=[RateLimited], responses=ERRORS)
def ask(body: AskRequest, engine: EngineDep, runtime: RuntimeDep) -> Answer:
    """Answer a question from the indexed articles, with numbered verbatim citations.

    The body of the answer is exactly what `newsdesk ask --json` prints.
    """
    filters = body.filters.to_engine() if body.filters else None
    answer = engine.ask(body.question, top_k=body.top_k, filters=filters)
    runtime.metrics.answer(answer.answered)
    return answer


@router.post(
    "/ask/stream",
    response_class=EventSourceResponse,
    dependencies=[RateLimited],
    responses={
        status: {
            "description": about["description"],
            "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}},
        }
        for status, about in ERRORS.items()
    },
)
async def ask_stream(
    body: AskRequest, engine: EngineDep, runtime: RuntimeDep, request: Request
) -> AsyncIterator[ServerSentEvent]:
    """The same answer as Server-Sent Events.

    Events: one `citation` per cited article (a Citation object), then `answer` events whose
    `text` pieces join into the answer, then `done` (`{"answered": bool}`). A failure after the
    stream has started is an `error` event (an ErrorBody). A client that disconnects stops the
    stream: nothing more is sent or computed (an answer already under way in its worker thread
    runs to its end and is dropped).
    """
    filters = body.filters.to_engine() if body.filters else None
    ask = partial(engine.ask, body.question, top_k=body.top_k, filters=filters)
    try:
        answer = await anyio.to_thread.run_sync(ask, abandon_on_cancel=True)
    except NewsdeskError as exc:
        yield ServerSentEvent(
            event="error", data=error_body(status_of(exc), exc.for_clients(), request_id(request))
        )
        return
    except httpx.TransportError:  # a Chroma server that went away, as in api.errors
        detail = "the vector store cannot be reached; try again shortly"
        yield ServerSentEvent(event="error", data=error_body(503, detail, request_id(request)))
        return
    except Exception:
        log.exception("request %s: unexpected error while streaming", request_id(request))
        detail = "an unexpected error occurred; quote the request id to report it"
        yield ServerSentEvent(event="error", data=error_body(500, detail, request_id(request)))
        return
    runtime.metrics.answer(answer.answered)
    for citation in answer.citations:
        yield ServerSentEvent(event="citation", data=citation)
    for piece in answer_pieces(answer.answer):
        yield ServerSentEvent(event="answer", data={"text": piece})
    yield ServerSentEvent(event="done", data={"answered": answer.answered})
