"""Admin routes for the Discord bot's per-server settings (where it answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from newsdesk.api.deps import Admin, RuntimeDep
from newsdesk.api.discord_guilds import GuildSettings
from newsdesk.api.routes.articles import ADMIN

router = APIRouter(tags=["admin"], dependencies=[Admin], responses=ADMIN)
GuildId = Annotated[str, Path(pattern=r"^\d{1,20}$", examples=["123456789012345678"])]


@router.get("/discord/guilds/{guild_id}", response_model=GuildSettings)
def get_guild(guild_id: GuildId, runtime: RuntimeDep) -> GuildSettings:
    """A Discord server's settings (the defaults when never set)."""
    return runtime.discord_guilds.get(guild_id)


@router.put("/discord/guilds/{guild_id}", response_model=GuildSettings)
def put_guild(guild_id: GuildId, body: GuildSettings, runtime: RuntimeDep) -> GuildSettings:
    """Replace a Discord server's settings."""
    return runtime.discord_guilds.put(guild_id, body)
