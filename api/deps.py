"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import RETRY_AFTER_SECONDS, ApiError
from api.runtime import Runtime
from index.engine import Engine

bearer = HTTPBearer(auto_error=False, description="NEWSDESK_ADMIN_TOKEN")


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_engine(runtime: RuntimeDep) -> Engine:
    """The loaded engine, or 503 + Retry-After while it loads (or cannot)."""
    if runtime.engine is None:
        reason = runtime.load_error or "the index is still loading"
        raise ApiError(503, f"not ready: {reason}", {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return runtime.engine


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


async def rate_limited(request: Request, runtime: RuntimeDep) -> None:
    """429 + Retry-After when this client asked too often in the last minute (all ask routes)."""
    wait = runtime.rate_limit.hit(request.client.host if request.client else "unknown")
    if wait is not None:
        limit = runtime.settings.ask_rate_limit
        raise ApiError(
            429,
            f"too many requests: at most {limit} a minute; retry in {wait}s",
            {"Retry-After": str(wait)},
        )


RateLimited = Depends(rate_limited)
