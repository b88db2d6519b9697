"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import hmac
import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newsdesk.api.errors import ApiError
from newsdesk.api.ratelimit import RateLimit
from newsdesk.api.runtime import Runtime
from newsdesk.api.services.ask import admit, ready_engine
from newsdesk.index import Conversations, Engine

bearer = HTTPBearer(auto_error=False, description="NEWSDESK_ADMIN_TOKEN")


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_engine(runtime: RuntimeDep) -> Engine:
    """The loaded engine, or 503 + Retry-After while it loads (or cannot)."""
    return ready_engine(runtime)


EngineDep = Annotated[Engine, Depends(get_engine)]


async def require_admin(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """403 when no admin token is configured (secure by default); 401 unless it is sent."""
    token = runtime.settings.admin_token
    if token is None:
        raise ApiError(
            403,
            "admin routes are disabled: set NEWSDESK_ADMIN_TOKEN (16+ characters) on the server "
            "and send it as 'Authorization: Bearer <token>'",
        )
    sent = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(sent, token.get_secret_value().encode()):
        raise ApiError(
            401,
            "a valid admin token is required: send 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )


Admin = Depends(require_admin)


USER_HEADER = "X-Newsdesk-User"
VALID_USER = re.compile(r"[A-Za-z0-9:._@-]{1,128}")
"""What a front end may send as X-Newsdesk-User (e.g. `discord:80351110224678912`)."""


async def client_key(request: Request, runtime: RuntimeDep) -> str:
    """Whom the rate limits count: the user a front end names in X-Newsdesk-User, vouched for
    with the service token; else the client's address (X-Forwarded-For is believed only from
    NEWSDESK_TRUSTED_PROXIES). Without X-Newsdesk-User, an Authorization header is ignored."""
    user = request.headers.get(USER_HEADER)
    if user is None:
        return f"ip:{request.client.host if request.client else 'unknown'}"
    token = runtime.settings.service_token
    credentials = await bearer(request)
    sent = credentials.credentials.encode() if credentials else b""
    if token is None or not hmac.compare_digest(sent, token.get_secret_value().encode()):
        raise ApiError(
            401,
            f"{USER_HEADER} needs 'Authorization: Bearer <NEWSDESK_SERVICE_TOKEN>'; "
            "ask without the header otherwise",
            {"WWW-Authenticate": "Bearer"},
        )
    if not VALID_USER.fullmatch(user):
        raise ApiError(
            422, f"{USER_HEADER} must be 1-128 letters, digits or ':._@-' naming the user asking"
        )
    return f"user:{user}"


ClientKey = Annotated[str, Depends(client_key)]


def limited(limit: RateLimit, key: str) -> None:
    """429 + Retry-After when `key` used up `limit` in the last minute."""
    wait = limit.hit(key)
    if wait is not None:
        raise ApiError(
            429,
            f"too many requests: at most {limit.per_minute} a minute; retry in {wait}s",
            {"Retry-After": str(wait)},
        )


async def admitted(runtime: RuntimeDep, key: ClientKey) -> Conversations:
    """The answering routes' admission (POST /ask, /ask/stream): rate limit, then readiness."""
    return admit(runtime, key)


async def feedback_limited(runtime: RuntimeDep, key: ClientKey) -> None:
    """POST /feedback's own limit."""
    limited(runtime.feedback_limit, key)


AdmittedDep = Annotated[Conversations, Depends(admitted)]
FeedbackLimited = Depends(feedback_limited)
