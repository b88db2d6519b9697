"""Where the Discord bot answers, per server, as its admins set it (`PUT /discord/guilds/{id}`):
a small JSON file in the data dir, written whole and atomically."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from pydantic import BaseModel, Field

log = logging.getLogger("newsdesk.api")

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
    """The settings of every server, by id, in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("cannot read %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, guild_id: str) -> GuildSettings:
        with self._lock:
            found = self._read().get(guild_id)
        return GuildSettings.model_validate(found) if isinstance(found, dict) else GuildSettings()

    def put(self, guild_id: str, settings: GuildSettings) -> GuildSettings:
        with self._lock:
            data = self._read()
            data[guild_id] = settings.model_dump()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
        return settings
