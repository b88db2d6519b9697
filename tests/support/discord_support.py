"""Discord's side of the bot tests, in-process.

Gateway events (MESSAGE_CREATE, INTERACTION_CREATE, THREAD_CREATE) are raw payloads fed to
discord.py's own `ConnectionState` parsers, so discord.py builds the messages and interactions
and dispatches them (events, the command tree, dynamic buttons) exactly as it would live. Only
the HTTP layer that would talk to Discord is replaced: `HTTPClient.request` and the webhook
adapter that interaction responses use. Every request is recorded and answered as Discord
would, enough for what the bot does; anything else fails the test. `FakeDiscord.refuse` makes
Discord refuse requests as it does (403, 404, 400, 401 for an expired interaction token, 429
with retry_after, 5xx), raising what discord.py raises.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import discord
import httpx
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter

from newsdesk.bot.client import NewsdeskBot

BOT_ID = 900_000_000_000_000_001
GUILD_ID = 900_000_000_000_000_002
CHANNEL_ID = 900_000_000_000_000_003
ALICE = 900_000_000_000_000_011
BOB = 900_000_000_000_000_012
NOW = "2026-01-05T10:00:00.000000+00:00"
BOT_ROLE = 900_000_000_000_000_004
OTHER_CHANNEL_ID = 900_000_000_000_000_005
FORUM_ID = 900_000_000_000_000_006
DM_CHANNEL_ID = 900_000_000_000_000_007
INVITED = 309237730304
"""The permissions of the README's invite URL (the bot's managed role has them)."""
MANAGE_GUILD = discord.Permissions(manage_guild=True, send_messages=True).value
MEMBER = discord.Permissions(send_messages=True).value
NAMES = {BOT_ID: "Newsdesk", ALICE: "alice", BOB: "bob"}
WAIT_SECONDS = 30.0
"""Upper bound for the bot to finish handling an event (a deadline, not a speed check)."""
DISPATCH_TASKS = ("discord.py: ", "CommandTree-invoker", "discord-ui-")


def user(user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": NAMES[user_id],
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": user_id == BOT_ID,
    }


def member(user_id: int, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user": user(user_id),
        "roles": [str(BOT_ROLE)] if user_id == BOT_ID else [],
        "joined_at": NOW,
        "deaf": False,
        "mute": False,
        "flags": 0,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def text_channel(channel_id: int = CHANNEL_ID, kind: int = 0) -> dict[str, Any]:
    """A text channel (`kind` 15: a forum) of the guild."""
    return {
        "id": str(channel_id),
        "type": kind,
        "guild_id": str(GUILD_ID),
        "name": {CHANNEL_ID: "news", OTHER_CHANNEL_ID: "chat", FORUM_ID: "ask-the-news"}.get(
            channel_id, "news"
        ),
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
    }


@dataclass
class Sent:
    """One HTTP request discord.py made to Discord."""

    method: str
    path: str
    payload: Any
    params: dict[str, Any] | None

    @property
    def message(self) -> dict[str, Any] | None:
        """The message body sent (for an interaction callback: its `data`), if any."""
        body = self.payload
        if isinstance(body, dict) and "type" in body and "/callback" in self.path:
            body = body.get("data")
        if isinstance(body, dict) and ({"content", "embeds", "components"} & body.keys()):
            return body
        return None


ERRORS: dict[int, tuple[type[discord.HTTPException], str]] = {
    400: (discord.HTTPException, "Bad Request"),
    401: (discord.HTTPException, "Unauthorized"),
    403: (discord.Forbidden, "Forbidden"),
    404: (discord.NotFound, "Not Found"),
    429: (discord.HTTPException, "Too Many Requests"),
    500: (discord.DiscordServerError, "Internal Server Error"),
}
"""What discord.py raises for a status Discord answers with."""
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
"""Discord's codes for an interaction whose token expired (15 minutes)."""
MISSING_PERMISSIONS = 50013


@dataclass
class Refusal:
    """Discord refuses the next `times` requests whose method is `method` and whose path
    contains `path`, with `status` (and Discord's JSON error `code`)."""

    method: str
    path: str
    status: int
    code: int = 0
    retry_after: float | None = None
    times: int = 1

    def error(self) -> discord.HTTPException:
        kind, reason = ERRORS.get(self.status, (discord.HTTPException, "Error"))
        body: dict[str, Any] = {"code": self.code, "message": reason}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return kind(SimpleNamespace(status=self.status, reason=reason), body)


