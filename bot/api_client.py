"""The bot's way to the Newsdesk HTTP API: over the network, or to the app in this process.

Every failure (HTTP error, timeout, unreachable API, malformed body) becomes a `BackendError`
whose message is a short sentence for Discord users.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError

from newsdesk.index import Answer, Citation, ConversationAnswer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from newsdesk.index import Engine, Settings

log = logging.getLogger("newsdesk.bot")

MAX_QUESTION_CHARS = 2000
"""The API's limit on a question (POST /ask answers 422 beyond it)."""
MAX_FEEDBACK_CITATIONS = 20
MAX_FEEDBACK_ANSWER_CHARS = 8000
MAX_QUOTE_CHARS = 5000
"""POST /feedback's limits (api.schemas), kept here: the bot may talk to a remote API."""
USER_HEADER = "X-Newsdesk-User"
RETRY_STATUSES = frozenset({502, 503, 504})
"""Statuses that mean "not processed, try again shortly" (like a refused connection)."""

TIMEOUT = "Sorry, Newsdesk took too long to answer. Please try again in a moment."
UNREACHABLE = "Sorry, I can't reach Newsdesk right now. Please try again in a little while."
NOT_READY = (
    "Sorry, Newsdesk can't answer right now (its index is loading or unavailable). "
    "Please try again shortly."
)
BROKEN = "Sorry, something went wrong on Newsdesk's side{rid}. Please try again later."
BUSY = "Newsdesk is answering a lot of questions right now. Please try again in {wait} s."
NOT_ADMIN = (
    "The bot may not use Newsdesk's admin routes: give it the API's admin token "
    "(NEWSDESK_ADMIN_TOKEN)."
)

EXPIRED = (
    "Newsdesk no longer has this conversation (conversations expire after a while): "
    "ask the question again."
)

Model = TypeVar("Model", bound=BaseModel)


class BackendError(Exception):
    """The API could not answer; `str(error)` is a short sentence to show users."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConversationTurn(BaseModel):
    """One turn of a conversation as GET /conversations/{id} reports it."""

    model_config = ConfigDict(extra="ignore")

    question: str
    searched: str
    answer: str
    answered: bool
    citations: list[Citation] = []
    time: str | None = None

    def as_answer(self) -> Answer:
        """The turn as the answer it was (for Sources and ratings)."""
        return Answer(
            question=self.question,
            answer=self.answer,
            answered=self.answered,
            citations=self.citations,
        )


class Conversation(BaseModel):
    """GET /conversations/{id}: the turns, oldest first."""

    model_config = ConfigDict(extra="ignore")

    id: str
    turns: list[ConversationTurn]
    max_turns: int | None = None
    """Turns the API keeps (None: an API that does not say)."""


class GuildSettings(BaseModel):
    """Where the bot answers in one Discord server (GET/PUT /discord/guilds/{id})."""

    model_config = ConfigDict(extra="ignore")

    channels: list[str] = []
    every: list[str] = []
    forum: str | None = None


class Job(BaseModel):
    """A reindex job as GET /reindex/{job_id} reports it (the fields the bot shows)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: Literal["running", "succeeded", "failed"]
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None


