"""What the slash commands and buttons need of the bot that runs them (`bot.client`), so
that they import no client module: bot.client imports them, never the other way round."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import discord

if TYPE_CHECKING:
    from newsdesk.bot.api_client import ApiClient, GuildSettings
    from newsdesk.bot.memory import Claims, Cooldowns


@dataclass
class Reply:
    """A message to send: an answer (embed and buttons) or a short apology (content)."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    conversation: str | None = None


class Host(Protocol):
    """The running bot as commands and buttons see it (`interaction.client`)."""

    api: ApiClient
    raters: Claims
    cooldowns: Cooldowns
    poll_seconds: float

    async def answer(
        self,
        question: str,
        *,
        threadable: bool,
        user: int | None = None,
        filters: dict[str, str] | None = None,
        conversation: str | None = None,
    ) -> Reply: ...

    def cooldown_text(self, wait: float) -> str: ...

    async def settings_of(self, guild_id: int) -> GuildSettings: ...

    def remember_settings(self, guild_id: int, settings: GuildSettings) -> None: ...
