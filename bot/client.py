"""The Discord client: slash commands, mentions and follow-ups in threads, answered via the API."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from bot import render
from bot.api_client import MAX_QUESTION_CHARS, ApiClient, BackendError
from bot.commands import COMMANDS
from bot.memory import AnswerCache, Cooldowns
from bot.questions import strip_mentions, with_context
from bot.respond import NO_MENTIONS, say
from bot.views import AnswerButton, answer_view
from index.answer.models import Answer

log = logging.getLogger("newsdesk.bot")

THREAD_HISTORY = 50
"""Messages of a thread read for a follow-up's earlier questions."""
HOW_TO_ASK = "Ask me a question in words, e.g. “@Newsdesk What did the council approve?”"
TOO_LONG = f"Please keep questions under {MAX_QUESTION_CHARS:,} characters."
PEOPLES_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)
"""The message types someone typed; every other type is Discord's (system messages)."""
APOLOGY = "Sorry, something went wrong while answering. Please try again later."


class SyncRefused(discord.DiscordException):
    """Discord refused the slash commands (`error`) for guild `guild_id` (None: globally)."""

    def __init__(self, guild_id: int | None, error: discord.HTTPException) -> None:
        super().__init__(str(error))
        self.guild_id = guild_id
        self.error = error


def intents() -> discord.Intents:
    """Only what the bot uses: guilds (channels and threads), guild messages (mentions and
    follow-ups) and their content (privileged: "Message Content Intent" in the portal)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    return wanted


@dataclass
class Reply:
    """A message to send: an answer (embed and buttons) or a short apology (content)."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    answer: Answer | None = None