class FakeDiscord:
    """Plays Discord for one `NewsdeskBot`: a guild with a text channel, alice and bob."""

    def __init__(self, bot: NewsdeskBot, timeline: list[str]) -> None:
        self.bot = bot
        self.state = bot._connection
        self.timeline = timeline
        self.sent: list[Sent] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.originals: dict[str, int] = {}
        self.threads: dict[int, dict[str, Any]] = {}
        self.refusals: list[Refusal] = []
        self.ids = itertools.count(discord.utils.time_snowflake(discord.utils.utcnow()))
        """Snowflakes from now: an interaction's age (its token lasts 15 minutes) is its id's."""
        self.state.user = discord.ClientUser(state=self.state, data=user(BOT_ID))  # type: ignore[arg-type]
        self.state.application_id = BOT_ID
        self.state._add_guild_from_data(
            {  # type: ignore[arg-type]
                "id": str(GUILD_ID),
                "name": "Newsroom",
                "owner_id": str(ALICE),
                "roles": [
                    {"id": str(GUILD_ID), "name": "@everyone", "permissions": "0"},
                    {
                        "id": str(BOT_ROLE),
                        "name": "Newsdesk",
                        "permissions": str(INVITED),
                        "managed": True,
                        "tags": {"bot_id": str(BOT_ID)},
                    },
                ],
                "channels": [
                    text_channel(),
                    text_channel(OTHER_CHANNEL_ID),
                    {**text_channel(FORUM_ID, 15), "available_tags": []},
                ],
                "members": [member(BOT_ID)],
                "member_count": 3,
                "features": [],
                "emojis": [],
                "stickers": [],
                "threads": [],
            }
        )
        bot.http.request = self.http_request  # type: ignore[method-assign]

    # ----------------------------------------------------------------- gateway events

    async def settle(self) -> None:
        """Wait until discord.py's dispatch tasks (events, commands, buttons) are done."""
        current = asyncio.current_task()
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                busy = [
                    t
                    for t in asyncio.all_tasks()
                    if t is not current and not t.done() and t.get_name().startswith(DISPATCH_TASKS)
                ]
                if not busy:
                    return
                await asyncio.wait(busy)

    def gateway(self, event: str, data: dict[str, Any]) -> None:
        """Feed one gateway event to discord.py's parser for it."""
        self.state.parsers[event](data)

    async def says(
        self,
        content: str,
        *,
        author: int = ALICE,
        channel_id: int = CHANNEL_ID,
        kind: discord.MessageType = discord.MessageType.default,
        reply_to: dict[str, Any] | None = None,
        roles: list[int] = (),  # type: ignore[assignment]
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Someone posts a message (or, by `kind`, Discord a system message on their behalf;
        with `reply_to`, Discord's Reply to that message; `roles`: role ids it mentions);
        returns its payload once the bot has handled it."""
        data = self.message(content, author, channel_id, message_id or next(self.ids), kind, roles)
        if reply_to is not None:
            data["type"] = discord.MessageType.reply.value
            data["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                "guild_id": str(GUILD_ID),
            }
            data["referenced_message"] = reply_to
        self.messages[int(data["id"])] = data
        self.gateway("MESSAGE_CREATE", data)
        await self.settle()
        return data

    def message(
        self,
        content: str,
        author: int,
        channel_id: int,
        message_id: int,
        kind: discord.MessageType = discord.MessageType.default,
        roles: list[int] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """The MESSAGE_CREATE payload of a message someone posts in the guild."""
        return {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "author": user(author),
            "member": {k: v for k, v in member(author).items() if k != "user"},
            "content": content,
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [user(int(i)) for i in re.findall(r"<@!?(\d+)>", content)],
            "mention_roles": [str(r) for r in roles],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": kind.value,
            "flags": 0,
            "components": [],
        }

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        author: int,
        permissions: int,
        channel_id: int,
        app_permissions: int = discord.Permissions.all().value,
    ) -> dict[str, Any]:
        ident = next(self.ids)
        return {
            "id": str(ident),
            "application_id": str(BOT_ID),
            "type": kind,
            "token": f"token-{ident}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id),
            "channel": text_channel(channel_id),
            "member": member(author, permissions),
            "data": data,
            "app_permissions": str(app_permissions),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 8_388_608,
        }

    def slash(
        self,
        name: str,
        *,
        author: int = ALICE,
        permissions: int = MEMBER,
        channel_id: int = CHANNEL_ID,
        subcommand: str | None = None,
        group: str | None = None,
        app_permissions: int = discord.Permissions.all().value,
        channel: int | None = None,
        **options: str | bool,
    ) -> dict[str, Any]:
        """The INTERACTION_CREATE payload of a slash command (not yet dispatched); the bot has
        `app_permissions` in the channel; `channel`: the channel option's value."""
        given: list[dict[str, Any]] = [
            {"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v}
            for k, v in options.items()
        ]
        resolved: dict[str, Any] = {}
        if channel is not None:
            given.append({"name": "channel", "type": 7, "value": str(channel)})
            picked = text_channel(channel, 15 if channel == FORUM_ID else 0)
            resolved = {"channels": {str(channel): {**picked, "permissions": str(MEMBER)}}}
        if subcommand:
            given = [{"name": subcommand, "type": 1, "options": given}]
        if group:
            given = [{"name": group, "type": 2, "options": given}]
        data: dict[str, Any] = {"id": str(next(self.ids)), "name": name, "type": 1}
        data["options"] = given
        if resolved:
            data["resolved"] = resolved
        return self.interaction(
            2,
            data,
            author=author,
            permissions=permissions,
            channel_id=channel_id,
            app_permissions=app_permissions,
        )

    def autocomplete(self, name: str, focused: str, **options: str) -> dict[str, Any]:
        """The INTERACTION_CREATE payload of typing in option `focused` of a slash command."""
        given = [
            {"name": k, "type": 3, "value": v, **({"focused": True} if k == focused else {})}
            for k, v in options.items()
        ]
        data = {"id": str(next(self.ids)), "name": name, "type": 1, "options": given}
        return self.interaction(4, data, author=ALICE, permissions=MEMBER, channel_id=CHANNEL_ID)

    def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        author: int = ALICE,
        app_permissions: int = discord.Permissions.all().value,
    ) -> dict[str, Any]:
        """The INTERACTION_CREATE payload of a click on a button of `message`."""
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self.interaction(
            3,
            data,
            author=author,
            permissions=MEMBER,
            channel_id=int(message["channel_id"]),
            app_permissions=app_permissions,
        )
        payload["message"] = message
        return payload

    async def run(self, payload: dict[str, Any]) -> None:
        """Dispatch an interaction and wait for the bot to handle it."""
        self.gateway("INTERACTION_CREATE", payload)
        await self.settle()

    # ----------------------------------------------------------------- what was sent

    def requests(self, method: str | None = None, path: str = "") -> list[Sent]:
        return [s for s in self.sent if (method is None or s.method == method) and path in s.path]

    def bodies(self) -> list[dict[str, Any]]:
        """Every message body the bot sent or edited."""
        return [m for s in self.sent if (m := s.message) is not None]

    def original(self, interaction: dict[str, Any]) -> dict[str, Any]:
        """The message an interaction's response shows now."""
        return self.messages[self.originals[interaction["token"]]]

    # ----------------------------------------------------------------- refusals

    def refuse(
        self,
        method: str,
        path: str,
        status: int,
        code: int = 0,
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Refuse the next `times` matching requests (see Refusal). A 429 is what discord.py
        handles itself: it waits `retry_after` and tries again (the bot sees nothing), unless
        the wait exceeds the client's `max_ratelimit_timeout`: then it raises RateLimited."""
        self.refusals.append(Refusal(method, path, status, code, retry_after, times))

    async def refused(self, method: str, path: str, *, webhook: bool = False) -> None:
        """Raise (or, for a 429, wait) as discord.py would when Discord refuses this request."""
        for refusal in self.refusals:
            if refusal.times > 0 and refusal.method == method and refusal.path in path:
                refusal.times -= 1
                self.timeline.append(f"discord refused {method} {path} {refusal.status}")
                if refusal.status != 429:
                    raise refusal.error()
                wait = refusal.retry_after or 0.0
                limit = None if webhook else self.bot.http.max_ratelimit_timeout
                if limit is not None and wait > limit:
                    raise discord.RateLimited(wait)
                await asyncio.sleep(wait)  # discord.py sleeps, then sends it again
                return

    # ----------------------------------------------------------------- Discord's HTTP side

    def record(self, method: str, path: str, payload: Any, params: dict[str, Any] | None) -> None:
        self.sent.append(Sent(method, path, payload, params))
        kind = f" type={payload['type']}" if "/callback" in path else ""
        self.timeline.append(f"discord {method} {path}{kind}")

    def new_message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        reference = body.get("message_reference")
        data = {
            "id": str(next(self.ids)),
            "channel_id": str(channel_id),
            "author": user(BOT_ID),
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "pinned": False,
            "type": 19 if reference else 0,
            "flags": body.get("flags") or 0,
        }
        if reference:
            data["message_reference"] = reference
        self.messages[int(data["id"])] = data
        return data

    def edit(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        data = self.messages[message_id]
        for key in ("content", "embeds", "components"):
            if key in body:
                data[key] = body[key] or ([] if key != "content" else "")
        data["flags"] = data.get("flags", 0) & ~128  # no longer "thinking"
        return data

    async def http_request(self, route: Route, **kwargs: Any) -> Any:
        path = route.url.removeprefix(Route.BASE)
        body = kwargs.get("json")
        await self.refused(route.method, path)
        self.record(route.method, path, body, kwargs.get("params"))
        parts = path.strip("/").split("/")
        if route.path == "/channels/{channel_id}/messages" and route.method == "POST":
            return self.new_message(int(parts[1]), body)
        if route.path == "/channels/{channel_id}/messages" and route.method == "GET":
            return self.history(int(parts[1]), kwargs.get("params") or {})
        if route.path == "/channels/{channel_id}/messages/{message_id}" and route.method == "GET":
            found = self.messages.get(int(parts[3]))
            if found is None or int(found["channel_id"]) != int(parts[1]):
                raise discord.NotFound(
                    SimpleNamespace(status=404, reason="Not Found"),
                    {"code": 10008, "message": "Unknown Message"},
                )
            return found
        if route.path == "/users/@me/guilds/{guild_id}" and route.method == "DELETE":
            return None
        if route.path == "/channels/{channel_id}/typing":
            return None
        if (
            route.path == "/channels/{channel_id}/messages/{message_id}"
            and route.method == "DELETE"
        ):
            return None
        if route.path == "/channels/{channel_id}/messages/{message_id}/threads":
            return self.start_thread(int(parts[1]), int(parts[3]), body)
        if route.path == "/channels/{channel_id}" and route.method == "GET":
            return self.threads[int(parts[1])]
        if route.path.endswith("/commands") and route.method == "PUT":
            return [
                {**c, "id": str(next(self.ids)), "application_id": str(BOT_ID), "version": "1"}
                for c in body
            ]
        raise AssertionError(f"unexpected request to Discord: {route.method} {path}")

    def history(self, channel_id: int, params: dict[str, Any]) -> list[dict[str, Any]]:
        """GET /channels/{id}/messages: newest first; before a message id, or the first ones
        after one."""
        limit = int(params.get("limit", 50))
        inside = sorted(i for i, m in self.messages.items() if int(m["channel_id"]) == channel_id)
        if params.get("after") is not None:
            after = int(params["after"])
            ids = [i for i in inside if i > after][:limit]
        else:
            before = int(params.get("before") or 2**63)
            ids = [i for i in inside if i < before][-limit:]
        return [self.messages[i] for i in reversed(ids)]

    def start_thread(
        self, channel_id: int, message_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A thread on a message; Discord then sends THREAD_CREATE over the gateway. A message
        has one thread at most, archived or not."""
        if message_id in self.threads:
            raise discord.HTTPException(
                SimpleNamespace(status=400, reason="Bad Request"),
                {"code": 160004, "message": "A thread has already been created for this message"},
            )
        thread = {
            "id": str(message_id),
            "guild_id": str(GUILD_ID),
            "parent_id": str(channel_id),
            "owner_id": str(BOT_ID),
            "type": 11,
            "name": body["name"],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": NOW,
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
        }
        self.threads[message_id] = thread
        asyncio.get_running_loop().call_soon(
            self.gateway, "THREAD_CREATE", {**thread, "newly_created": True}
        )
        return thread

    def user_thread(self, message_id: int | None, owner: int) -> int:
        """Someone opens a thread with Discord's Create Thread: on message `message_id` (the
        thread then has its id), or on nothing (a new id); returns the thread's id."""
        thread_id = message_id if message_id is not None else next(self.ids)
        thread = {
            "id": str(thread_id),
            "guild_id": str(GUILD_ID),
            "parent_id": str(CHANNEL_ID),
            "owner_id": str(owner),
            "type": 11,
            "name": "Talking about it",
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": NOW,
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
        }
        self.threads[thread_id] = thread
        self.gateway("THREAD_CREATE", {**thread, "newly_created": True})
        return thread_id

    async def direct(self, content: str, author: int = BOB) -> dict[str, Any]:
        """Someone sends the bot a direct message."""
        data = {
            "id": str(next(self.ids)),
            "channel_id": str(DM_CHANNEL_ID),
            "author": user(author),
            "content": content,
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        self.messages[int(data["id"])] = data
        self.gateway("MESSAGE_CREATE", data)
        await self.settle()
        return data

    async def forum_post(
        self,
        title: str,
        content: str,
        author: int = ALICE,
        *,
        online: bool = True,
        age: timedelta | None = None,
    ) -> int:
        """Someone posts in the forum: Discord creates the post's thread (THREAD_CREATE), then
        its first message, which has the thread's id; returns the thread's id. With `online`
        False the bot is away: the post is only on Discord's side (`age`: posted that long ago)."""
        thread_id = next(self.ids)
        if age is not None:
            thread_id = discord.utils.time_snowflake(discord.utils.utcnow() - age)
        thread = {
            "id": str(thread_id),
            "guild_id": str(GUILD_ID),
            "parent_id": str(FORUM_ID),
            "owner_id": str(author),
            "type": 11,
            "name": title,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 4320,
                "archive_timestamp": NOW,
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
        }
        self.threads[thread_id] = thread
        if not online:
            self.messages[thread_id] = self.message(content, author, thread_id, thread_id)
            return thread_id
        self.gateway("THREAD_CREATE", {**thread, "newly_created": True})
        await self.says(content, author=author, channel_id=thread_id, message_id=thread_id)
        return thread_id

    async def connect(self) -> None:
        """The bot connects (READY): the guild's active threads are known (as GUILD_CREATE
        lists them), then on_ready runs."""
        for thread in self.threads.values():
            self.gateway("THREAD_CREATE", thread)
        self.bot.dispatch("ready")
        await self.settle()

    def deny_bot(self, permissions: discord.Permissions, channel_id: int = CHANNEL_ID) -> None:
        """A server admin takes `permissions` from the bot in a channel (CHANNEL_UPDATE)."""
        overwrite = {"id": str(BOT_ROLE), "type": 0, "allow": "0", "deny": str(permissions.value)}
        self.gateway(
            "CHANNEL_UPDATE", {**text_channel(channel_id), "permission_overwrites": [overwrite]}
        )

    def archive(self, thread_id: int) -> None:
        """Discord archives an idle thread (THREAD_UPDATE): discord.py forgets it."""
        self.threads[thread_id]["thread_metadata"]["archived"] = True
        self.gateway("THREAD_UPDATE", self.threads[thread_id])

    async def webhook_request(self, route: Route, session: Any = None, **kwargs: Any) -> Any:
        """Interaction responses and their edits (discord.py's webhook adapter)."""
        path = route.url.removeprefix(Route.BASE)
        body = kwargs.get("payload")
        if body is None and kwargs.get("multipart"):
            body = json.loads(kwargs["multipart"][0]["value"])
        await self.refused(route.method, path, webhook=True)
        self.record(route.method, path, body, kwargs.get("params"))
        token = route.webhook_token or ""
        if route.path.endswith("/callback"):
            return self.callback(int(route.webhook_id or 0), token, body)
        if route.path.endswith("/messages/@original") and route.method == "PATCH":
            return self.edit(self.originals[token], body)
        if route.path.endswith("/messages/@original") and route.method == "GET":
            return self.messages[self.originals[token]]
        if route.path == "/webhooks/{webhook_id}/{webhook_token}" and route.method == "POST":
            return self.new_message(CHANNEL_ID, body)
        raise AssertionError(f"unexpected request to Discord: {route.method} {path}")

    def callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /interactions/{id}/{token}/callback: the first response to an interaction."""
        kind, data = body["type"], body.get("data") or {}
        response: dict[str, Any] = {"interaction": {"id": str(interaction_id), "type": 2}}
        if kind in (4, 5):  # a message, or "thinking…" that the original response edits later
            message = self.new_message(CHANNEL_ID, data)
            message["flags"] |= 128 if kind == 5 else 0
            self.originals[token] = int(message["id"])
            response["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=bool(message["flags"] & 64),
            )
            response["resource"] = {"type": kind, "message": message}
        return response


def install_webhook_adapter(monkeypatch: Any, fake: FakeDiscord) -> None:
    """Route discord.py's interaction responses (its webhook adapter) to `fake`."""
    monkeypatch.setattr(AsyncWebhookAdapter, "request", fake_webhook(fake))


def fake_webhook(fake: FakeDiscord) -> Callable[..., Any]:
    async def request(self: AsyncWebhookAdapter, route: Route, session: Any, **kwargs: Any) -> Any:
        return await fake.webhook_request(route, session, **kwargs)

    return request


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps the API's transport: notes each call in the timeline; can hold calls at a gate."""

    def __init__(self, inner: httpx.AsyncBaseTransport, timeline: list[str]) -> None:
        self.inner = inner
        self.timeline = timeline
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeline.append(f"api {request.method} {request.url.path}")
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return await self.inner.handle_async_request(request)
