"""Buttons under an answer: Sources (full quotes, ephemeral), 👍/👎 (feedback to the API) and
Follow up (a thread for follow-up questions).

They are dynamic items: discord.py routes a click by its custom id, which names the answer's
conversation and turn (`newsdesk:answer:<action>:<conversation id>:<turn>`). The bot keeps no
answer in memory: a click reads the turn back from the API (`GET /conversations/{id}`), so the
buttons work the same after the bot restarts.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import discord

from newsdesk.bot import render
from newsdesk.bot.api_client import BackendError, ConversationTurn
from newsdesk.bot.respond import NO_MENTIONS, say

if TYPE_CHECKING:
    from newsdesk.bot.host import Host

log = logging.getLogger("newsdesk.bot")

Action = Literal["sources", "up", "down", "thread"]
LOOKS: dict[str, tuple[str | None, str | None, discord.ButtonStyle]] = {
    "sources": ("Sources", "📰", discord.ButtonStyle.primary),
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
    "thread": ("Follow up", "🧵", discord.ButtonStyle.secondary),
}
PREFIX = "newsdesk:answer:"
TEMPLATE = (
    r"newsdesk:answer:(?P<action>sources|up|down|thread)"
    r"(?::(?P<conversation>[A-Za-z0-9_-]{1,64}):(?P<turn>\d{1,4}))?"
)
"""A button's custom id; buttons sent before conversations have no conversation and turn."""
ALREADY_RATED = "You already rated this answer. Thanks!"
TOO_OLD = "I no longer remember this answer; ask the question again to use its buttons."
THREAD_EXISTS = 160004
"""Discord's error code for a second thread on a message."""
THREAD_PERMISSIONS = {
    "create_public_threads": "Create Public Threads",
    "send_messages_in_threads": "Send Messages in Threads",
}
"""What the bot needs in a channel to start a follow-up thread and answer in it."""
THREAD_FAILED = (
    "I couldn't start a thread here: I need the Create Public Threads and Send Messages in "
    "Threads permissions."
)
ANSWER_GONE = "That answer was deleted, so it can't have a thread: ask the question again."
DISCORD_REFUSED = "Discord didn't let me start the thread just now ({detail}). Please try again."


@dataclass(frozen=True)
class AnswerRef:
    """Which answer a message shows: a turn of a conversation kept by the API."""

    conversation: str
    turn: int


def answer_ref(message: discord.Message) -> AnswerRef | None:
    """The conversation and turn of one of the bot's answers, read from its buttons' ids."""
    for row in message.components:
        for item in getattr(row, "children", ()):
            custom_id = getattr(item, "custom_id", None) or ""
            match = re.fullmatch(TEMPLATE, custom_id)
            if match and match["conversation"]:
                return AnswerRef(match["conversation"], int(match["turn"]))
    return None


def missing_thread_permissions(permissions: discord.Permissions) -> list[str]:
    """The permissions (their names in Discord's settings) missing to start a follow-up thread."""
    return [name for flag, name in THREAD_PERMISSIONS.items() if not getattr(permissions, flag)]


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=TEMPLATE,
):
    """One of the buttons under an answer."""

    def __init__(self, action: Action, ref: AnswerRef | None = None) -> None:
        label, emoji, style = LOOKS[action]
        custom_id = PREFIX + action
        if ref is not None:
            custom_id += f":{ref.conversation}:{ref.turn}"
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)
        )
        self.action: Action = action
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnswerButton:
        ref = (
            AnswerRef(match["conversation"], int(match["turn"])) if match["conversation"] else None
        )
        return cls(match["action"], ref)  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction[Host]) -> None:  # type: ignore[override]
        try:
            if self.action == "thread":
                await start_thread(interaction, self.ref)
            elif self.ref is None:
                await say(interaction, TOO_OLD)
            elif self.action == "sources":
                await show_sources(interaction, self.ref)
            else:
                await rate(interaction, self.ref, self.action)
        except Exception:
            log.exception("the %s button failed", self.action)
            await say(interaction, "Sorry, that didn't work. Please try again later.")


def answer_view(ref: AnswerRef, *, sources: bool, threadable: bool) -> discord.ui.View:
    """The buttons for an answer: Sources only when it cites something (`sources`), Follow up
    only where the bot can start a thread (`threadable`)."""
    view = discord.ui.View(timeout=None)
    actions: list[Action] = ["sources"] if sources else []
    actions += ["up", "down"]
    if threadable:
        actions.append("thread")
    for action in actions:
        view.add_item(AnswerButton(action, ref))
    return view


