"""Sending: one place for the no-mentions rule and for short replies to interactions."""

from __future__ import annotations

import discord

from newsdesk.bot.render import notice

NO_MENTIONS = discord.AllowedMentions.none()
"""Sent with every message: nothing the bot writes ever pings anyone."""


async def say(interaction: discord.Interaction, text: str) -> None:
    """A short ephemeral reply, or (once deferred) the text in place of the pending response."""
    if interaction.response.is_done():
        await interaction.edit_original_response(
            content=notice(text), embed=None, view=None, allowed_mentions=NO_MENTIONS
        )
    else:
        await interaction.response.send_message(
            notice(text), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
