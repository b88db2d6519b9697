"""The bot through discord.py's real dispatch path, answering from the real API app.

Events and interactions are raw gateway payloads that discord.py parses and dispatches itself
(tests/support/discord_support.py); only the HTTP requests to Discord are faked, and the tests
assert on what would have been sent. The API is the real FastAPI app over an engine with the test
embedder, through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
import httpx
import pytest
from discord import MessageType
from discord.webhook.async_ import AsyncWebhookAdapter

from newsdesk.api.app import create_app
from newsdesk.bot import commands, render
from newsdesk.bot.api_client import UNREACHABLE, ApiClient
from newsdesk.bot.client import APOLOGY, FULL, HOW_TO_ASK, NOT_SERVED, NewsdeskBot
from newsdesk.bot.views import ALREADY_RATED, ANSWER_GONE, THREAD_FAILED, TOO_OLD
from newsdesk.index.answer.models import NOT_FOUND
from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL
from newsdesk.index.engine import Engine
from tests.conftest import FIXTURES
from tests.support.api_support import TOKEN, api_settings
from tests.support.discord_support import (
    ALICE,
    BOB,
    BOT_ID,
    BOT_ROLE,
    CHANNEL_ID,
    FORUM_ID,
    GUILD_ID,
    INVALID_WEBHOOK_TOKEN,
    MANAGE_GUILD,
    MISSING_PERMISSIONS,
    OTHER_CHANNEL_ID,
    FakeDiscord,
    RecordingTransport,
    fake_webhook,
)

pytestmark = pytest.mark.anyio

BRIDGE = "How much will the new harbour bridge cost?"
EPHEMERAL = 64
SERVICE = "service-token-for-the-bot-tests"
"""The API's service token, which the bot sends to name the Discord user it acts for."""


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
    app: Any
    bot: NewsdeskBot
    discord: FakeDiscord
    backend: RecordingTransport
    timeline: list[str]
    asked: list[str]
    """The questions the API was asked, in order."""
    conversations: list[str | None]
    """The conversation_id each question was asked in (None: a new conversation)."""


