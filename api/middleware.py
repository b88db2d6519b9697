"""Per-request context: an id, one structured log line, metrics, and a clean 500."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdesk.api.errors import error_body
from newsdesk.api.metrics import Metrics

access_log = logging.getLogger("newsdesk.access")
log = logging.getLogger("newsdesk.api")

REQUEST_ID_HEADER = "x-request-id"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""A client's own request id is kept when it looks like this; otherwise a new one is made."""


def route_of(scope: Scope) -> str:
    """The matched route's template (bounded label cardinality), or `<unmatched>`."""
    route = scope.get("route")
    return getattr(route, "path", None) or "<unmatched>"


class RequestContextMiddleware:
    """Pure ASGI middleware (streams pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self._declared_size(scope) > self.max_body_bytes:
                detail = f"the request body is over the {self.max_body_bytes:,}-byte limit"
                await self._send_error(413, detail, rid, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s: unexpected error", rid)
            if response_started:
                raise
            detail = "an unexpected error occurred; quote the request id to report it"
            await self._send_error(500, detail, rid, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.request(scope["method"], route, status, seconds)
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 2),
                    "request_id": rid,
                    "client": (scope.get("client") or ("?",))[0],
                },
            )

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == REQUEST_ID_HEADER.encode():
                candidate = value.decode("latin-1")
                if VALID_REQUEST_ID.fullmatch(candidate):
                    return candidate
        return uuid.uuid4().hex

    @staticmethod
    def _declared_size(scope: Scope) -> int:
        """The Content-Length the client declared (0 when absent or not a number)."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    @staticmethod
    async def _send_error(status: int, detail: str, rid: str, send: Send) -> None:
        body = json.dumps(error_body(status, detail, rid)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
