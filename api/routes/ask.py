"""POST /ask and POST /ask/stream: the engine's answer, whole or as Server-Sent Events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from newsdesk.api.deps import AdmittedDep, RuntimeDep
from newsdesk.api.errors import error_body, request_id
from newsdesk.api.schemas import AskRequest, ErrorBody
from newsdesk.api.services import ask as service
from newsdesk.index import ConversationAnswer, Conversations

router = APIRouter(tags=["ask"])

ERRORS = {
    404: {"model": ErrorBody, "description": "Unknown or expired conversation_id."},
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


@router.post("/ask", response_model=ConversationAnswer, responses=ERRORS)
def ask(body: AskRequest, _: AdmittedDep, runtime: RuntimeDep) -> ConversationAnswer:
    """Answer a question from the indexed articles, with numbered verbatim citations.

    The body is what `newsdesk ask --json` prints: the answer, the `conversation_id` to send
    with a follow-up, and `searched`, the standalone question a follow-up was understood as.
    """
    return service.delivered(runtime, service.ask(runtime, body))


async def continued(body: AskRequest, conversations: AdmittedDep) -> Conversations:
    """The admitted asker's conversations, once the conversation asked in is known to exist:
    a stream answers an unknown one with 404 before it starts, not with an `error` event."""
    if body.conversation_id:
        await anyio.to_thread.run_sync(conversations.turns, body.conversation_id)
    return conversations


ContinuedDep = Annotated[Conversations, Depends(continued)]


@router.post(
    "/ask/stream",
    response_class=EventSourceResponse,
    responses={
        status: {
            "description": about["description"],
            "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}},
        }
        for status, about in ERRORS.items()
    },
)
async def ask_stream(
    body: AskRequest, _: ContinuedDep, runtime: RuntimeDep, request: Request
) -> AsyncIterator[ServerSentEvent]:
    """The same answer as Server-Sent Events.

    Events: in LLM mode, `draft` events first, whose `text` pieces are the model's words as it
    writes them (unverified: show them as provisional; the extractive answerer, which copies
    whole sentences, sends none); then one `citation` per cited article (a Citation object),
    then `answer` events whose `text` pieces join into the verified answer, then `done`
    (`{"answered": bool, "conversation_id": str, "searched": str}`). An unknown conversation
    is a 404 before the stream starts; a failure after it has started is an `error` event (an
    ErrorBody). A client that disconnects stops the stream: nothing more is sent or counted
    (a piece already under way in its worker thread runs to its end).
    """
    pieces = service.ask_stream(runtime, body)
    answer: ConversationAnswer | None = None
    try:
        while answer is None:
            piece = await anyio.to_thread.run_sync(next, pieces, abandon_on_cancel=True)
            if isinstance(piece, str):
                yield ServerSentEvent(event="draft", data={"text": piece})
            else:
                answer = piece
    except Exception as exc:
        failed = service.failure(exc, request_id(request))
        yield ServerSentEvent(
            event="error", data=error_body(failed.status, failed.detail, request_id(request))
        )
        return
    service.delivered(runtime, answer)
    for citation in answer.citations:
        yield ServerSentEvent(event="citation", data=citation)
    for piece in answer_pieces(answer.answer):
        yield ServerSentEvent(event="answer", data={"text": piece})
    yield ServerSentEvent(
        event="done",
        data={
            "answered": answer.answered,
            "conversation_id": answer.conversation_id,
            "searched": answer.searched,
        },
    )
