"""Admin routes for the Discord bot's per-server settings (where it answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from newsdesk.api.deps import Admin, EngineDep, RuntimeDep
from newsdesk.api.discord_guilds import GuildSettings, GuildStore
from newsdesk.api.routes.articles import ADMIN
from newsdesk.api.schemas import ErrorBody

router = APIRouter(
    tags=["admin"],
    dependencies=[Admin],
    responses={**ADMIN, 503: {"model": ErrorBody, "description": "The index is loading."}},
)
GuildId = Annotated[str, Path(pattern=r"^\d{1,20}$", examples=["123456789012345678"])]


def guild_store(runtime: RuntimeDep, engine: EngineDep) -> GuildStore:
    """The servers' settings, beside the loaded index (503 while it loads)."""
    if runtime.discord_guilds is None:
        runtime.discord_guilds = GuildStore(engine)
    return runtime.discord_guilds


Guilds = Annotated[GuildStore, Depends(guild_store)]


@router.get("/discord/guilds/{guild_id}", response_model=GuildSettings)
def get_guild(guild_id: GuildId, guilds: Guilds) -> GuildSettings:
    """A Discord server's settings (the defaults when never set)."""
    return guilds.get(guild_id)


@router.put("/discord/guilds/{guild_id}", response_model=GuildSettings)
def put_guild(guild_id: GuildId, body: GuildSettings, guilds: Guilds) -> GuildSettings:
    """Replace a Discord server's settings."""
    return guilds.put(guild_id, body)
