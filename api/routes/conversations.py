"""GET and DELETE /conversations/{id}: a conversation's turns, or forgetting it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from newsdesk.api.deps import RuntimeDep
from newsdesk.api.schemas import ConversationOut, ErrorBody, TurnOut
from newsdesk.api.services.ask import conversations

router = APIRouter(tags=["conversations"])

ConversationId = Annotated[
    str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["kP3x9vQm2TQe1rWq0aZ8Yw"])
]
"""An id as `POST /ask` gives them (any other is 422: no conversation could have it)."""
ERRORS = {
    404: {"model": ErrorBody, "description": "Unknown or expired conversation."},
    503: {"model": ErrorBody, "description": "Index loading or store unreachable."},
}


@router.get("/conversations/{conversation_id}", responses=ERRORS)
def get_conversation(conversation_id: ConversationId, runtime: RuntimeDep) -> ConversationOut:
    """The conversation's turns, oldest first: each question, the standalone question it was
    searched as, and its answer with citations."""
    kept = conversations(runtime)
    turns = kept.turns(conversation_id)
    return ConversationOut(
        id=conversation_id,
        max_turns=kept.store.max_turns,
        turns=[
            TurnOut(
                question=t.question,
                searched=t.searched,
                answer=t.answer,
                answered=t.answered,
                citations=t.citations,
                time=datetime.fromtimestamp(t.time, UTC).isoformat(timespec="seconds"),
            )
            for t in turns
        ],
    )


@router.delete("/conversations/{conversation_id}", status_code=204, responses=ERRORS)
def delete_conversation(conversation_id: ConversationId, runtime: RuntimeDep) -> Response:
    """Forget the conversation and all its turns."""
    conversations(runtime).delete(conversation_id)
    return Response(status_code=204)
