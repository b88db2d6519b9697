"""POST /feedback: rate an answer (kept in SQLite in the data dir)."""

from __future__ import annotations

from fastapi import APIRouter

from newsdesk.api.deps import ClientKey, FeedbackLimited, RuntimeDep
from newsdesk.api.errors import ApiError
from newsdesk.api.feedback import AlreadyRated
from newsdesk.api.schemas import ErrorBody, FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=201,
    dependencies=[FeedbackLimited],
    responses={
        409: {"model": ErrorBody, "description": "This user already rated this answer."},
        422: {"model": ErrorBody, "description": "Invalid rating."},
        429: {"model": ErrorBody, "description": "Too many ratings from this client."},
    },
)
def add_feedback(body: FeedbackIn, runtime: RuntimeDep, key: ClientKey) -> FeedbackOut:
    """Record a thumbs up or down for an answer, with its question, answer and citations.

    A front end that names its user (X-Newsdesk-User, with the service token) and the answer
    (`conversation_id` and `turn`) gets one rating per user and answer: a second one is 409.
    Rate limited per client (NEWSDESK_FEEDBACK_RATE_LIMIT a minute); the store keeps at most
    NEWSDESK_FEEDBACK_MAX_BYTES of ratings, dropping the oldest to make room."""
    rater = key if key.startswith("user:") else None
    try:
        return runtime.feedback.add(body, rater)
    except AlreadyRated:
        raise ApiError(409, "this user already rated this answer") from None
