"""The bot through discord.py's real dispatch path, answering from the real API app.

Events and interactions are raw gateway payloads that discord.py parses and dispatches itself
(tests/discord_support.py); only the HTTP requests to Discord are faked, and the tests assert
on what would have been sent. The API is the real FastAPI app over an engine with the test
embedder, through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from discord import MessageType
from discord.webhook.async_ import AsyncWebhookAdapter

from api.app import create_app
from bot import commands, render
from bot.api_client import UNREACHABLE, ApiClient
from bot.client import APOLOGY, HOW_TO_ASK, NewsdeskBot
from bot.views import TOO_OLD
from index.answer.models import NOT_FOUND
from index.config import Settings
from index.embeddings import TEST_MODEL
from index.engine import Engine
from tests.api_support import TOKEN, api_settings
from tests.conftest import FIXTURES
from tests.discord_support import (
    BOB,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    FakeDiscord,
    RecordingTransport,
    fake_webhook,
)

pytestmark = pytest.mark.anyio

BRIDGE = "How much will the new harbour bridge cost?"
EPHEMERAL = 64


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The fixture corpus, indexed once for this module with the fast test embedder."""
    root = tmp_path_factory.mktemp("bot")
    corpus = shutil.copytree(FIXTURES / "corpus", root / "corpus")
    engine = Engine(Settings(data_dir=root / "data", embed_model=TEST_MODEL, _env_file=None))
    engine.sync([corpus])
    yield engine
    engine.close()


@dataclass
class Harness:
    bot: NewsdeskBot
    discord: FakeDiscord
    backend: RecordingTransport
    timeline: list[str]
    asked: list[str]
    """The questions the API was asked, in order."""


