"""Slash commands: /ask (with since, until, source), /reindex and /feeds (Manage Server only),
/stats. Thin: the API does the work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from newsdesk.bot import render
from newsdesk.bot.api_client import MAX_QUESTION_CHARS, BackendError, GuildSettings, Job
from newsdesk.bot.respond import NO_MENTIONS, say
from newsdesk.bot.views import missing_thread_permissions

T = TypeVar("T")

if TYPE_CHECKING:
    from newsdesk.bot.host import Host

    Interaction = discord.Interaction[Host]  # type: ignore[type-var]

log = logging.getLogger("newsdesk.bot")

MAX_CHANNELS = 100
"""Channels a server may name for mentions (the API's limit)."""
AUTOCOMPLETE_MAX = 25
"""Choices Discord shows at most."""
REINDEX_FOLLOW_SECONDS = 14 * 60
"""How long after the command /reindex reports progress: an interaction's response can be
edited for 15 minutes (the last minute is left for the final note and any slow call)."""
STILL_RUNNING = (
    "The reindex is still running ({done}/{total} articles so far); /stats shows the index "
    "as it grows."
)


@app_commands.command(description="Ask a question about the news articles.")
@app_commands.describe(
    question="Your question, in plain words",
    since="Only articles published on or after this day (YYYY-MM-DD)",
    until="Only articles published on or before this day (YYYY-MM-DD)",
    source="Only articles from this source",
)
async def ask(
    interaction: Interaction,
    question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
    since: app_commands.Range[str, 1, 40] | None = None,
    until: app_commands.Range[str, 1, 40] | None = None,
    source: app_commands.Range[str, 1, 200] | None = None,
) -> None:
    """Answer in the channel: the answer with [n] markers, its sources and buttons."""
    bot = interaction.client
    try:
        filters = filters_of(since, until, source)
    except ValueError as exc:
        await say(interaction, str(exc))
        return
    if (wait := bot.cooldowns.hit(interaction.user.id)) is not None:
        await say(interaction, bot.cooldown_text(wait))
        return
    await interaction.response.defer(thinking=True)  # at once: Discord waits 3 s, no more
    threadable = isinstance(interaction.channel, discord.TextChannel) and not (
        missing_thread_permissions(interaction.app_permissions)
    )
    reply = await bot.answer(
        question, threadable=threadable, user=interaction.user.id, filters=filters
    )
    await interaction.edit_original_response(
        content=reply.content, embed=reply.embed, view=reply.view, allowed_mentions=NO_MENTIONS
    )


def filters_of(since: str | None, until: str | None, source: str | None) -> dict[str, str]:
    """/ask's options as the API's filters; ValueError with a sentence for a bad day."""
    filters = {"source": source} if source else {}
    for name, value in (("since", since), ("until", until)):
        if value:
            try:
                filters[name] = date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise ValueError(f"The {name} option must be a day like 2026-03-01.") from None
    if filters.get("since", "") > filters.get("until", "9999"):
        raise ValueError("The since option must not be after until.")
    return filters


@ask.autocomplete("source")
async def source_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The sources whose name starts with what was typed, most articles first."""
    try:
        sources = await interaction.client.api.sources(current)
    except BackendError:
        return []
    return [
        app_commands.Choice(name=render.clip(s.name, 100), value=s.name)
        for s in sources[:AUTOCOMPLETE_MAX]
        if len(s.name) <= 100
    ]


@app_commands.command(description="Re-sync the article folders (needs Manage Server).")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def reindex(interaction: Interaction) -> None:
    """Start a reindex through the API and follow it in an ephemeral message, while Discord
    lets the message be edited (15 minutes from the command; a margin kept)."""
    if not interaction.permissions.manage_guild:
        await say(interaction, "Only members with the Manage Server permission can reindex.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    deadline = time.monotonic() + REINDEX_FOLLOW_SECONDS - max(age, 0.0)
    try:
        job = await bot.api.reindex()
        if time.monotonic() < deadline:
            await show_job(interaction, job)
        while job.status == "running" and time.monotonic() < deadline:
            await asyncio.sleep(bot.poll_seconds)
            latest = await bot.api.job(job.id)
            changed = (latest.status, latest.done, latest.total) != (
                job.status,
                job.done,
                job.total,
            )
            if changed and time.monotonic() < deadline:
                await show_job(interaction, latest)
            job = latest
        if job.status == "running" and not interaction.is_expired():
            await say(interaction, STILL_RUNNING.format(done=job.done, total=job.total))
    except BackendError as exc:
        if not interaction.is_expired():
            await say(interaction, str(exc))
    except discord.HTTPException as exc:
        if exc.status not in (401, 404):
            raise
        # The interaction's token expired (401 Invalid Webhook Token, 404 Unknown Webhook):
        # the reindex goes on in the API; /stats shows the index as it grows.
        log.info("/reindex stopped following job: the interaction expired (%s)", exc)


def progress(job: Job) -> tuple[str, int, int]:
    return job.status, job.done, job.total


async def show_job(interaction: Interaction, job: Job) -> None:
    await interaction.edit_original_response(
        content=None, embed=render.job_embed(job), allowed_mentions=NO_MENTIONS
    )


async def show(
    interaction: Interaction,
    fetch: Callable[[], Awaitable[T]],
    embed: Callable[[T], discord.Embed],
) -> None:
    """Fetch something from the API and show it as an embed only the asker sees (or say why
    the API could not be asked)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        found = await fetch()
    except BackendError as exc:
        await say(interaction, str(exc))
        return
    await interaction.edit_original_response(
        content=None, embed=embed(found), allowed_mentions=NO_MENTIONS
    )


@app_commands.command(description="How many articles and chunks are indexed, and since when.")
async def stats(interaction: Interaction) -> None:
    """The index's size and last sync, ephemerally."""
    await show(interaction, interaction.client.api.stats, render.stats_embed)


feeds = app_commands.Group(
    name="feeds",
    description="The news feeds Newsdesk polls (needs Manage Server).",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


@feeds.command(name="list", description="The feeds Newsdesk polls, and how their polls went.")
async def list_feeds(interaction: Interaction) -> None:
    if not interaction.permissions.manage_guild:
        await say(interaction, "Only members with the Manage Server permission can see feeds.")
        return
    await show(interaction, interaction.client.api.feeds, render.feeds_embed)


@feeds.command(name="add", description="Poll an RSS/Atom feed or an article page from now on.")
@app_commands.describe(url="The feed's or page's address (http or https)")
async def add_feed(interaction: Interaction, url: app_commands.Range[str, 8, 2000]) -> None:
    if not interaction.permissions.manage_guild:
        await say(interaction, "Only members with the Manage Server permission can add feeds.")
        return
    if not url.lower().startswith(("http://", "https://")):
        await say(interaction, "A feed's address starts with http:// or https://.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        added = await interaction.client.api.add_feed(url.strip())
    except BackendError as exc:
        await say(interaction, str(exc))
        return
    await say(
        interaction,
        f"Added: {render.safe(added.url)}. Its first poll has started; `/feeds list` shows how "
        "it went.",
    )


newsdesk = app_commands.Group(
    name="newsdesk",
    description="Where Newsdesk answers in this server (needs Manage Server).",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)
channels = app_commands.Group(
    name="channels", description="Channels where mentions are answered.", parent=newsdesk
)
NOT_MANAGER = "Only members with the Manage Server permission can change where I answer."


async def change_settings(
    interaction: Interaction, change: Callable[[GuildSettings], GuildSettings | str]
) -> None:
    """Read the server's settings from the API, apply `change` (or say its refusal), store them
    and show them, ephemerally; Manage Server only."""
    if not interaction.permissions.manage_guild or interaction.guild_id is None:
        await say(interaction, NOT_MANAGER)
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    try:
        current = await bot.api.guild_settings(interaction.guild_id)
        changed = change(current.model_copy(deep=True))
        if isinstance(changed, str):
            await say(interaction, changed)
            return
        if changed != current:
            changed = await bot.api.put_guild_settings(interaction.guild_id, changed)
    except BackendError as exc:
        await say(interaction, str(exc))
        return
    bot.remember_settings(interaction.guild_id, changed)
    await say(interaction, describe(changed))


def describe(settings: GuildSettings) -> str:
    """The server's settings in a sentence or two."""
    where = (
        "Mentions are answered in " + ", ".join(f"<#{c}>" for c in settings.channels) + "."
        if settings.channels
        else "Mentions are answered in every channel I can see."
    )
    every = (
        " Every message is a question in " + ", ".join(f"<#{c}>" for c in settings.every) + "."
        if settings.every
        else ""
    )
    forum = (
        f" Every new post in <#{settings.forum}> gets an answer in its thread."
        if settings.forum
        else ""
    )
    return where + every + forum + " Replies to my answers and threads on them work everywhere."


@channels.command(name="add", description="Answer mentions in this channel.")
@app_commands.describe(
    channel="A text channel",
    every_message="Answer every message there, mentioned or not (default: mentions only)",
)
async def add_channel(
    interaction: Interaction, channel: discord.TextChannel, every_message: bool = False
) -> None:
    def added(settings: GuildSettings) -> GuildSettings | str:
        here = str(channel.id)
        if here not in settings.channels:
            if len(settings.channels) >= MAX_CHANNELS:
                return f"At most {MAX_CHANNELS} channels: remove one first."
            settings.channels.append(here)
        settings.every = [c for c in settings.every if c != here] + (
            [here] if every_message else []
        )
        return settings

    await change_settings(interaction, added)


@channels.command(name="remove", description="No longer answer mentions in this channel.")
@app_commands.describe(channel="A text channel")
async def remove_channel(interaction: Interaction, channel: discord.TextChannel) -> None:
    def removed(settings: GuildSettings) -> GuildSettings:
        settings.channels = [c for c in settings.channels if c != str(channel.id)]
        settings.every = [c for c in settings.every if c != str(channel.id)]
        return settings

    await change_settings(interaction, removed)


@newsdesk.command(name="forum", description="Answer every new post of a forum (or stop).")
@app_commands.describe(channel="The forum channel; leave out to stop answering forum posts")
async def set_forum(interaction: Interaction, channel: discord.ForumChannel | None = None) -> None:
    def forum(settings: GuildSettings) -> GuildSettings:
        settings.forum = str(channel.id) if channel is not None else None
        return settings

    await change_settings(interaction, forum)


@newsdesk.command(name="settings", description="Where Newsdesk answers in this server.")
async def show_settings(interaction: Interaction) -> None:
    await change_settings(interaction, lambda settings: settings)


COMMANDS = (ask, reindex, stats, feeds, newsdesk)
