"""POST /feedback: rate an answer (kept in SQLite in the data dir)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RuntimeDep
from api.schemas import ErrorBody, FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=201,
    responses={422: {"model": ErrorBody, "description": "Invalid rating."}},
)
def add_feedback(body: FeedbackIn, runtime: RuntimeDep) -> FeedbackOut:
    """Record a thumbs up or down for an answer, with its question, answer and citations."""
    return runtime.feedback.add(body)
