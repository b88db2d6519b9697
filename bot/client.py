"""The Discord client: slash commands, mentions and follow-ups in threads, answered via the API."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from newsdesk.bot import render
from newsdesk.bot.api_client import MAX_QUESTION_CHARS, ApiClient, BackendError, GuildSettings
from newsdesk.bot.commands import COMMANDS
from newsdesk.bot.host import Reply
from newsdesk.bot.memory import Claims, Cooldowns
from newsdesk.bot.questions import strip_mentions
from newsdesk.bot.respond import NO_MENTIONS, say
from newsdesk.bot.views import (
    AnswerButton,
    AnswerRef,
    answer_ref,
    answer_view,
    missing_thread_permissions,
)

log = logging.getLogger("newsdesk.bot")

SETTINGS_SECONDS = 60.0
"""How long a server's settings (GET /discord/guilds/{id}) are used before reading them again."""
FORUM_HISTORY = 20
"""A forum post's first messages, where the bot's answer to it is looked for."""
LATE_POSTS = 20
LATE_POSTS_AGE = timedelta(hours=24)
"""When the bot connects, the answer forum's unanswered posts (made while it was offline) are
answered: the LATE_POSTS most recent of those younger than LATE_POSTS_AGE."""
THREADS_KNOWN = 5000
"""Threads whose conversation (or none) the bot keeps at hand, to read no starter twice."""
HOW_TO_ASK = "Ask me a question in words, e.g. “@Newsdesk What did the council approve?”"
TOO_LONG = f"Please keep questions under {MAX_QUESTION_CHARS:,} characters."
FULL = (
    "This conversation has reached its {turns} questions, as many as Newsdesk keeps: start a "
    "new one by mentioning me in the channel or with /ask."
)
PEOPLES_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)
"""The message types someone typed; every other type is Discord's (system messages)."""
NOT_SERVED = "Newsdesk doesn't answer here: its operator hasn't enabled it."
APOLOGY = "Sorry, something went wrong while answering. Please try again later."


class SyncRefused(discord.DiscordException):
    """Discord refused the slash commands (`error`) for guild `guild_id` (None: globally)."""

    def __init__(self, guild_id: int | None, error: discord.HTTPException) -> None:
        super().__init__(str(error))
        self.guild_id = guild_id
        self.error = error


