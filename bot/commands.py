"""Slash commands: /ask, /reindex (Manage Server only) and /stats. Thin: the bot does the work."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot import render
from bot.api_client import MAX_QUESTION_CHARS, BackendError, Job
from bot.respond import NO_MENTIONS, say

if TYPE_CHECKING:
    from bot.client import NewsdeskBot

    Interaction = discord.Interaction[NewsdeskBot]

REINDEX_FOLLOW_SECONDS = 14 * 60
"""How long /reindex reports progress: an interaction's response can be edited for 15 minutes."""
STILL_RUNNING = (
    "The reindex is still running ({done}/{total} articles so far); /stats shows the index "
    "as it grows."
)


@app_commands.command(description="Ask a question about the news articles.")
@app_commands.describe(question="Your question, in plain words")
async def ask(
    interaction: Interaction, question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
) -> None:
    """Answer in the channel: the answer with [n] markers, its sources and buttons."""
    bot = interaction.client
    if (wait := bot.cooldowns.hit(interaction.user.id)) is not None:
        await say(interaction, bot.cooldown_text(wait))
        return
    await interaction.response.defer(thinking=True)  # at once: Discord waits 3 s, no more
    threadable = isinstance(interaction.channel, discord.TextChannel)
    reply = await bot.answer(
        question, display=question, threadable=threadable, user=interaction.user.id
    )
    message = await interaction.edit_original_response(
        content=reply.content, embed=reply.embed, view=reply.view, allowed_mentions=NO_MENTIONS
    )
    bot.remember(message, question, reply)


@app_commands.command(description="Re-sync the article folders (needs Manage Server).")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def reindex(interaction: Interaction) -> None:
    """Start a reindex through the API and follow it in an ephemeral message."""
    if not interaction.permissions.manage_guild:
        await say(interaction, "Only members with the Manage Server permission can reindex.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    try:
        job = await bot.api.reindex()
        await show_job(interaction, job)
        deadline = time.monotonic() + REINDEX_FOLLOW_SECONDS
        while job.status == "running" and time.monotonic() < deadline:
            await asyncio.sleep(bot.poll_seconds)
            latest = await bot.api.job(job.id)
            if (latest.status, latest.done, latest.total) != (job.status, job.done, job.total):
                await show_job(interaction, latest)
            job = latest
        if job.status == "running":
            await say(interaction, STILL_RUNNING.format(done=job.done, total=job.total))
    except BackendError as exc:
        await say(interaction, str(exc))


async def show_job(interaction: Interaction, job: Job) -> None:
    await interaction.edit_original_response(
        content=None, embed=render.job_embed(job), allowed_mentions=NO_MENTIONS
    )


@app_commands.command(description="How many articles and chunks are indexed, and since when.")
async def stats(interaction: Interaction) -> None:
    """The index's size and last sync, ephemerally."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        info = await interaction.client.api.stats()
    except BackendError as exc:
        await say(interaction, str(exc))
        return
    await interaction.edit_original_response(
        content=None, embed=render.stats_embed(info), allowed_mentions=NO_MENTIONS
    )


COMMANDS = (ask, reindex, stats)
