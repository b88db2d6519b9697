"""Where the Discord bot answers, per server, as its admins set it (`PUT /discord/guilds/{id}`):
kept beside the index, in its Chroma (as conversations are)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from newsdesk.index import Engine, JsonRecords

MAX_CHANNELS = 100


class GuildSettings(BaseModel):
    """One Discord server's settings. Ids are strings (Discord's snowflakes exceed JSON's safe
    integers)."""

    channels: list[str] = Field(
        default_factory=list,
        max_length=MAX_CHANNELS,
        description="Channels where mentions are answered; empty: every channel the bot sees.",
    )
    every: list[str] = Field(
        default_factory=list,
        max_length=MAX_CHANNELS,
        description="Channels where every message is a question (no mention needed).",
    )
    forum: str | None = Field(
        None,
        pattern=r"^\d{1,20}$",
        description="A forum channel where every new post gets an answer in its thread.",
    )


class GuildStore:
    """The settings of every server, by id, in the `<collection>-discord-guilds` collection of
    the engine's Chroma: every API replica on one Chroma server sees the same settings."""

    def __init__(self, engine: Engine) -> None:
        self.records = JsonRecords(engine, "discord-guilds")

    def get(self, guild_id: str) -> GuildSettings:
        found = self.records.get(guild_id)
        return GuildSettings.model_validate(found) if found is not None else GuildSettings()

    def put(self, guild_id: str, settings: GuildSettings) -> GuildSettings:
        self.records.put(guild_id, settings.model_dump())
        return settings
