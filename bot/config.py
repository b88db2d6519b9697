"""The bot's settings: `DISCORD_TOKEN` and `NEWSDESK_*` variables (environment or `.env`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class BotSettings(BaseSettings):
    """How `newsdesk bot` reaches Discord and the Newsdesk API. See README's "Discord bot"."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    discord_token: SecretStr | None = Field(
        None,
        validation_alias="DISCORD_TOKEN",
        description="The bot's token (Developer Portal → your application → Bot).",
    )
    api_url: str | None = Field(
        None,
        description="URL of the Newsdesk HTTP API; unset: the API runs inside the bot's process.",
    )
    discord_guild_id: int | None = Field(
        None, description="Sync slash commands to this server at once (global sync otherwise)."
    )
    discord_guilds: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated server ids the bot may serve; empty: any server it is in.",
    )
    discord_dms: bool = Field(False, description="Answer direct messages too.")
    ask_cooldown_seconds: float = Field(
        10.0, ge=0, le=3600, description="Per-user wait between questions; 0 turns it off."
    )
    exit_delay_seconds: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="After a failure at start-up, wait this long before exiting, so that a "
        "supervisor's restarts come no faster (compose sets 60).",
    )
    api_timeout_seconds: float = Field(
        60.0, gt=0, le=600, description="How long the bot waits for one API answer."
    )

    @field_validator("discord_guilds", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("discord_token", "api_url", "discord_guild_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