@asynccontextmanager
async def running_bot(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    transport: httpx.AsyncBaseTransport | None = None,
    cooldown: float = 0.0,
    app: Any = None,
    bot_options: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """A logged-in bot in a guild, its API the real app (or `transport`; `app`: the API app of
    an earlier bot, as after a restart). On exit, checks that every message it sent or
    edited allowed no mentions."""
    timeline: list[str] = []
    settings = {"service_token": SERVICE, **settings}
    app = app or create_app(api_settings(engine.settings, **settings), engine=engine)
    backend = RecordingTransport(transport or httpx.ASGITransport(app=app), timeline)
    http = httpx.AsyncClient(transport=backend, base_url="http://newsdesk")
    bot = NewsdeskBot(
        ApiClient(http, admin_token=TOKEN, service_token=SERVICE, backoff=0),
        guild_id=GUILD_ID,
        cooldown_seconds=cooldown,
        poll_seconds=0.05,
        **(bot_options or {}),
    )
    asked: list[str] = []
    conversations: list[str | None] = []

    async def note_question(request: httpx.Request) -> None:
        if request.url.path == "/ask":
            body = json.loads(request.content)
            asked.append(body["question"])
            conversations.append(body.get("conversation_id"))

    http.event_hooks["request"].append(note_question)
    async with bot:
        fake = FakeDiscord(bot, timeline)
        monkeypatch.setattr(AsyncWebhookAdapter, "request", fake_webhook(fake))
        await bot.setup_hook()  # what login runs: starts the API client, syncs commands
        yield Harness(app, bot, fake, backend, timeline, asked, conversations)
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


def conversation_of(body: dict[str, Any]) -> str:
    """The conversation id an answer's buttons name."""
    return buttons(body)[0].split(":")[3]


def button(body: dict[str, Any], action: str) -> str:
    """The custom id of an answer's `action` button."""
    (found,) = [b for b in buttons(body) if b.startswith(f"newsdesk:answer:{action}")]
    return found


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
    assert set(commands) == {"ask", "reindex", "stats", "feeds", "newsdesk"}
    assert str(commands["newsdesk"]["default_member_permissions"]) == "32"  # Manage Server
    question, *filters = commands["ask"]["options"]
    assert [(f["name"], f["required"]) for f in filters] == [
        ("since", False),
        ("until", False),
        ("source", False),
    ]
    assert filters[2]["autocomplete"] is True
    assert str(commands["feeds"]["default_member_permissions"]) == "32"  # Manage Server
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
    conversation = conversation_of(edit.payload)
    assert buttons(edit.payload) == [
        f"newsdesk:answer:sources:{conversation}:0",
        f"newsdesk:answer:up:{conversation}:0",
        f"newsdesk:answer:down:{conversation}:0",
        f"newsdesk:answer:thread:{conversation}:0",
    ]
    assert shown["components"] == edit.payload["components"]


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
    assert not [b for b in buttons(edit.payload) if b.startswith("newsdesk:answer:sources")]


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
        answer = h.discord.original(ask)
        sources = h.discord.click(answer, button(answer, "sources"))
        await h.discord.run(sources)
        (turn,) = h.app.state.runtime.conversations.turns(conversation_of(answer))
    assert callbacks(h)[-1] == {"type": 5, "data": {"flags": EPHEMERAL}}
    shown = h.discord.original(sources)
    assert shown["flags"] & EPHEMERAL
    text = "\n".join(e["description"] for e in shown["embeds"])
    assert turn.citations
    for citation in turn.citations:
        assert render.safe(citation.quote) in text


async def test_feedback_buttons_record_one_rating_per_person_through_the_api(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, button(answer, "down")))
        await h.discord.run(h.discord.click(answer, button(answer, "up")))
        await h.discord.run(h.discord.click(answer, button(answer, "up"), author=BOB))
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
        first = h.discord.click(answer, button(answer, "up"))
        second = h.discord.click(answer, button(answer, "up"))
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
        await h.discord.run(h.discord.click(answer, button(answer, "up")))
        h.backend.inner = api
        await h.discord.run(h.discord.click(answer, button(answer, "up")))
        assert len(ratings(h)) == before + 1
    failed, thanks = (s.payload["content"] for s in h.discord.requests("PATCH")[1:])
    assert (failed, thanks) == (
        UNREACHABLE,
        "Thanks! Your 👍 is recorded and helps improve Newsdesk's answers.",
    )