class Feed(BaseModel):
    """A polled feed as GET /feeds reports it (the fields the bot shows)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    url: str
    title: str | None = None
    configured: bool = False
    last_success: str | None = None
    last_error: str | None = None
    articles: int = 0


class Source(BaseModel):
    """A source of articles as GET /sources reports it."""

    model_config = ConfigDict(extra="ignore")

    name: str
    articles: int


class IndexStats(BaseModel):
    """What GET /stats reports."""

    model_config = ConfigDict(extra="ignore")

    articles: int
    chunks: int
    model: str | None = None
    last_sync: str | None = None


def open_engine(settings: Settings) -> Engine:
    """Load the engine as `newsdesk serve` does: own the embedded index (the one writer), index
    the seed articles into an empty one, and load the model and build the keyword index before
    the first question."""
    from newsdesk.index import Engine

    return Engine.open(settings, serving=True, seed=True)


class InProcessApp(httpx.AsyncBaseTransport):
    """The API app inside this process, through httpx's ASGI transport (which runs no lifespan,
    so `start()` loads the engine and hands it to the app)."""

    def __init__(self, settings: Settings) -> None:
        # Nobody else can reach this app: let the bot use the admin routes (it checks who may)
        # and vouch for its users with the service token.
        token = settings.admin_token or SecretStr(secrets.token_urlsafe(32))
        service = settings.service_token or SecretStr(secrets.token_urlsafe(32))
        self.settings = settings.model_copy(update={"admin_token": token, "service_token": service})
        self.admin_token = token.get_secret_value()
        self.service_token = service.get_secret_value()
        self._engine: Engine | None = None
        self._app: FastAPI | None = None

    async def start(self) -> None:
        """Load the model and open the index (in a thread: it takes a while)."""
        from newsdesk.api.app import create_app

        log.info("loading the embedding model and the index (in-process API)")
        self._engine = await asyncio.to_thread(open_engine, self.settings)
        self._app = create_app(self.settings, engine=self._engine)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._app is None:
            raise httpx.ConnectError("the in-process API has not started", request=request)
        return await httpx.ASGITransport(app=self._app).handle_async_request(request)

    async def aclose(self) -> None:
        """Let a running reindex finish briefly (as the app's lifespan would), then release
        the engine's writer lock."""
        if self._app is not None and self._engine is not None:
            app, engine, self._app, self._engine = self._app, self._engine, None, None
            await asyncio.to_thread(app.state.runtime.close)
            await asyncio.to_thread(engine.close)


class ApiClient:
    """Async calls to the Newsdesk API, with one deadline per call and retries for transient
    failures (refused connections, 502/503/504)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        admin_token: str | None = None,
        service_token: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        local: InProcessApp | None = None,
    ) -> None:
        self.http = http
        self.admin_token = admin_token
        self.service_token = service_token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.local = local

    @classmethod
    def remote(
        cls,
        url: str,
        *,
        timeout: float,
        admin_token: str | None,
        service_token: str | None = None,
    ) -> ApiClient:
        """A client of the API at `url`."""
        http = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(timeout, connect=10.0))
        return cls(http, admin_token=admin_token, service_token=service_token, timeout=timeout)

    @classmethod
    def in_process(cls, settings: Settings, *, timeout: float) -> ApiClient:
        """A client of the API app served in this process; `start()` loads its engine."""
        app = InProcessApp(settings)
        http = httpx.AsyncClient(base_url="http://newsdesk.in-process", transport=app)
        return cls(
            http,
            admin_token=app.admin_token,
            service_token=app.service_token,
            timeout=timeout,
            local=app,
        )

    async def start(self) -> None:
        """Get ready to answer (in-process: load the engine)."""
        if self.local is not None:
            await self.local.start()

    async def aclose(self) -> None:
        """Close connections (in-process: release the engine)."""
        await self.http.aclose()

    # ----------------------------------------------------------------- routes

    async def ask(
        self,
        question: str,
        user: int | None = None,
        filters: dict[str, str] | None = None,
        conversation_id: str | None = None,
    ) -> ConversationAnswer:
        """POST /ask (with `filters`: source, since, until), in conversation `conversation_id`
        (a new one when None), counted against Discord user `user`'s own rate limit when the
        bot has the service token (else the bot's address). An unknown or expired
        conversation is a BackendError with status 404."""
        body: dict[str, Any] = {"question": question}
        if filters:
            body["filters"] = filters
        if conversation_id:
            body["conversation_id"] = conversation_id
        try:
            return await self._call("POST", "/ask", ConversationAnswer, json=body, user=user)
        except BackendError as exc:
            raise expired(exc) if conversation_id else exc from None

    async def conversation(self, conversation_id: str) -> Conversation:
        """GET /conversations/{id}: its turns (BackendError 404 when unknown or expired)."""
        try:
            path = f"/conversations/{conversation_id}"
            return await self._call("GET", path, Conversation)
        except BackendError as exc:
            raise expired(exc) from None

    async def sources(self, prefix: str = "") -> list[Source]:
        """GET /sources: the sources articles come from, those starting with `prefix`."""
        response = await self._request("GET", "/sources?" + urlencode({"prefix": prefix}))
        return self._parse(response, list[Source])

    async def feeds(self) -> list[Feed]:
        """GET /feeds (admin): the polled feeds and how their polls went."""
        return self._parse(await self._request("GET", "/feeds", admin=True), list[Feed])

    async def add_feed(self, url: str) -> Feed:
        """POST /feeds (admin): poll a feed or page from now on."""
        return await self._call("POST", "/feeds", Feed, json={"url": url}, admin=True)

    async def feedback(
        self,
        rating: Literal["up", "down"],
        answer: Answer,
        user: int | None = None,
        turn: tuple[str, int] | None = None,
    ) -> None:
        """POST /feedback: a rating of `answer`, with what was asked and cited, by Discord user
        `user`; `turn` (conversation id, turn) names the answer, so that the API keeps one
        rating per user and answer (a second one: BackendError with status 409)."""
        body: dict[str, Any] = {
            "rating": rating,
            "question": answer.question[:MAX_QUESTION_CHARS],
            "answer": answer.answer[:MAX_FEEDBACK_ANSWER_CHARS],
            "citations": [
                {**c.model_dump(), "quote": c.quote[:MAX_QUOTE_CHARS]}
                for c in answer.citations[:MAX_FEEDBACK_CITATIONS]
            ],
        }
        if turn is not None:
            body["conversation_id"], body["turn"] = turn
        await self._request("POST", "/feedback", json=body, user=user)

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """GET /discord/guilds/{id} (admin): where the bot answers in that server."""
        return await self._call("GET", f"/discord/guilds/{guild_id}", GuildSettings, admin=True)

    async def put_guild_settings(self, guild_id: int, settings: GuildSettings) -> GuildSettings:
        """PUT /discord/guilds/{id} (admin): replace that server's settings."""
        path = f"/discord/guilds/{guild_id}"
        return await self._call("PUT", path, GuildSettings, json=settings.model_dump(), admin=True)

    async def reindex(self) -> Job:
        """POST /reindex (admin): start syncing the API's article folders."""
        return await self._call("POST", "/reindex", Job, admin=True)

    async def job(self, job_id: str) -> Job:
        """GET /reindex/{job_id} (admin)."""
        return await self._call("GET", f"/reindex/{job_id}", Job, admin=True)

    async def stats(self) -> IndexStats:
        """GET /stats."""
        return await self._call("GET", "/stats", IndexStats)

    # ----------------------------------------------------------------- plumbing

    async def _call(self, method: str, path: str, model: type[Model], **kwargs: Any) -> Model:
        return self._parse(await self._request(method, path, **kwargs), model)

    def _parse(self, response: httpx.Response, shape: Any) -> Any:
        """The response body as `shape` (a model, or a list of them)."""
        try:
            return TypeAdapter(shape).validate_python(response.json())
        except (ValueError, ValidationError) as exc:
            request = response.request
            log.error("%s %s: unexpected response body: %s", request.method, request.url, exc)
            raise BackendError(BROKEN.format(rid=""), response.status_code) from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        admin: bool = False,
        user: int | None = None,
    ) -> httpx.Response:
        """Send one request within the deadline, retrying transient failures."""
        headers = {}
        if admin and self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif user is not None and self.service_token:
            headers["Authorization"] = f"Bearer {self.service_token}"
            headers[USER_HEADER] = f"discord:{user}"
        try:
            async with asyncio.timeout(self.timeout):
                for attempt in range(self.retries + 1):
                    if attempt:
                        await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                    try:
                        response = await self.http.request(method, path, json=json, headers=headers)
                    except httpx.TimeoutException:
                        raise
                    except httpx.TransportError as exc:
                        log.warning("%s %s: cannot reach the API: %s", method, path, exc)
                        error = BackendError(UNREACHABLE)
                        continue
                    if response.status_code < 400:
                        return response
                    error = error_of(response)
                    if response.status_code not in RETRY_STATUSES:
                        break
                    log.warning("%s %s: the API answered %d", method, path, response.status_code)
        except (TimeoutError, httpx.TimeoutException):
            log.warning("%s %s: no answer within %gs", method, path, self.timeout)
            raise BackendError(TIMEOUT) from None
        raise error


def error_of(response: httpx.Response) -> BackendError:
    """The user-facing error for an API error response (JSON `ErrorBody` or anything else)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    if status == 429:
        wait = response.headers.get("Retry-After", "").strip()
        return BackendError(BUSY.format(wait=wait if wait.isdigit() else "a few"), status)
    if status == 503:
        return BackendError(NOT_READY, status)
    if status in (401, 403):
        log.error("the API refused the bot's admin token: %s", detail)
        return BackendError(NOT_ADMIN, status)
    if status < 500 and detail:
        return BackendError(f"Newsdesk couldn't do that: {detail}", status)
    rid = body.get("request_id") or response.headers.get("X-Request-ID")
    log.error("the API answered %d (request id %s): %s", status, rid, detail)
    return BackendError(BROKEN.format(rid=f" (request id {rid})" if rid else ""), status)


def expired(error: BackendError) -> BackendError:
    """A 404 about a conversation: it is unknown or expired, said so."""
    return BackendError(EXPIRED, 404) if error.status == 404 else error
