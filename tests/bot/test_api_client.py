"""bot/api_client.py against the real API app (httpx's ASGI transport), and its error mapping:
every failure becomes a short apology for Discord users."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsdesk.api.app import create_app
from newsdesk.bot.api_client import (
    BROKEN,
    EXPIRED,
    NOT_ADMIN,
    NOT_READY,
    TIMEOUT,
    UNREACHABLE,
    ApiClient,
    BackendError,
    GuildSettings,
)
from newsdesk.bot.render import answer_embed
from newsdesk.index.answer.models import Answer
from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL
from newsdesk.index.engine import Engine
from newsdesk.index.store import writer_lock
from tests.bot.test_render import assert_within_limits
from tests.conftest import FIXTURES
from tests.support.api_support import TOKEN, api_settings
from tests.support.discord_support import RecordingTransport

pytestmark = pytest.mark.anyio

BRIDGE = "How much will the new harbour bridge cost?"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("bot-api")
    corpus = shutil.copytree(FIXTURES / "corpus", root / "corpus")
    engine = Engine(Settings(data_dir=root / "data", embed_model=TEST_MODEL, _env_file=None))
    engine.sync([corpus])
    yield engine
    engine.close()


def client_of(
    transport: httpx.AsyncBaseTransport, admin_token: str | None = TOKEN, **options: float
) -> ApiClient:
    http = httpx.AsyncClient(transport=transport, base_url="http://newsdesk")
    return ApiClient(http, admin_token=admin_token, backoff=0, **options)  # type: ignore[arg-type]


def app_client(
    engine: Engine | None, settings: Settings, bot_token: str | None = TOKEN, **changes: object
) -> tuple[ApiClient, RecordingTransport]:
    """A client of the real app (without an engine: one still loading), recording its calls;
    `changes` are the app's settings (admin token set, rate limit off unless changed)."""
    app = create_app(api_settings(settings, **changes), engine=engine)
    transport = RecordingTransport(httpx.ASGITransport(app=app), [])
    return client_of(transport, bot_token), transport


async def failure(call: object) -> BackendError:
    with pytest.raises(BackendError) as caught:
        await call  # type: ignore[misc]
    return caught.value


# ----------------------------------------------------------------- the real app


async def test_ask_returns_the_apps_answer(engine: Engine) -> None:
    api, _ = app_client(engine, engine.settings)
    async with api.http:
        answer = await api.ask(BRIDGE)
        follow_up = await api.ask("When will it open?", conversation_id=answer.conversation_id)
        conversation = await api.conversation(answer.conversation_id)
        missing = await failure(api.conversation("no-such-conversation"))
        expired = await failure(api.ask("Why?", conversation_id="no-such-conversation"))
    expected = engine.ask(BRIDGE)
    assert answer.model_dump(include=set(Answer.model_fields)) == expected.model_dump(
        include=set(Answer.model_fields)
    )
    assert answer.answered and "84 million pounds" in answer.answer
    assert follow_up.conversation_id == answer.conversation_id
    first, second = conversation.turns
    assert first.as_answer().answer == answer.answer and first.as_answer().citations
    assert (second.question, second.searched) == ("When will it open?", follow_up.searched)
    assert missing.status == expired.status == 404 and str(missing) == EXPIRED


async def test_guild_settings_are_kept_by_the_api_across_restarts(
    engine: Engine, tmp_path: Path
) -> None:
    settings = engine.settings.model_copy(update={"data_dir": tmp_path / "data"})
    api, _ = app_client(engine, settings)
    wanted = GuildSettings(channels=["123", "456"], forum="789")
    async with api.http:
        assert await api.guild_settings(42) == GuildSettings()  # never set: everywhere
        assert await api.put_guild_settings(42, wanted) == wanted
    restarted, _ = app_client(engine, settings)  # a new app over the same index
    async with restarted.http:
        assert await restarted.guild_settings(42) == wanted
        assert await restarted.guild_settings(43) == GuildSettings()
    nobody, _ = app_client(engine, settings, bot_token=None)
    async with nobody.http:
        refused = await failure(nobody.guild_settings(42))
    assert refused.status == 401