async def test_buttons_of_an_answer_the_api_no_longer_has_say_so(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        response = await h.bot.api.http.delete(f"/conversations/{conversation_of(answer)}")
        assert response.status_code == 204  # as when it expired
        await h.discord.run(h.discord.click(answer, button(answer, "sources")))
        old = json.loads(re.sub(r"(newsdesk:answer:\w+):[\w-]+:\d+", r"\1", json.dumps(answer)))
        await h.discord.run(h.discord.click(old, "newsdesk:answer:up"))  # sent before the ids
    expired = h.discord.requests("PATCH", "/messages/@original")[1].payload
    assert expired["content"] == TOO_OLD
    old = callbacks(h)[-1]
    assert old["data"]["content"] == TOO_OLD and old["data"]["flags"] == EPHEMERAL


async def test_follow_up_and_ratings_work_after_a_restart(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new bot client, the same API: the answer's buttons and its thread still work."""
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as before:
        ask = before.discord.slash("ask", question=BRIDGE)
        await before.discord.run(ask)
        answer = before.discord.original(ask)
        messages = dict(before.discord.messages)
    async with running_bot(engine, monkeypatch, app=before.app) as h:
        h.discord.messages.update(messages)  # Discord still has them
        rated = len(ratings(h))
        await h.discord.run(h.discord.click(answer, button(answer, "up")))
        assert len(ratings(h)) == rated + 1
        await h.discord.run(h.discord.click(answer, button(answer, "thread")))
        thread = h.bot.get_guild(GUILD_ID).get_thread(int(answer["id"]))  # type: ignore[union-attr]
        assert thread is not None and thread.name == BRIDGE
        await h.discord.says(opening, channel_id=thread.id)
        sources = h.discord.click(answer, button(answer, "sources"))
        await h.discord.run(sources)
    (stored,) = ratings(h)[:1]
    assert (stored.rating, stored.question) == ("up", BRIDGE) and "84 million" in stored.answer
    thanks = h.discord.requests("PATCH", "/messages/@original")[0].payload["content"]
    assert thanks.startswith("Thanks! Your 👍 is recorded")
    assert h.asked == [opening] and h.conversations == [conversation_of(answer)]
    reply = h.discord.requests("POST", f"/channels/{thread.id}/messages")[-1].payload
    assert "open in 2027" in embed_of(reply)["description"]
    assert buttons(reply)[0].endswith(f":{conversation_of(answer)}:1")  # its second turn
    assert "84 million" in "".join(e["description"] for e in h.discord.original(sources)["embeds"])


async def test_a_rating_given_before_a_restart_is_not_given_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot forgets who rated what when it restarts; the API does not."""
    async with running_bot(engine, monkeypatch) as before:
        ask = before.discord.slash("ask", question=BRIDGE)
        await before.discord.run(ask)
        answer = before.discord.original(ask)
        await before.discord.run(before.discord.click(answer, button(answer, "up")))
        rated = len(ratings(before))
    async with running_bot(engine, monkeypatch, app=before.app) as h:
        await h.discord.run(h.discord.click(answer, button(answer, "down")))
        await h.discord.run(h.discord.click(answer, button(answer, "up"), author=BOB))
        assert len(ratings(h)) == rated + 1  # bob's
    again, bobs = (s.payload["content"] for s in h.discord.requests("PATCH", "/messages/@original"))
    assert again == ALREADY_RATED
    assert bobs.startswith("Thanks! Your 👍 is recorded")
    newest, alices = ratings(h)[:2]
    assert (newest.rating, alices.rating) == ("up", "up")
    assert (alices.conversation_id, alices.turn) == (conversation_of(answer), 0)


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


async def test_follow_ups_in_a_thread_continue_the_answers_conversation(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening, reason = "When is it expected to open?", "Why did residents campaign for it?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, button(answer, "thread")))
        thread = h.bot.get_guild(GUILD_ID).get_thread(int(answer["id"]))  # type: ignore[union-attr]
        assert thread is not None and thread.name == BRIDGE and thread.owner_id == BOT_ID
        await h.discord.says(opening, channel_id=thread.id)
        await h.discord.says(f"<@{BOT_ID}> {reason}", author=BOB, channel_id=thread.id)
        await h.discord.run(h.discord.click(answer, button(answer, "thread")))
        turns = h.app.state.runtime.conversations.turns(conversation_of(answer))
    (start,) = h.discord.requests("POST", "/threads")
    assert start.payload == {
        "name": BRIDGE,
        "auto_archive_duration": 1440,
        "rate_limit_per_user": None,
    }
    intro, *answers = h.discord.requests("POST", f"/channels/{thread.id}/messages")
    assert intro.payload["content"] == render.THREAD_INTRO
    assert h.asked == [BRIDGE, opening, reason]  # no gluing: the API resolves follow-ups
    conversation = conversation_of(answer)
    assert h.conversations == [None, conversation, conversation]
    assert [t.question for t in turns] == [BRIDGE, opening, reason]
    first, second = (embed_of(s.payload) for s in answers)
    assert first["title"] == opening and "open in 2027" in first["description"]
    assert second["title"] == reason and "ferry service" in second["description"]
    assert [buttons(s.payload)[0].split(":", 3)[3] for s in answers] == [
        f"{conversation}:1",
        f"{conversation}:2",
    ]
    again = callbacks(h)[-1]  # a second Follow up click points to the thread
    assert again["data"]["flags"] == EPHEMERAL and f"<#{thread.id}>" in again["data"]["content"]


async def test_a_reply_to_an_answer_continues_its_conversation(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.says(opening, reply_to=answer)  # Discord's Reply, no mention typed
        mention = await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
        reply = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")[-1].payload
        followed = h.discord.messages[max(h.discord.messages)]
        await h.discord.says(opening, reply_to=followed)
        await h.discord.says("Nice one", reply_to=mention, author=BOB)  # a reply to a person
    assert h.asked == [BRIDGE, opening, BRIDGE, opening]
    conversation = conversation_of(answer)
    assert h.conversations[:2] == [None, conversation]
    assert h.conversations[2] is None and h.conversations[3] == conversation_of(reply)
    answered = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")[0].payload
    assert "open in 2027" in embed_of(answered)["description"]


async def test_a_conversation_as_long_as_the_api_keeps_says_so(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond its last kept turn a conversation would drop its first, and the buttons of its
    answers would name the wrong turns: the bot asks for a new conversation instead."""
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        h.app.state.runtime.conversations.store.max_turns = 2  # as if 50 turns long
        await h.discord.says(opening, reply_to=answer)
        await h.discord.says("Why did residents campaign for it?", reply_to=answer)
        turns = h.app.state.runtime.conversations.turns(conversation_of(answer))
    assert h.asked == [BRIDGE, opening] and len(turns) == 2
    full = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")[-1].payload
    assert full["content"] == render.notice(FULL.format(turns=2))
    assert full["content"].startswith("This conversation has reached its 2 questions")


async def test_a_thread_someone_opened_on_an_answer_continues_its_conversation(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        thread = h.discord.user_thread(int(answer["id"]), owner=ALICE)  # Create Thread
        await h.discord.says(opening, channel_id=thread)
        await h.discord.says("Just chatting here", channel_id=h.discord.user_thread(None, ALICE))
    assert h.asked == [BRIDGE, opening]
    assert h.conversations == [None, conversation_of(answer)]
    (reply,) = h.discord.requests("POST", f"/channels/{thread}/messages")
    assert "open in 2027" in embed_of(reply.payload)["description"]


async def test_a_mention_of_the_bots_role_is_a_question(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.says(f"<@&{BOT_ROLE}> {BRIDGE}", roles=[BOT_ROLE])
    assert h.asked == [BRIDGE]


async def test_follow_up_on_an_answer_whose_thread_was_archived_points_to_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.run(h.discord.click(answer, button(answer, "thread")))
        thread = int(answer["id"])
        h.discord.archive(thread)
        assert h.bot.get_guild(GUILD_ID).get_thread(thread) is None  # type: ignore[union-attr]
        again = h.discord.click(answer, button(answer, "thread"))
        await h.discord.run(again)
        pointed = h.discord.original(again)
        with_thread = {**answer, "thread": h.discord.threads[thread]}  # Discord may name it
        await h.discord.run(h.discord.click(with_thread, button(answer, "thread")))
    assert pointed["content"] == f"Follow-ups to this answer go in <#{thread}>."
    assert len(h.discord.requests("POST", "/threads")) == 2  # the second one refused
    assert len(h.discord.requests("GET", f"/channels/{thread}")) == 1
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
        await h.discord.run(h.discord.click(answer, button(answer, "thread")))
        thread = int(answer["id"])
        await h.discord.says(
            "Bridge costs", channel_id=thread, kind=MessageType.channel_name_change
        )
        await h.discord.says("", channel_id=thread, kind=MessageType.pins_add)
        assert h.asked == [BRIDGE]
        posted = [s.payload["content"] for s in h.discord.requests("POST", f"/{thread}/messages")]
        assert posted == [render.THREAD_INTRO] and not h.discord.requests("POST", "/typing")
        await h.discord.says(opening, channel_id=thread)
    assert h.asked == [BRIDGE, opening]
    assert h.conversations == [None, conversation_of(answer)]


async def test_ask_passes_its_date_and_source_options_as_filters(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies: list[dict[str, Any]] = []
    async with running_bot(engine, monkeypatch) as h:

        async def note(request: httpx.Request) -> None:
            if request.url.path == "/ask":
                bodies.append(json.loads(request.content))

        h.bot.api.http.event_hooks["request"].append(note)
        question = "How much power does the new processor save?"
        ask = h.discord.slash("ask", question=question, since="2025-03-01", source="Tech Wire")
        await h.discord.run(ask)
        shown = h.discord.original(ask)
        await h.discord.run(h.discord.slash("ask", question=question, since="March"))
    assert bodies == [
        {"question": question, "filters": {"source": "Tech Wire", "since": "2025-03-01"}}
    ]
    assert embed_of(shown)["fields"][0]["value"].startswith("[link](https://example.org/voltra)")
    refused = callbacks(h)[-1]
    assert refused["data"]["flags"] == EPHEMERAL
    assert "The since option must be a day like 2026-03-01." in refused["data"]["content"]


async def test_the_source_option_is_autocompleted_from_the_api(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        typing = h.discord.autocomplete("ask", "source", question="q", source="tech")
        await h.discord.run(typing)
    (choices,) = callbacks(h)
    assert choices == {
        "type": 8,
        "data": {"choices": [{"name": "Tech Wire", "value": "Tech Wire"}]},
    }


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
    assert "no article folders or feeds are configured" in edit.payload["content"]


async def test_stats_shows_the_index_ephemerally(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("stats"))
    assert callbacks(h) == [{"type": 5, "data": {"flags": EPHEMERAL}}]
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    fields = {f["name"]: f["value"] for f in embed_of(edit.payload)["fields"]}
    counts = engine.counts()
    assert fields["Articles"] == str(counts["articles"]) and fields["Chunks"] == str(
        counts["chunks"]
    )
    assert fields["Last sync"].endswith("UTC") and fields["Model"] == TEST_MODEL


async def test_feeds_are_listed_and_added_by_server_managers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://feeds.example.org/world.rss"
    async with running_bot(engine, monkeypatch) as h:
        await h.discord.run(h.discord.slash("feeds", subcommand="add", url=url))
        await h.discord.run(
            h.discord.slash("feeds", subcommand="add", url=url, permissions=MANAGE_GUILD)
        )
        await h.discord.run(h.discord.slash("feeds", subcommand="list", permissions=MANAGE_GUILD))
    refused = callbacks(h)[0]
    assert refused["data"]["flags"] == EPHEMERAL and "Manage Server" in refused["data"]["content"]
    assert h.timeline.count("api POST /feeds") == 1 and h.timeline.count("api GET /feeds") == 1
    added, listed = (s.payload for s in h.discord.requests("PATCH", "/messages/@original"))
    assert "Added: https://feeds.example.org/world.rss" in added["content"]
    (field,) = embed_of(listed)["fields"]
    assert field["name"] == url and url in field["value"]


# ----------------------------------------------------------------- permissions and refusals

NO_THREADS = (
    discord.Permissions.all().value & ~discord.Permissions(create_public_threads=True).value
)


async def test_follow_up_is_offered_only_where_the_bot_can_start_threads(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE, app_permissions=NO_THREADS)
        await h.discord.run(ask)
        without = h.discord.original(ask)
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)  # permission taken away after the answer was sent
        click = h.discord.click(answer, button(answer, "thread"), app_permissions=NO_THREADS)
        await h.discord.run(click)
        h.discord.deny_bot(discord.Permissions(send_messages_in_threads=True))
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    assert not [b for b in buttons(without) if ":thread:" in b]
    assert [b for b in buttons(answer) if ":thread:" in b]
    refused = callbacks(h)[-1]
    assert refused["type"] == 4 and refused["data"]["flags"] == EPHEMERAL
    assert "I need the Create Public Threads permission" in refused["data"]["content"]
    assert not h.discord.requests("POST", "/threads")
    mentioned = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")[-1].payload
    assert not [b for b in buttons(mentioned) if ":thread:" in b]


async def test_a_channel_where_the_bot_cannot_send_is_not_asked_for_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        h.discord.deny_bot(discord.Permissions(send_messages=True))
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    assert not h.asked and not h.discord.requests("POST")


async def test_a_reply_discord_refuses_is_logged_and_the_bot_goes_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        h.discord.refuse("POST", f"/channels/{CHANNEL_ID}/messages", 403, MISSING_PERMISSIONS)
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
    (answered,) = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")
    assert "84 million" in embed_of(answered.payload)["description"]
    assert "cannot reply in channel" in caplog.text and "unexpected error" not in caplog.text


async def test_rate_limits_are_waited_out(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_bot(engine, monkeypatch) as h:
        h.discord.refuse("POST", f"/channels/{CHANNEL_ID}/messages", 429, retry_after=0.05)
        h.discord.refuse("POST", "/callback", 429, retry_after=0.05)
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
    assert sum(line.startswith("discord refused") for line in h.timeline) == 2
    (answered,) = h.discord.requests("POST", f"/channels/{CHANNEL_ID}/messages")
    assert "84 million" in embed_of(answered.payload)["description"]
    (edit,) = h.discord.requests("PATCH", "/messages/@original")
    assert "84 million" in embed_of(edit.payload)["description"]


@pytest.mark.parametrize(
    ("status", "code", "said"),
    [
        (403, MISSING_PERMISSIONS, THREAD_FAILED),
        (404, 10008, ANSWER_GONE),
        (400, 50035, "Discord didn't let me start the thread just now (HTTP 400, code 50035)"),
    ],
    ids=["forbidden", "answer-deleted", "bad-request"],
)
async def test_a_thread_discord_refuses_is_explained(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, status: int, code: int, said: str
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        h.discord.refuse("POST", "/threads", status, code)
        click = h.discord.click(answer, button(answer, "thread"))
        await h.discord.run(click)
        shown = h.discord.original(click)
    assert shown["content"].startswith(said) and shown["flags"] & EPHEMERAL
    assert not h.discord.requests("POST", "/threads")


async def test_a_thread_whose_intro_is_refused_is_still_reported_started(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        ask = h.discord.slash("ask", question=BRIDGE)
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        h.discord.refuse("POST", f"/channels/{answer['id']}/messages", 403, MISSING_PERMISSIONS)
        click = h.discord.click(answer, button(answer, "thread"))
        await h.discord.run(click)
        shown = h.discord.original(click)
    assert shown["content"].startswith(f"Thread started: <#{answer['id']}>")


async def test_reindex_stops_editing_once_the_interaction_token_expired(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "newsdesk.bot")
    corpus = engine.settings.data_dir.parent / "corpus"
    async with running_bot(engine, monkeypatch, articles_dirs=[corpus]) as h:
        h.discord.refuse("PATCH", "/messages/@original", 401, INVALID_WEBHOOK_TOKEN, times=99)
        await h.discord.run(h.discord.slash("reindex", permissions=MANAGE_GUILD))
        assert h.app.state.runtime.jobs.wait(60)
    refused = [line for line in h.timeline if line.startswith("discord refused PATCH")]
    assert len(refused) == 1  # no more edits, no apology (it would be refused too)
    assert "the interaction expired" in caplog.text and "/reindex failed" not in caplog.text


async def test_reindex_follows_for_15_minutes_from_the_command_not_from_its_start(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = engine.settings.data_dir.parent / "corpus"
    async with running_bot(engine, monkeypatch, articles_dirs=[corpus]) as h:
        command = h.discord.slash("reindex", permissions=MANAGE_GUILD)
        old = discord.utils.utcnow() - timedelta(minutes=14, seconds=30)
        command["id"] = str(discord.utils.time_snowflake(old))  # delivered 14.5 minutes ago
        await h.discord.run(command)
        assert h.app.state.runtime.jobs.wait(60)
    (note,) = (s.payload for s in h.discord.requests("PATCH", "/messages/@original"))
    assert note["content"].startswith("The reindex is still running (")  # no progress edits


# ----------------------------------------------------------------- where the bot answers


async def test_server_managers_choose_the_channels_where_mentions_are_answered(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        add = {"group": "channels", "subcommand": "add", "channel": OTHER_CHANNEL_ID}
        await h.discord.run(h.discord.slash("newsdesk", **add))  # type: ignore[arg-type]
        await h.discord.run(h.discord.slash("newsdesk", permissions=MANAGE_GUILD, **add))  # type: ignore[arg-type]
        added = h.discord.requests("PATCH", "/messages/@original")[-1].payload["content"]
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")  # not a chosen channel: ignored
        ask = h.discord.slash("ask", question=BRIDGE)  # /ask works anywhere
        await h.discord.run(ask)
        answer = h.discord.original(ask)
        await h.discord.says("When is it expected to open?", reply_to=answer)  # so do Replies
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}", channel_id=OTHER_CHANNEL_ID)
        stored = h.app.state.runtime.discord_guilds.get(str(GUILD_ID))
    refused = callbacks(h)[0]
    assert refused["data"]["flags"] == EPHEMERAL and "Manage Server" in refused["data"]["content"]
    assert stored.channels == [str(OTHER_CHANNEL_ID)]
    assert added.startswith(f"Mentions are answered in <#{OTHER_CHANNEL_ID}>.")
    assert h.asked == [BRIDGE, "When is it expected to open?", BRIDGE]
    assert h.timeline.count("api PUT /discord/guilds/" + str(GUILD_ID)) == 1


async def test_a_forum_post_gets_an_answer_and_its_follow_ups_the_posts_context(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening = "When is it expected to open?"
    async with running_bot(engine, monkeypatch) as before:
        forum = before.discord.slash(
            "newsdesk", subcommand="forum", channel=FORUM_ID, permissions=MANAGE_GUILD
        )
        await before.discord.run(forum)
        post = await before.discord.forum_post("Harbour bridge", "How much will it cost?")
        await before.discord.says(opening, channel_id=post)
        messages = dict(before.discord.messages)
    async with running_bot(engine, monkeypatch, app=before.app) as h:  # after a restart
        h.discord.messages.update(messages)
        h.discord.threads[post] = before.discord.threads[post]
        h.discord.gateway("THREAD_CREATE", before.discord.threads[post])
        await h.discord.says("Who is the transport chief?", channel_id=post)
        await h.discord.forum_post("Cats", "")  # a post with only a title is a question too
    assert before.asked == ["Harbour bridge How much will it cost?", opening]
    (answer, follow_up) = (
        s.payload for s in before.discord.requests("POST", f"/channels/{post}/messages")
    )
    assert str(answer["message_reference"]["message_id"]) == str(post)  # one answer, in its thread
    assert "84 million" in embed_of(answer)["description"]
    assert "open in 2027" in embed_of(follow_up)["description"]
    conversation = conversation_of(answer)
    assert before.conversations == [None, conversation]
    assert h.asked == ["Who is the transport chief?", "Cats"]
    assert h.conversations == [conversation, None]


async def test_forum_posts_made_while_the_bot_was_away_are_answered_when_it_connects(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    opening = "When is the bridge expected to open?"
    async with running_bot(engine, monkeypatch) as before:
        forum = before.discord.slash(
            "newsdesk", subcommand="forum", channel=FORUM_ID, permissions=MANAGE_GUILD
        )
        await before.discord.run(forum)
        answered = await before.discord.forum_post("Harbour bridge", "How much will it cost?")
        messages, threads = dict(before.discord.messages), dict(before.discord.threads)
    async with running_bot(engine, monkeypatch, app=before.app) as h:  # after a restart
        h.discord.messages.update(messages)
        h.discord.threads.update(threads)
        missed = await h.discord.forum_post("Bridge", opening, online=False)
        old = await h.discord.forum_post("Old", opening, online=False, age=timedelta(days=2))
        await h.discord.connect()
        await h.discord.connect()  # connected again (a new session): nothing answered twice
    assert h.asked == [f"Bridge {opening}"]
    (reply,) = (s.payload for s in h.discord.requests("POST", f"/channels/{missed}/messages"))
    assert str(reply["message_reference"]["message_id"]) == str(missed)
    assert "open in 2027" in embed_of(reply)["description"]
    for elsewhere in (answered, old):
        assert not h.discord.requests("POST", f"/channels/{elsewhere}/messages")


async def test_only_the_operators_servers_are_served(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = GUILD_ID + 100
    async with running_bot(
        engine, monkeypatch, bot_options={"allowed_guilds": frozenset({elsewhere})}
    ) as h:
        await h.discord.says(f"<@{BOT_ID}> {BRIDGE}")
        await h.discord.run(h.discord.slash("ask", question=BRIDGE))
        h.discord.gateway(
            "GUILD_CREATE",
            {
                "id": str(GUILD_ID + 200),
                "name": "Strangers",
                "owner_id": str(BOB),
                "roles": [],
                "channels": [],
                "members": [],
                "member_count": 2,
                "features": [],
                "emojis": [],
                "stickers": [],
                "threads": [],
            },
        )
        await h.discord.settle()
    assert not h.asked
    (refused,) = callbacks(h)
    assert refused["data"]["content"] == NOT_SERVED and refused["data"]["flags"] == EPHEMERAL
    assert [s.path for s in h.discord.requests("DELETE")] == [f"/users/@me/guilds/{GUILD_ID + 200}"]


@pytest.mark.parametrize("enabled", [True, False], ids=["dms-on", "dms-off"])
async def test_direct_messages_are_answered_when_enabled(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    async with running_bot(engine, monkeypatch, bot_options={"dms": enabled}) as h:
        await h.discord.direct(BRIDGE, author=BOB)
    assert h.asked == ([BRIDGE] if enabled else [])
    if enabled:
        (reply,) = h.discord.requests("POST", "/messages")
        assert "84 million" in embed_of(reply.payload)["description"]
        assert not [b for b in buttons(reply.payload) if ":thread:" in b]


async def test_a_channel_where_every_message_is_a_question(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(engine, monkeypatch) as h:
        every = h.discord.slash(
            "newsdesk",
            group="channels",
            subcommand="add",
            channel=OTHER_CHANNEL_ID,
            permissions=MANAGE_GUILD,
            every_message=True,
        )
        await h.discord.run(every)
        await h.discord.says(BRIDGE, channel_id=OTHER_CHANNEL_ID)  # no mention needed there
        await h.discord.says(BRIDGE)  # elsewhere it is
        shown = h.discord.original(every)["content"]
        remove = h.discord.slash(
            "newsdesk",
            group="channels",
            subcommand="remove",
            channel=OTHER_CHANNEL_ID,
            permissions=MANAGE_GUILD,
        )
        await h.discord.run(remove)
        await h.discord.says(BRIDGE, channel_id=OTHER_CHANNEL_ID)
        stored = h.app.state.runtime.discord_guilds.get(str(GUILD_ID))
    assert h.asked == [BRIDGE]
    assert f"Every message is a question in <#{OTHER_CHANNEL_ID}>." in shown
    assert stored.channels == stored.every == []
