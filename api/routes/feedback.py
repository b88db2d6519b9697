"""POST /feedback: rate an answer (kept in SQLite in the data dir)."""

from __future__ import annotations

from fastapi import APIRouter

from newsdesk.api.deps import FeedbackLimited, RuntimeDep
from newsdesk.api.schemas import ErrorBody, FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=201,
    dependencies=[FeedbackLimited],
    responses={
        422: {"model": ErrorBody, "description": "Invalid rating."},
        429: {"model": ErrorBody, "description": "Too many ratings from this client."},
    },
)
def add_feedback(body: FeedbackIn, runtime: RuntimeDep) -> FeedbackOut:
    """Record a thumbs up or down for an answer, with its question, answer and citations.

    Rate limited per client (NEWSDESK_FEEDBACK_RATE_LIMIT a minute); the store keeps at most
    NEWSDESK_FEEDBACK_MAX_BYTES of ratings, dropping the oldest to make room."""
    return runtime.feedback.add(body)