class NewsdeskBot(discord.Client):
    """Answers questions from Discord with the Newsdesk API. Resources come in; `setup_hook`
    starts them and syncs the commands; `close` releases them.

    `synced_file` keeps a hash of the commands last synced: they are synced again only when
    that changes (or `force_sync`); without it, at every start."""

    def __init__(
        self,
        api: ApiClient,
        *,
        guild_id: int | None = None,
        cooldown_seconds: float = 10.0,
        poll_seconds: float = 2.0,
        synced_file: Path | None = None,
        force_sync: bool = False,
    ) -> None:
        super().__init__(intents=intents(), allowed_mentions=NO_MENTIONS)
        self.api = api
        self.guild_id = guild_id
        self.synced_file = synced_file
        self.force_sync = force_sync
        self.poll_seconds = poll_seconds
        self.cooldowns = Cooldowns(cooldown_seconds)
        self.answers = AnswerCache()
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error  # type: ignore[method-assign]
        for command in COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        """After login: start the API client, route button clicks, sync the slash commands
        (to one guild at once when NEWSDESK_DISCORD_GUILD_ID is set, else globally) unless
        unchanged since the last sync; a refusal raises SyncRefused."""
        await self.api.start()
        self.add_dynamic_items(AnswerButton)
        guild = discord.Object(self.guild_id) if self.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        where = f"to guild {self.guild_id}" if guild else "globally"
        digest = self.commands_digest(guild)
        if not self.force_sync and self.last_synced() == digest:
            log.info("slash commands unchanged since their last sync %s: not synced", where)
            return
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.DiscordServerError:
            raise
        except discord.HTTPException as exc:
            raise SyncRefused(self.guild_id, exc) from exc
        log.info("synced %d slash commands %s", len(synced), where)
        self.remember_synced(digest)

    def commands_digest(self, guild: discord.Object | None) -> str:
        """A hash of what a sync would upload: application, guild and the commands."""
        commands = [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]
        tree = {"application": self.application_id, "guild": self.guild_id, "commands": commands}
        return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()

    def last_synced(self) -> str | None:
        """The digest of the commands last synced, if kept."""
        if self.synced_file is None:
            return None
        try:
            return self.synced_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def remember_synced(self, digest: str) -> None:
        """Keep `digest` for the next start (a failure only means syncing again then)."""
        if self.synced_file is None:
            return
        try:
            self.synced_file.parent.mkdir(parents=True, exist_ok=True)
            self.synced_file.write_text(digest + "\n", encoding="utf-8")
        except OSError as exc:
            log.warning("cannot keep the synced commands' hash in %s: %s", self.synced_file, exc)

    async def close(self) -> None:
        await super().close()
        await self.api.aclose()

    # ----------------------------------------------------------------- answering

    async def answer(
        self, question: str, *, display: str, threadable: bool, user: int | None = None
    ) -> Reply:
        """Ask the API (mentions left out) on behalf of Discord user `user`; the answer as an
        embed with buttons, or an apology or a hint as text."""
        question = strip_mentions(question)
        if not question:
            return Reply(content=render.notice(HOW_TO_ASK))
        if len(question) > MAX_QUESTION_CHARS:
            return Reply(content=render.notice(TOO_LONG))
        try:
            answer = await self.api.ask(question, user=user)
        except BackendError as exc:
            return Reply(content=render.notice(str(exc)))
        return Reply(
            embed=render.answer_embed(answer, display),
            view=answer_view(answer, threadable=threadable),
            answer=answer,
        )

    def remember(self, message: discord.Message, question: str, reply: Reply) -> None:
        """Keep an answer for its buttons and its thread's follow-ups."""
        if reply.answer is not None:
            self.answers.remember(message.id, question, reply.answer)

    def cooldown_text(self, wait: float) -> str:
        return f"You're asking quickly: please wait {max(1, round(wait))} s before asking again."

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Any unexpected failure of a command: logged, and an apology instead of silence."""
        name = interaction.command.name if interaction.command else "?"
        log.error("/%s failed", name, exc_info=error)
        try:
            await say(interaction, APOLOGY)
        except discord.HTTPException:
            log.warning("could not apologise for a failed command")

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Any unexpected failure while handling an event: logged; a question gets an apology."""
        log.exception("unexpected error in %s", event_method)
        message = args[0] if event_method == "on_message" and args else None
        if isinstance(message, discord.Message):
            with contextlib.suppress(discord.HTTPException):
                await message.reply(APOLOGY, mention_author=False, allowed_mentions=NO_MENTIONS)

    # ----------------------------------------------------------------- messages

    async def on_message(self, message: discord.Message) -> None:
        """A mention of the bot is a question; in the bot's own threads, every message is.
        System messages (a thread renamed, a message pinned…) are not: only people's posts."""
        if message.author.bot or self.user is None or message.type not in PEOPLES_MESSAGES:
            return
        channel = message.channel
        ours = isinstance(channel, discord.Thread) and channel.owner_id == self.user.id
        thread = channel if ours else None
        if thread is None and self.user.id not in message.raw_mentions:
            return
        question = strip_mentions(message.content)
        if not question:
            await message.reply(HOW_TO_ASK, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        if (wait := self.cooldowns.hit(message.author.id)) is not None:
            await message.reply(
                render.notice(self.cooldown_text(wait)),
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
                delete_after=max(wait, 5.0),
            )
            return
        asked = question
        if isinstance(thread, discord.Thread):
            asked = with_context(question, await self.earlier_questions(thread, message))
        async with channel.typing():
            reply = await self.answer(
                asked,
                display=question,
                threadable=isinstance(channel, discord.TextChannel),
                user=message.author.id,
            )
        sent = await message.reply(
            content=reply.content,
            embed=reply.embed,
            view=reply.view,
            mention_author=False,
            allowed_mentions=NO_MENTIONS,
        )
        self.remember(sent, question, reply)

    async def earlier_questions(self, thread: discord.Thread, before: discord.Message) -> list[str]:
        """The thread's earlier questions, most recent first: people's messages in it, then
        the question of the answer it was started from."""
        earlier = [
            question
            async for m in thread.history(limit=THREAD_HISTORY, before=before)
            if not m.author.bot
            and m.type in PEOPLES_MESSAGES
            and (question := strip_mentions(m.content))
        ]
        started_from = self.answers.get(thread.id)
        earlier.append(started_from.question if started_from else thread.name)
        return earlier