async def test_feedback_is_recorded_by_the_app(engine: Engine) -> None:
    api, transport = app_client(engine, engine.settings)
    answer = engine.ask(BRIDGE)
    many = answer.model_copy(update={"citations": answer.citations * 10})  # over the API's 20
    async with api.http:
        await api.feedback("down", many)
    (stored,) = transport.inner.app.state.runtime.feedback.recent(5, 0)  # type: ignore[attr-defined]
    assert (stored.rating, stored.question, stored.answer) == ("down", BRIDGE, answer.answer)
    assert len(stored.citations) == 20


async def test_each_discord_user_has_their_own_rate_limit(engine: Engine) -> None:
    service = "service-token-for-the-bot-tests"
    app = create_app(
        api_settings(engine.settings, ask_rate_limit=2, service_token=service), engine=engine
    )
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://newsdesk")
    api = ApiClient(http, admin_token=TOKEN, service_token=service, backoff=0)
    async with api.http:
        first = [await api.ask(BRIDGE, user=1), await api.ask(BRIDGE, user=1)]
        limited = await failure(api.ask(BRIDGE, user=1))
        other = await api.ask(BRIDGE, user=2)
        long_quote = other.model_copy(
            update={
                "citations": [c.model_copy(update={"quote": "q" * 9000}) for c in other.citations]
            }
        )
        await api.feedback("up", long_quote, user=2)  # trimmed to the API's cap, not refused
    assert all(a.answered for a in first) and other.answered
    assert limited.status == 429
    (stored,) = app.state.runtime.feedback.recent(1, 0)  # the newest
    assert {len(c.quote) for c in stored.citations} == {5000}


async def test_stats_and_reindex_through_the_admin_routes(engine: Engine) -> None:
    corpus = engine.settings.data_dir.parent / "corpus"
    api, _ = app_client(engine, engine.settings, articles_dirs=[corpus])
    async with api.http:
        stats = await api.stats()
        job = await api.reindex()
        while job.status == "running":
            await asyncio.sleep(0.05)
            job = await api.job(job.id)
    counts = engine.counts()
    assert (stats.articles, stats.chunks, stats.model) == (
        counts["articles"],
        counts["chunks"],
        TEST_MODEL,
    )
    assert stats.last_sync == engine.stats()["last_sync"]
    assert job.status == "succeeded" and job.report is not None
    assert job.report["unchanged"] == counts["articles"]


async def test_rate_limited_asks_get_a_busy_apology(engine: Engine) -> None:
    api, _ = app_client(engine, engine.settings, ask_rate_limit=1)
    async with api.http:
        await api.ask(BRIDGE)
        error = await failure(api.ask(BRIDGE))
    assert error.status == 429
    assert str(error).startswith("Newsdesk is answering a lot of questions right now")
    assert "try again in" in str(error) and " s." in str(error)


async def test_a_loading_index_is_retried_then_apologised_for(engine: Engine) -> None:
    api, transport = app_client(None, engine.settings)  # no engine yet: the app answers 503
    async with api.http:
        error = await failure(api.ask(BRIDGE))
    assert (error.status, str(error)) == (503, NOT_READY)
    assert transport.timeline == ["api POST /ask"] * 3  # tried, then retried twice


async def test_admin_routes_need_the_apis_admin_token(engine: Engine) -> None:
    wrong, _ = app_client(engine, engine.settings, bot_token="not-the-token-0123456789")
    disabled, _ = app_client(engine, engine.settings, admin_token=None)  # the app has none
    async with wrong.http, disabled.http:
        for api, status in ((wrong, 401), (disabled, 403)):
            error = await failure(api.reindex())
            assert (error.status, str(error)) == (status, NOT_ADMIN)


