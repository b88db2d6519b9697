"""Buttons under an answer: Sources (full quotes, ephemeral), 👍/👎 (feedback to the API) and
Follow up (a thread for follow-up questions).

They are dynamic items: discord.py routes a click by its custom id, keeping nothing per message;
the answer behind a click is looked up in the bot's memory of recent answers.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Literal

import discord

from bot import render
from bot.api_client import BackendError
from bot.memory import Asked
from bot.respond import NO_MENTIONS, say
from index.answer.models import Answer

if TYPE_CHECKING:
    from bot.client import NewsdeskBot

log = logging.getLogger("newsdesk.bot")

Action = Literal["sources", "up", "down", "thread"]
LOOKS: dict[str, tuple[str | None, str | None, discord.ButtonStyle]] = {
    "sources": ("Sources", "📰", discord.ButtonStyle.primary),
    "up": (None, "👍", discord.ButtonStyle.secondary),
    "down": (None, "👎", discord.ButtonStyle.secondary),
    "thread": ("Follow up", "🧵", discord.ButtonStyle.secondary),
}
TOO_OLD = "I no longer remember this answer; ask the question again to use its buttons."
THREAD_EXISTS = 160004
"""Discord's error code for a second thread on a message."""
THREAD_FAILED = (
    "I couldn't start a thread here: I need the Create Public Threads and Send Messages in "
    "Threads permissions."
)


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"newsdesk:answer:(?P<action>sources|up|down|thread)",
):
    """One of the buttons under an answer."""

    def __init__(self, action: Action) -> None:
        label, emoji, style = LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"newsdesk:answer:{action}"
            )
        )
        self.action: Action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AnswerButton:
        return cls(match["action"])  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction[NewsdeskBot]) -> None:  # type: ignore[override]
        message = interaction.message
        asked = interaction.client.answers.get(message.id) if message else None
        try:
            if self.action == "thread":
                await start_thread(interaction, asked)
            elif asked is None:
                await say(interaction, TOO_OLD)
            elif self.action == "sources":
                await interaction.response.send_message(
                    embeds=render.sources_embeds(asked.answer),
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
            else:
                await rate(interaction, asked, self.action)
        except Exception:
            log.exception("the %s button failed", self.action)
            await say(interaction, "Sorry, that didn't work. Please try again later.")


def answer_view(answer: Answer, *, threadable: bool) -> discord.ui.View:
    """The buttons for an answer: Sources only when it cites something, Follow up only where
    a thread can start (a server text channel)."""
    view = discord.ui.View(timeout=None)
    actions: list[Action] = ["sources"] if answer.answered and answer.citations else []
    actions += ["up", "down"]
    if threadable:
        actions.append("thread")
    for action in actions:
        view.add_item(AnswerButton(action))
    return view


async def rate(
    interaction: discord.Interaction[NewsdeskBot], asked: Asked, rating: Literal["up", "down"]
) -> None:
    """Record a 👍/👎 through the API's POST /feedback, once per user and answer."""
    rater = interaction.user.id
    if rater in asked.raters:
        await say(interaction, "You already rated this answer. Thanks!")
        return
    asked.raters.add(rater)  # claimed before any await, so a double click rates once
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.client.api.feedback(rating, asked.answer, user=rater)
    except BackendError as exc:
        asked.raters.discard(rater)  # not recorded: the user may try again
        await say(interaction, str(exc))
        return
    except BaseException:
        asked.raters.discard(rater)
        raise
    mark = "👍" if rating == "up" else "👎"
    await say(interaction, f"Thanks! Your {mark} is recorded and helps improve Newsdesk's answers.")


async def start_thread(interaction: discord.Interaction[NewsdeskBot], asked: Asked | None) -> None:
    """Open a thread on the answer, where every message is a follow-up question."""
    message, channel = interaction.message, interaction.channel
    if message is None or not isinstance(channel, discord.TextChannel):
        await say(interaction, "Follow-up threads start in a server's text channels only.")
        return
    if existing := message.thread:  # an active thread, or one Discord named in the message
        await say(interaction, follow_ups_in(existing))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        thread = await message.create_thread(
            name=render.thread_name(asked.question if asked else ""), auto_archive_duration=1440
        )
        await thread.send(render.THREAD_INTRO, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        if exc.code == THREAD_EXISTS:  # archived, so unknown to discord.py's cache
            await say(interaction, follow_ups_in(await message.fetch_thread()))
            return
        log.warning("cannot start a thread in channel %s: %s", channel.id, exc)
        await say(interaction, THREAD_FAILED)
        return
    await say(interaction, f"Thread started: {thread.mention}. Ask your follow-up questions there.")


def follow_ups_in(thread: discord.Thread) -> str:
    """Where to ask, when the answer has a thread already."""
    return f"Follow-ups to this answer go in {thread.mention}."