def intents(dms: bool = False) -> discord.Intents:
    """Only what the bot uses: guilds (channels and threads), guild messages (mentions and
    follow-ups) and their content (privileged: "Message Content Intent" in the portal); direct
    messages when it answers them."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.dm_messages = dms
    return wanted


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
        allowed_guilds: frozenset[int] = frozenset(),
        dms: bool = False,
    ) -> None:
        super().__init__(intents=intents(dms), allowed_mentions=NO_MENTIONS)
        self.allowed_guilds = allowed_guilds
        """Servers the bot may serve (NEWSDESK_DISCORD_GUILDS); empty: any."""
        self.dms = dms
        self.api = api
        self.guild_id = guild_id
        self.synced_file = synced_file
        self.force_sync = force_sync
        self.poll_seconds = poll_seconds
        self.cooldowns = Cooldowns(cooldown_seconds)
        self.raters = Claims()
        self.api_closed = False
        self.guild_settings: dict[int, tuple[float, GuildSettings]] = {}
        self.threads: dict[int, str | None] = {}
        """Thread id → the conversation of the answer it was started on (None: not on one)."""
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error  # type: ignore[method-assign]
        self.tree.interaction_check = self.serves_interaction  # type: ignore[method-assign]
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
        """Leave the gateway, then close the API client (once, however often called)."""
        await super().close()
        if not self.api_closed:
            self.api_closed = True
            await self.api.aclose()

    # ----------------------------------------------------------------- answering

    async def answer(
        self,
        question: str,
        *,
        threadable: bool,
        user: int | None = None,
        filters: dict[str, str] | None = None,
        conversation: str | None = None,
    ) -> Reply:
        """Ask the API (mentions left out) on behalf of Discord user `user`, in `conversation`
        (a follow-up) or a new one; the answer as an embed (titled with the question as given)
        with buttons that name its conversation and turn, or an apology or a hint as text."""
        shown, question = question, strip_mentions(question)
        if not question:
            return Reply(content=render.notice(HOW_TO_ASK))
        if len(question) > MAX_QUESTION_CHARS:
            return Reply(content=render.notice(TOO_LONG))
        if conversation is not None and (full := await self.full(conversation)):
            return Reply(content=render.notice(full))
        try:
            answer = await self.api.ask(
                question, user=user, filters=filters, conversation_id=conversation
            )
        except BackendError as exc:
            return Reply(content=render.notice(str(exc)))
        turn = (
            0
            if conversation is None
            else await self.turn_number(answer.conversation_id, answer.question)
        )
        return Reply(
            conversation=answer.conversation_id,
            embed=render.answer_embed(answer, shown),
            view=answer_view(
                AnswerRef(answer.conversation_id, turn),
                sources=answer.answered and bool(answer.citations),
                threadable=threadable,
            ),
        )

    async def full(self, conversation: str) -> str | None:
        """Why `conversation` takes no more turns: it has as many as the API keeps, and another
        would drop its first, so its answers' buttons would name the wrong turns. None when
        it has room, or cannot be read (asking then says what is wrong)."""
        try:
            known = await self.api.conversation(conversation)
        except BackendError:
            return None
        if known.max_turns is None or len(known.turns) < known.max_turns:
            return None
        return FULL.format(turns=known.max_turns)

    async def turn_number(self, conversation: str, question: str) -> int:
        """Which turn of `conversation` the answer to `question` just added is (its last turn
        with that question)."""
        try:
            turns = (await self.api.conversation(conversation)).turns
        except BackendError:
            return 0
        for number in range(len(turns) - 1, -1, -1):
            if turns[number].question == question:
                return number
        return max(len(turns) - 1, 0)

    async def settings_of(self, guild_id: int) -> GuildSettings:
        """Where the server's admins want answers (read again after SETTINGS_SECONDS); the
        defaults (everywhere, no forum) when the API cannot say."""
        now = time.monotonic()
        known = self.guild_settings.get(guild_id)
        if known is not None and now - known[0] < SETTINGS_SECONDS:
            return known[1]
        try:
            settings = await self.api.guild_settings(guild_id)
        except BackendError as exc:
            log.warning("cannot read guild %s's settings: %s", guild_id, exc)
            settings = known[1] if known is not None else GuildSettings()
        self.remember_settings(guild_id, settings)
        return settings

    def remember_settings(self, guild_id: int, settings: GuildSettings) -> None:
        self.guild_settings[guild_id] = (time.monotonic(), settings)

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

    # ----------------------------------------------------------------- where it serves

    def serves(self, guild_id: int | None) -> bool:
        """Whether the bot answers in this server (None: a direct message)."""
        if guild_id is None:
            return self.dms
        return not self.allowed_guilds or guild_id in self.allowed_guilds

    async def serves_interaction(self, interaction: discord.Interaction) -> bool:
        """Slash commands outside the allowed servers (or in DMs, unless enabled) are refused
        with a note."""
        if self.serves(interaction.guild_id):
            return True
        await say(interaction, NOT_SERVED)
        return False

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Leave a server that is not on the operator's allow-list."""
        if not self.serves(guild.id):
            log.warning("leaving guild %s (%s): not in NEWSDESK_DISCORD_GUILDS", guild.id, guild)
            with contextlib.suppress(discord.HTTPException):
                await guild.leave()

    # ----------------------------------------------------------------- messages

    async def on_ready(self) -> None:
        """Connected (at start, or again after Discord dropped the session, when missed events
        are not replayed): answer the posts made in each served server's answer forum while
        the bot was away (see LATE_POSTS)."""
        now = discord.utils.utcnow()
        for guild in self.guilds:
            if self.serves(guild.id):
                await self.answer_late_posts(guild, now)

    async def answer_late_posts(self, guild: discord.Guild, now: datetime) -> None:
        """Answer the recent posts of `guild`'s answer forum made before `now` that have no
        answer yet (later ones arrive as messages)."""
        forum_id = (await self.settings_of(guild.id)).forum
        forum = guild.get_channel(int(forum_id)) if forum_id else None
        if not isinstance(forum, discord.ForumChannel):
            return
        posts = [
            t
            for t in forum.threads
            if now - LATE_POSTS_AGE < discord.utils.snowflake_time(t.id) < now
        ]
        for post in sorted(posts, key=lambda t: t.id)[-LATE_POSTS:]:
            if post.locked or await self.thread_conversation(post) is not None:
                continue  # closed, or answered
            try:
                opening = await post.fetch_message(post.id)
            except discord.HTTPException:  # deleted, or not readable
                continue
            log.info("answering forum post %s, made while the bot was offline", post.id)
            await self.on_message(opening, late=True)

    async def on_message(self, message: discord.Message, *, late: bool = False) -> None:
        """A mention of the bot (or of its role) is a question, in the channels the server's
        admins chose (all when none); so is every message in an every-message channel, a new
        post in the answer forum and, when enabled, a direct message. A follow-up continues the
        conversation of an answer: Discord's Reply to the answer, or any message in a thread
        on the answer (Follow up's, or one someone opened with Create Thread) or in an answered
        forum post. Every message in the bot's own threads is a question. System messages (a
        thread renamed, a message pinned…) are not: only people's posts. `late`: a forum post
        answered after the fact (no cooldown: it was asked while the bot was away)."""
        if message.author.bot or self.user is None or message.type not in PEOPLES_MESSAGES:
            return
        if not self.serves(message.guild.id if message.guild else None):
            return
        channel = message.channel
        direct = message.guild is None  # a direct message (DMs enabled): always a question
        conversation = None
        ours = post = False
        if isinstance(channel, discord.Thread):
            conversation = await self.thread_conversation(channel)
            ours = channel.owner_id == self.user.id
            post = conversation is None and await self.is_forum_post(message, channel)
        if message.type == discord.MessageType.reply:
            replied = await self.replied_answer(message)
            if replied is not None:
                conversation = replied.conversation
        if conversation is None and not ours and not post and not direct:
            mentioned = self.user.id in message.raw_mentions or self.role_mentioned(message)
            if not mentioned and not await self.every_message_in(channel):
                return
            if mentioned and not await self.answers_in(channel):
                return
        if missing := self.missing_to_reply(channel):
            log.warning("not answering in channel %s: the bot lacks %s there", channel.id, missing)
            return
        question = strip_mentions(message.content)
        if post:  # a forum post: its title is (part of) the question
            question = strip_mentions(f"{channel.name} {message.content}")[:MAX_QUESTION_CHARS]
        if not question:
            await self.reply_to(message, content=HOW_TO_ASK)
            return
        if not late and (wait := self.cooldowns.hit(message.author.id)) is not None:
            await self.reply_to(
                message,
                content=render.notice(self.cooldown_text(wait)),
                delete_after=max(wait, 5.0),
            )
            return
        async with channel.typing():
            reply = await self.answer(
                question,
                threadable=self.can_thread(channel),
                user=message.author.id,
                conversation=conversation,
            )
        await self.reply_to(message, content=reply.content, embed=reply.embed, view=reply.view)
        if post and reply.conversation is not None:
            self.threads[channel.id] = reply.conversation

    async def answers_in(self, channel: Any) -> bool:
        """Whether a mention in `channel` is answered: in any channel, unless the server's admins
        named channels (`/newsdesk channels add`); a thread counts as its parent channel."""
        guild = getattr(channel, "guild", None)
        if guild is None:
            return False
        allowed = (await self.settings_of(guild.id)).channels
        where = {str(channel.id), str(getattr(channel, "parent_id", None))}
        return not allowed or bool(where & set(allowed))

    async def every_message_in(self, channel: Any) -> bool:
        """Whether every message in `channel` is a question (`/newsdesk channels add
        every_message:True`); not in its threads, which may be about anything."""
        guild = getattr(channel, "guild", None)
        if guild is None or isinstance(channel, discord.Thread):
            return False
        return str(channel.id) in (await self.settings_of(guild.id)).every

    async def is_forum_post(self, message: discord.Message, thread: discord.Thread) -> bool:
        """Whether `message` opens a post (its thread has its id) in the server's answer forum."""
        if message.id != thread.id or not isinstance(thread.parent, discord.ForumChannel):
            return False
        return (await self.settings_of(thread.guild.id)).forum == str(thread.parent_id)

    async def reply_to(self, message: discord.Message, **sent: Any) -> None:
        """Reply (pinging nobody); a reply Discord refuses is logged, not apologised for (the
        apology would be refused too)."""
        try:
            await message.reply(mention_author=False, allowed_mentions=NO_MENTIONS, **sent)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("cannot reply in channel %s: %s", message.channel.id, exc)

    def missing_to_reply(self, channel: Any) -> str | None:
        """The permission the bot lacks to answer in `channel` (None: it can): Send Messages
        (in a thread: Send Messages in Threads), Embed Links and Read Message History."""
        guild = getattr(channel, "guild", None)
        if guild is None or not hasattr(channel, "permissions_for"):
            return None
        mine = channel.permissions_for(guild.me)
        needed = {
            "send_messages_in_threads"
            if isinstance(channel, discord.Thread)
            else "send_messages": (
                "Send Messages in Threads"
                if isinstance(channel, discord.Thread)
                else "Send Messages"
            ),
            "embed_links": "Embed Links",
            "read_message_history": "Read Message History",
        }
        missing = [name for flag, name in needed.items() if not getattr(mine, flag)]
        return ", ".join(missing) or None

    def role_mentioned(self, message: discord.Message) -> bool:
        """Whether the message mentions the bot's own (managed) role."""
        guild = message.guild
        role = guild.self_role if guild is not None else None
        return role is not None and role.id in message.raw_role_mentions

    def can_thread(self, channel: Any) -> bool:
        """Whether Follow up can start a thread in `channel`: a text channel where the bot has
        Create Public Threads and Send Messages in Threads."""
        if not isinstance(channel, discord.TextChannel):
            return False
        return not missing_thread_permissions(channel.permissions_for(channel.guild.me))

    async def replied_answer(self, message: discord.Message) -> AnswerRef | None:
        """The bot's answer that `message` replies to (Discord's Reply), if it is one."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            if reference.channel_id != message.channel.id:
                return None
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                return None
        if self.user is None or replied.author.id != self.user.id:
            return None
        return answer_ref(replied)

    async def first_answer(self, thread: discord.Thread) -> AnswerRef | None:
        """The bot's first answer in a forum post's thread."""
        try:
            async for earlier in thread.history(limit=FORUM_HISTORY, oldest_first=True):
                mine = self.user is not None and earlier.author.id == self.user.id
                if mine and (ref := answer_ref(earlier)) is not None:
                    return ref
        except discord.HTTPException as exc:
            log.warning("cannot read thread %s: %s", thread.id, exc)
        return None

    async def thread_conversation(self, thread: discord.Thread) -> str | None:
        """The conversation of the answer `thread` was started on (a thread started on a message
        has that message's id), read from the answer's buttons; None for other threads."""
        if thread.id in self.threads:
            return self.threads[thread.id]
        starter = thread.starter_message
        if starter is None and isinstance(
            thread.parent, discord.TextChannel | discord.ForumChannel
        ):
            # the message a thread was started on: in its channel, or (a forum post) in it
            forum = isinstance(thread.parent, discord.ForumChannel)
            holder: discord.abc.Messageable = thread if forum else thread.parent  # type: ignore[assignment]
            try:
                starter = await holder.fetch_message(thread.id)
            except discord.NotFound:
                starter = None
            except discord.HTTPException:
                return None  # not known now; perhaps at the next message
        ref = None
        if starter is not None and self.user is not None and starter.author.id == self.user.id:
            ref = answer_ref(starter)
        elif isinstance(thread.parent, discord.ForumChannel):
            if (await self.settings_of(thread.guild.id)).forum != str(thread.parent_id):
                return None
            ref = await self.first_answer(thread)
            if ref is None:
                return None  # not answered yet: perhaps at the next message
        conversation = ref.conversation if ref is not None else None
        self.threads[thread.id] = conversation
        while len(self.threads) > THREADS_KNOWN:
            del self.threads[next(iter(self.threads))]
        return conversation