async def test_a_refused_reindex_says_why(engine: Engine) -> None:
    api, _ = app_client(engine, engine.settings)  # no article folders configured
    async with api.http:
        error = await failure(api.reindex())
    assert error.status == 409
    assert str(error) == (
        "Newsdesk couldn't do that: no article folders or feeds are configured: set "
        "NEWSDESK_ARTICLES_DIRS or NEWSDESK_FEEDS on the server, or add a feed with POST /feeds"
    )


async def test_an_unexpected_server_error_quotes_the_request_id(engine: Engine) -> None:
    class Broken:
        settings = engine.settings

        def ask(self, *args: object, **kwargs: object) -> Answer:
            raise RuntimeError("bug")

    api, _ = app_client(Broken(), engine.settings)  # type: ignore[arg-type]
    async with api.http:
        error = await failure(api.ask(BRIDGE))
    assert error.status == 500
    assert str(error).startswith("Sorry, something went wrong on Newsdesk's side (request id ")


# ----------------------------------------------------------------- transport failures


async def test_timeouts_become_an_apology() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with client_of(httpx.MockTransport(slow)).http as http:
        error = await failure(ApiClient(http).ask(BRIDGE))
    assert (error.status, str(error)) == (None, TIMEOUT)


async def test_the_deadline_holds_when_the_transport_never_answers() -> None:
    stuck = RecordingTransport(httpx.MockTransport(lambda r: httpx.Response(200)), [])
    stuck.gate = asyncio.Event()  # never set: in-process, httpx's own timeouts do not apply
    api = client_of(stuck, timeout=0.2)
    async with api.http:
        error = await failure(api.ask(BRIDGE))
    assert str(error) == TIMEOUT


async def test_an_unreachable_api_is_retried_then_apologised_for() -> None:
    tries: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        tries.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    api = client_of(httpx.MockTransport(refuse))
    async with api.http:
        error = await failure(api.stats())
    assert str(error) == UNREACHABLE and tries == ["/stats"] * 3


async def test_a_transient_failure_is_retried_to_success() -> None:
    answers = iter([httpx.Response(502), httpx.Response(200, json={"articles": 1, "chunks": 2})])
    api = client_of(httpx.MockTransport(lambda request: next(answers)))
    async with api.http:
        assert (await api.stats()).chunks == 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>proxy page</html>"),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(404, json=["not", "an", "error", "body"]),
    ],
    ids=["not-json", "wrong-shape", "plain-500", "odd-404"],
)
async def test_malformed_answers_become_an_apology(response: httpx.Response) -> None:
    api = client_of(httpx.MockTransport(lambda request: response))
    async with api.http:
        error = await failure(api.ask(BRIDGE))
    assert str(error) == BROKEN.format(rid="")


# ----------------------------------------------------------------- in-process, real model


async def test_in_process_api_loads_its_engine_and_releases_it(fake_settings: Settings) -> None:
    api = ApiClient.in_process(fake_settings, timeout=60)
    assert api.admin_token  # a random one: only the bot can reach this app
    error = await failure(api.stats())  # before start(): not there yet
    assert str(error) == UNREACHABLE
    await api.start()
    try:
        stats = await api.stats()
        answer = await api.ask("Which companies signed a cloud deal?")
        refused = await failure(api.reindex())
    finally:
        await api.aclose()
    assert refused.status == 409  # not 401/403: the bot may use the admin routes in-process
    assert stats.articles >= 1  # the seed articles, indexed into the empty index
    assert isinstance(answer, Answer)
    with writer_lock(fake_settings.data_dir):  # released by aclose()
        pass


@pytest.mark.integration
async def test_the_real_model_answers_through_the_client(real_engine: Engine, corpus: Path) -> None:
    real_engine.sync([corpus])
    api, _ = app_client(real_engine, real_engine.settings)
    async with api.http:
        answer = await api.ask(BRIDGE)
    assert answer.answered and "84 million pounds" in answer.answer
    assert answer.citations[0].article_id == "world/harbour-bridge.txt"
    embed = answer_embed(answer, BRIDGE)
    assert_within_limits(embed)
    assert embed.fields[0].name.startswith("[1] Council approves new harbour bridge")