@asynccontextmanager
async def running_bot(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    transport: httpx.AsyncBaseTransport | None = None,
    cooldown: float = 0.0,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """A logged-in bot in a guild, its API the real app (or `transport`). On exit, checks that
    every message it sent or edited allowed no mentions."""
    timeline: list[str] = []
    app = create_app(api_settings(engine.settings, **settings), engine=engine)
    backend = RecordingTransport(transport or httpx.ASGITransport(app=app), timeline)
    http = httpx.AsyncClient(transport=backend, base_url="http://newsdesk")
    bot = NewsdeskBot(
        ApiClient(http, admin_token=TOKEN, backoff=0),
        guild_id=GUILD_ID,
        cooldown_seconds=cooldown,
        poll_seconds=0.05,
    )
    asked: list[str] = []

    async def note_question(request: httpx.Request) -> None:
        if request.url.path == "/ask":
            asked.append(json.loads(request.content)["question"])

    http.event_hooks["request"].append(note_question)
    async with bot:
        fake = FakeDiscord(bot, timeline)
        monkeypatch.setattr(AsyncWebhookAdapter, "request", fake_webhook(fake))
        await bot.setup_hook()  # what login runs: starts the API client, syncs commands
        yield Harness(bot, fake, backend, timeline, asked)
        await fake.settle()
    for body in fake.bodies():
        assert pings_nobody(body), body


def pings_nobody(body: dict[str, Any]) -> bool:
    """What `AllowedMentions.none()` sends: parse nothing, list no one, don't ping on reply."""
    allowed = body.get("allowed_mentions") or {}
    return (
        allowed.get("parse") == []
        and {"users", "roles"}.isdisjoint(allowed)
        and (not allowed.get("replied_user"))
    )


def embed_of(body: dict[str, Any]) -> dict[str, Any]:
    (embed,) = body["embeds"]
    return embed  # type: ignore[no-any-return]


def buttons(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components", []) for c in row["components"]]


def ratings(h: Harness) -> list[Any]:
    """The feedback the API has stored (shared by this module's tests), newest first."""
    app = h.backend.inner.app  # type: ignore[attr-defined]
    return list(app.state.runtime.feedback.recent(1000, 0))


def callbacks(h: Harness) -> list[dict[str, Any]]:
    return [s.payload for s in h.discord.requests("POST", "/callback")]


# ----------------------------------------------------------------- start-up


async def test_setup_hook_syncs_the_commands_to_the_configured_guild(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        (sync,) = h.discord.requests("PUT", "/commands")
    assert sync.path == f"/applications/{BOT_ID}/guilds/{GUILD_ID}/commands"
    commands = {c["name"]: c for c in sync.payload}
    assert set(commands) == {"ask", "reindex", "stats"}
    (question,) = commands["ask"]["options"]
    assert (question["name"], question["required"], question["max_length"]) == (
        "question",
        True,
        2000,
    )
    assert str(commands["reindex"]["default_member_permissions"]) == "32"  # Manage Server


# ----------------------------------------------------------------- /ask


async def test_ask_defers_then_answers_with_a_cited_embed_and_buttons(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        shown = h.discord.original(ask)
    assert callbacks(h) == [{"type": 5}]  # deferred ("thinking"), public
    defer = h.timeline.index(
        f"discord POST /interactions/{ask['id']}/{ask['token']}/callback type=5"
    )
    assert defer < h.timeline.index("api POST /ask")
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    embed = embed_of(edit.payload)
    assert embed["title"] == BRIDGE and "84 million pounds" in embed["description"]
    assert embed["fields"][0]["name"].startswith("[1] Council approves new harbour bridge")
    assert "84 million pounds" in embed["fields"][0]["value"]
    assert buttons(edit.payload) == [
        "newsdesk:answer:sources",
        "newsdesk:answer:up",
        "newsdesk:answer:down",
        "newsdesk:answer:thread",
    ]
    assert h.bot.answers.get(int(shown["id"])) is not None


async def test_ask_defers_before_calling_a_slow_backend(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        h.backend.gate = asyncio.Event()  # the API does not answer until the test says so
        ask = h.discord.slash("ask", question=BRIDGE)
        h.discord.gateway("INTERACTION_CREATE", ask)
        await asyncio.wait_for(h.backend.entered.wait(), 30)
        assert callbacks(h) == [{"type": 5}]  # acknowledged while the backend still works
        assert not h.discord.requests("PATCH")
        h.backend.gate.set()
        await h.discord.settle()
        (edit,) = h.discord.requests("PATCH", "/messages/@original")
    assert "84 million pounds" in embed_of(edit.payload)["description"]


async def test_a_not_found_answer_says_so_and_offers_no_sources(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("ask", question="Who won the 1966 World Cup?"))
        (edit,) = h.discord.requests("PATCH", "/messages/@original")
    embed = embed_of(edit.payload)
    assert NOT_FOUND in embed["description"] and render.REPHRASE in embed["description"]
    assert "fields" not in embed or not embed["fields"]
    assert "newsdesk:answer:sources" not in buttons(edit.payload)


async def test_backend_errors_become_an_apology_not_silence(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with running_bot(engine, monkeypatch, transport=httpx.MockTransport(refuse)) as h:
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    assert edit.payload["content"] == UNREACHABLE and edit.payload["embeds"] == []
    (reply,) = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")
    assert reply.payload["content"] == UNREACHABLE
    assert h.timeline.count("api POST /ask") == 6  # each question tried three times


async def test_an_unexpected_failure_is_apologised_for(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("bug")

        monkeypatch.setattr(h.bot, "answer", broken)
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    assert edit.payload["content"] == APOLOGY
    (reply,) = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")
    assert reply.payload["content"] == APOLOGY


async def test_the_cooldown_answers_politely_and_ephemerally(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch, cooldown=600) as h:
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
        await h.discord.run(h.discord.slash("ask", question=BRIDGE, author=BOB))
        mention = await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    first, second, third = callbacks(h)
    assert first == third == {"type": 5}
    assert second["type"] == 4 and second["data"]["flags"] == EPHEMERAL
    assert "please wait" in second["data"]["content"]
    assert h.asked == [BRIDGE, BRIDGE]  # alice's second question never reached the API
    (reply,) = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")
    assert "please wait" in reply.payload["content"]
    assert str(reply.payload["message_reference"]["message_id"]) == mention["id"]


# ----------------------------------------------------------------- buttons


async def test_sources_shows_every_full_quote_ephemerally(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.bot.answers.get(int(h.discord.original(ask)["id"]))
        await h.discord.run(h.discord.click(h.discord.original(ask), "newsdesk:answer:sources"))
    assert answer is not None
    shown = callbacks(h)[-1]
    assert shown["type"] == 4 and shown["data"]["flags"] == EPHEMERAL
    text = "\n".join(e["description"] for e in shown["data"]["embeds"])
    for citation in answer.answer.citations:
        assert render.safe(citation.quote) in text


async def test_feedback_buttons_record_one_rating_per_person_through_the_api(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:down"))
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:up"))
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:up", author=BOB))
        app = h.backend.inner.app  # type: ignore[attr-defined]
        stored = app.state.runtime.feedback.recent(10, 0)
    assert [(f.rating, f.question) for f in stored] == [("up", BRIDGE), ("down", BRIDGE)]
    assert stored[0].citations and "84 million" in stored[0].answer
    _, down, again, up = callbacks(h)
    assert down == {"type": 5, "data": {"flags": EPHEMERAL}}  # deferred before the API call
    assert again["data"]["flags"] == EPHEMERAL and "already rated" in again["data"]["content"]
    assert up == down
    thanks = [s.payload["content"] for s in h.discord.requests("PATCH", "/messages/@original")]
    assert thanks[1:] == [
        "Thanks! Your 👎 is recorded and helps improve Newsdesk's answers.",
        "Thanks! Your 👍 is recorded and helps improve Newsdesk's answers.",
    ]


async def test_a_double_click_on_a_rating_records_it_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        before = len(ratings(h))
        h.backend.gate = asyncio.Event()  # the first click's rating waits in the API
        first = h.discord.click(answer, "newsdesk:answer:up")
        second = h.discord.click(answer, "newsdesk:answer:up")
        h.discord.gateway("INTERACTION_CREATE", first)
        await asyncio.wait_for(h.backend.entered.wait(), 30)
        h.discord.gateway("INTERACTION_CREATE", second)
        async with asyncio.timeout(30):  # until the second click is answered
            while not h.discord.requests("POST", f"/{second['token']}/callback"):
                await asyncio.sleep(0.01)
        h.backend.gate.set()
        await h.discord.settle()
        assert len(ratings(h)) == before + 1
    assert h.timeline.count("api POST /feedback") == 1
    (again,) = h.discord.requests("POST", f"/{second['token']}/callback")
    assert "already rated" in again.payload["data"]["content"]


async def test_a_rating_the_api_failed_to_record_can_be_given_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        before = len(ratings(h))
        api, h.backend.inner = h.backend.inner, httpx.MockTransport(refuse)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:up"))
        h.backend.inner = api
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:up"))
        assert len(ratings(h)) == before + 1
    failed, thanks = (s.payload["content"] for s in h.discord.requests("PATCH")[1:])
    assert (failed, thanks) == (
        UNREACHABLE,
        "Thanks! Your 👍 is recorded and helps improve Newsdesk's answers.",
    )


async def test_buttons_of_an_answer_the_bot_no_longer_remembers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        h.bot.answers = type(h.bot.answers)()  # as after a restart
        await h.discord.run(h.discord.click(h.discord.original(ask), "newsdesk:answer:sources"))
    reply = callbacks(h)[-1]
    assert reply["data"]["content"] == TOO_OLD and reply["data"]["flags"] == EPHEMERAL


# ----------------------------------------------------------------- mentions and threads


async def test_a_mention_is_answered_in_a_reply_that_pings_nobody(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        mention = await h.discord.says(f"<@{BOT_ID}> {BRIDGE} @everyone <@{BOB}>")
    typing, reply = h.discord.sent[-2:]
    assert typing.path == f"/channels/{CHANNEL_ID}/typing"
    assert reply.path == f"/channels/{CHANNEL_ID}/messages"
    assert str(reply.payload["message_reference"]["message_id"]) == mention["id"]
    assert pings_nobody(reply.payload)
    embed = embed_of(reply.payload)
    assert embed["title"] == BRIDGE and "84 million pounds" in embed["description"]
    assert h.asked == [BRIDGE]  # mentions are Discord's business, not the articles'


async def test_mentions_typed_into_a_question_are_shown_defused(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = f"@everyone <@&{GUILD_ID}> <@{BOB}> {BRIDGE}"
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("ask", question=question))
        (edit,) = h.discord.requests("PATCH", "/messages/@original")
    title = embed_of(edit.payload)["title"]
    assert title == f"@\u200beveryone <@\u200b&{GUILD_ID}> <@\u200b{BOB}> {BRIDGE}"
    assert h.asked == [BRIDGE]


async def test_messages_not_for_the_bot_are_ignored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.says(BRIDGE)
        await h.discord.says(f"<@{BOB}> {BRIDGE}")
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}", author=BOT_ID)  # its own message
        assert not h.discord.requests("POST", "/messages") and not h.asked
        await h.discord.says(f"<@{BOT_ID}>")
    (hint,) = h.discord.requests("POST", "/messages")
    assert hint.payload["content"] == HOW_TO_ASK


async def test_follow_ups_in_a_thread_carry_the_earlier_questions(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening, reason = "When is it expected to open?", "Why did residents campaign for it?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:thread"))
        thread = h.bot.get_guild(GUILD_ID).get_thread(int(answer["id"]))  # type: ignore[union-attr]
        assert thread is not None and thread.name == BRIDGE and thread.owner_id == BOT_ID
        await h.discord.says(opening, channel_id=thread.id)
        await h.discord.says(f"<@{BOT_ID}> {reason}", author=BOB, channel_id=thread.id)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:thread"))
        h.bot.answers = type(h.bot.answers)()  # after a restart, the thread's name stands in
        await h.discord.says("Who is the transport chief?", channel_id=thread.id)
    (start,) = h.discord.requests("POST", "/threads")
    assert start.payload == {
        "name": BRIDGE,
        "auto_archive_duration": 1440,
        "rate_limit_per_user": None,
    }
    intro, *answers = h.discord.requests("POST", f"/channels/{thread.id}/messages")
    assert intro.payload["content"] == render.THREAD_INTRO
    assert h.asked == [
        BRIDGE,
        f"{opening} {BRIDGE}",
        f"{reason} {opening} {BRIDGE}",
        f"Who is the transport chief? {reason} {opening} {BRIDGE}",
    ]
    first, second, _ = (embed_of(s.payload) for s in answers)
    assert first["title"] == opening and "open in 2027" in first["description"]
    assert second["title"] == reason and "ferry service" in second["description"]
    again = callbacks(h)[-1]  # a second Follow up click points to the thread
    assert again["data"]["flags"] == EPHEMERAL and f"<#{thread.id}>" in again["data"]["content"]


async def test_follow_up_on_an_answer_whose_thread_was_archived_points_to_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:thread"))
        thread = int(answer["id"])
        h.discord.archive(thread)
        assert h.bot.get_guild(GUILD_ID).get_thread(thread) is None  # type: ignore[union-attr]
        again = h.discord.click(answer, "newsdesk:answer:thread")
        await h.discord.run(again)
        pointed = h.discord.original(again)
        with_thread = {**answer, "thread": h.discord.threads[thread]}  # Discord may name it
        await h.discord.run(h.discord.click(with_thread, "newsdesk:answer:thread"))
    assert len(h.discord.requests("POST", "/threads")) == 2  # the second one refused
    assert len(h.discord.requests("GET", f"/channels/{thread}")) == 1
    assert pointed["content"] == f"Follow-ups to this answer go in <#{thread}>."
    shown = callbacks(h)[-1]
    assert shown["data"]["content"] == pointed["content"]
    assert shown["data"]["flags"] == EPHEMERAL


async def test_system_messages_in_a_thread_are_not_questions(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, "newsdesk:answer:thread"))
        thread = int(answer["id"])
        await h.discord.says(
            "Bridge costs", channel_id=thread, kind=MessageType.channel_name_change
        )
        await h.discord.says("", channel_id=thread, kind=MessageType.pins_add)
        assert h.asked == [BRIDGE]
        posted = [s.payload["content"] for s in h.discord.requests("POST", f"/{thread}/messages")]
        assert posted == [render.THREAD_INTRO] and not h.discord.requests("POST", "/typing")
        await h.discord.says(opening, channel_id=thread)
    assert h.asked == [BRIDGE, f"{opening} {BRIDGE}"]  # the new name is no earlier question


# ----------------------------------------------------------------- admin and stats


async def test_reindex_is_for_members_who_can_manage_the_server(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("reindex"))
    (refused,) = callbacks(h)
    assert refused["type"] == 4 and refused["data"]["flags"] == EPHEMERAL
    assert "Manage Server" in refused["data"]["content"]
    assert not any(line.startswith("api") for line in h.timeline)


async def test_reindex_reports_progress_then_the_sync_report(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = engine.settings.data_dir.parent / "corpus"  # what the engine indexed
    async with running_bot(engine, monkeypatch, articles_dirs=[corpus]) as h:
        await h.discord.run(h.discord.slash("reindex", permissions=MANAGE_GUILD))
    assert callbacks(h) == [{"type": 5, "data": {"flags": EPHEMERAL}}]
    assert h.timeline.count("api POST /reindex") == 1
    shown = [embed_of(s.payload) for s in h.discord.requests("PATCH", "/messages/@original")]
    assert shown[0]["title"] == "Reindex running…"
    assert shown[-1]["title"] == "Reindex finished"
    assert shown[-1]["description"].startswith("0 added, 0 updated, 0 removed, 6 unchanged")
    assert "skipped world/empty.txt: empty file" in shown[-1]["description"]


async def test_a_reindex_outlasting_the_interaction_is_left_running_with_a_note(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "REINDEX_FOLLOW_SECONDS", 0)  # as if 14 minutes had passed
    corpus = engine.settings.data_dir.parent / "corpus"
    async with running_bot(engine, monkeypatch, articles_dirs=[corpus]) as h:
        await h.discord.run(h.discord.slash("reindex", permissions=MANAGE_GUILD))
        assert h.backend.inner.app.state.runtime.jobs.wait(60)  # type: ignore[attr-defined]
    last = h.discord.requests("PATCH", "/messages/@original")[-1]
    assert last.payload["content"].startswith("The reindex is still running (")
    assert last.payload["embeds"] == []


async def test_reindex_errors_from_the_api_are_shown(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:  # the API has no article folders
        await h.discord.run(h.discord.slash("reindex", permissions=MANAGE_GUILD))
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    assert "no article folders are configured" in edit.payload["content"]


async def test_stats_shows_the_index_ephemerally(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("stats"))
    assert callbacks(h) == [{"type": 5, "data": {"flags": EPHEMERAL}}]
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    fields = {f["name"]: f["value"] for f in embed_of(edit.payload)["fields"]}
    counts = engine.store.counts()
    assert fields["Articles"] == str(counts["articles"]) and fields["Chunks"] == str(
        counts["chunks"]
    )
    assert fields["Last sync"].endswith("UTC") and fields["Model"] == TEST_MODEL