async def turn_of(
    interaction: discord.Interaction[Host], ref: AnswerRef
) -> ConversationTurn | None:
    """The answer behind a button, from the API; None (the user told) when it is gone."""
    try:
        conversation = await interaction.client.api.conversation(ref.conversation)
    except BackendError as exc:
        await say(interaction, TOO_OLD if exc.status == 404 else str(exc))
        return None
    if ref.turn >= len(conversation.turns):
        await say(interaction, TOO_OLD)
        return None
    return conversation.turns[ref.turn]


async def show_sources(interaction: discord.Interaction[Host], ref: AnswerRef) -> None:
    """Every full quote of the answer, only for the one who clicked."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    turn = await turn_of(interaction, ref)
    if turn is None:
        return
    await interaction.edit_original_response(
        content=None,
        embeds=render.sources_embeds(turn.as_answer()),
        allowed_mentions=NO_MENTIONS,
    )


async def rate(
    interaction: discord.Interaction[Host], ref: AnswerRef, rating: Literal["up", "down"]
) -> None:
    """Record a 👍/👎 through the API's POST /feedback, once per user and answer: the API keeps
    one rating per user and answer (it knows the user when the bot has its service token);
    the bot's own claims count a double click once before the API is asked."""
    rater = interaction.user.id
    key = (ref.conversation, ref.turn, rater)
    raters = interaction.client.raters
    if not raters.claim(key):  # claimed before any await, so a double click rates once
        await say(interaction, ALREADY_RATED)
        return
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
        turn = await turn_of(interaction, ref)
        if turn is None:
            raters.release(key)
            return
        await interaction.client.api.feedback(
            rating, turn.as_answer(), user=rater, turn=(ref.conversation, ref.turn)
        )
    except BackendError as exc:
        if exc.status == 409:  # rated before, e.g. before the bot restarted
            await say(interaction, ALREADY_RATED)
            return
        raters.release(key)  # not recorded: the user may try again
        await say(interaction, str(exc))
        return
    except BaseException:
        raters.release(key)
        raise
    mark = "👍" if rating == "up" else "👎"
    await say(interaction, f"Thanks! Your {mark} is recorded and helps improve Newsdesk's answers.")


async def start_thread(interaction: discord.Interaction[Host], ref: AnswerRef | None) -> None:
    """Open a thread on the answer, where every message is a follow-up in its conversation."""
    message, channel = interaction.message, interaction.channel
    if message is None or not isinstance(channel, discord.TextChannel):
        await say(interaction, "Follow-up threads start in a server's text channels only.")
        return
    if existing := message.thread:  # an active thread, or one Discord named in the message
        await say(interaction, follow_ups_in(existing))
        return
    if missing := missing_thread_permissions(interaction.app_permissions):
        await say(
            interaction,
            f"I can't start a follow-up thread here: I need the {' and '.join(missing)} "
            f"permission{'s' if len(missing) > 1 else ''} in this channel. A server admin can "
            "grant them; until then, reply to my answer to ask a follow-up.",
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    name = await thread_title(interaction, message, ref)
    try:
        thread = await message.create_thread(name=name, auto_archive_duration=1440)
    except discord.HTTPException as exc:
        if exc.code == THREAD_EXISTS:  # archived, so unknown to discord.py's cache
            await say(interaction, follow_ups_in(await message.fetch_thread()))
            return
        log.warning("cannot start a thread in channel %s: %s", channel.id, exc)
        await say(interaction, thread_refused(exc))
        return
    try:
        await thread.send(render.THREAD_INTRO, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:  # the thread is there: it works without the intro
        log.warning("cannot post the intro in thread %s: %s", thread.id, exc)
    await say(interaction, f"Thread started: {thread.mention}. Ask your follow-up questions there.")


async def thread_title(
    interaction: discord.Interaction[Host], message: discord.Message, ref: AnswerRef | None
) -> str:
    """The thread's name: the answer's question as asked (from the API), else the embed's."""
    if ref is not None:
        try:
            conversation = await interaction.client.api.conversation(ref.conversation)
            if ref.turn < len(conversation.turns):
                return render.thread_name(conversation.turns[ref.turn].question)
        except BackendError:
            pass
    title = message.embeds[0].title if message.embeds else None
    return render.thread_name(title or "")


def thread_refused(error: discord.HTTPException) -> str:
    """What to tell the clicker when Discord refuses a thread."""
    if isinstance(error, discord.Forbidden):
        return THREAD_FAILED
    if isinstance(error, discord.NotFound):
        return ANSWER_GONE
    return DISCORD_REFUSED.format(detail=f"HTTP {error.status}, code {error.code}")


def follow_ups_in(thread: discord.Thread) -> str:
    """Where to ask, when the answer has a thread already."""
    return f"Follow-ups to this answer go in {thread.mention}."
