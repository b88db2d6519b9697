"""The one ask path of `POST /ask`, `POST /ask/stream` and the web form: admission (rate
limit, readiness), the answer within a conversation, and the mapping of failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from newsdesk.api.errors import RETRY_AFTER_SECONDS, STORE_DOWN, ApiError, status_of
from newsdesk.api.runtime import Runtime
from newsdesk.api.schemas import AskRequest
from newsdesk.index import ConversationAnswer, Conversations, Engine, NewsdeskError

log = logging.getLogger("newsdesk.api")

UNEXPECTED = "an unexpected error occurred; quote the request id to report it"


@dataclass
class Failure:
    """How a failed ask is reported: HTTP status, one sentence, headers."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def admit(runtime: Runtime, client: str) -> Conversations:
    """The conversations to ask in, once `client` is within its rate limit and the index is
    loaded; ApiError 429 or 503 (with Retry-After) otherwise."""
    wait = runtime.rate_limit.hit(client)
    if wait is not None:
        raise ApiError(
            429,
            f"too many requests: at most {runtime.rate_limit.per_minute} a minute; "
            f"retry in {wait}s",
            {"Retry-After": str(wait)},
        )
    return conversations(runtime)


def ready_engine(runtime: Runtime) -> Engine:
    """The loaded engine, or ApiError 503 (with Retry-After) while it loads (or cannot)."""
    if runtime.engine is None:
        reason = runtime.load_error or "the index is still loading"
        raise ApiError(503, f"not ready: {reason}", {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return runtime.engine


def conversations(runtime: Runtime) -> Conversations:
    """The loaded engine's conversations, or ApiError 503 while the index loads."""
    engine = ready_engine(runtime)
    if runtime.conversations is None or runtime.conversations.engine is not engine:
        if runtime.conversations is not None:
            runtime.conversations.close()
        runtime.conversations = Conversations(engine, write_behind=True)
    return runtime.conversations


def ask(runtime: Runtime, body: AskRequest) -> ConversationAnswer:
    """Answer an admitted question within its conversation (a new one without an id); the
    caller counts it (`delivered`) once the answer is on its way to the client."""
    return conversations(runtime).ask(
        body.question,
        body.conversation_id,
        top_k=body.top_k,
        filters=body.filters.to_engine() if body.filters else None,
    )


def ask_stream(runtime: Runtime, body: AskRequest) -> Iterator[str | ConversationAnswer]:
    """`ask` as it happens: the model's draft text as it is written (LLM mode), then the
    answer (stored once the generator gets that far)."""
    return conversations(runtime).ask_stream(
        body.question,
        body.conversation_id,
        top_k=body.top_k,
        filters=body.filters.to_engine() if body.filters else None,
    )


def delivered(runtime: Runtime, answer: ConversationAnswer) -> ConversationAnswer:
    """Count an answer a client receives (an abandoned stream's is not counted)."""
    runtime.metrics.answer(answer.answered)
    return answer


def failure(exc: Exception, request_id: str | None) -> Failure:
    """What to tell the client about an ask that raised `exc` (logged as the API logs)."""
    if isinstance(exc, ApiError):
        return Failure(exc.status, exc.detail, exc.headers)
    if isinstance(exc, NewsdeskError):
        status = status_of(exc)
        if status >= 500:
            log.error("request %s failed: %s", request_id, exc)
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
        return Failure(status, exc.for_clients(), retry)
    if isinstance(exc, httpx.TransportError):  # a Chroma server that went away
        log.error("request %s: the vector store is unreachable: %s", request_id, exc)
        return Failure(503, STORE_DOWN, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("request %s: unexpected error while asking", request_id, exc_info=exc)
    return Failure(500, UNEXPECTED)
