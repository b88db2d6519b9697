"""The Discord bot's per-server settings live beside the index, in its Chroma: API replicas on
one `chroma run` server see the same settings, whichever replica the bot's request reaches."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL
from newsdesk.index.engine import Engine
from tests.support.api_support import TOKEN, api_settings

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
GUILD = "/discord/guilds/123456789012345678"
WANTED = {"channels": ["11", "12"], "every": ["12"], "forum": "13"}


def replica(chroma_url: str, data_dir: Path, collection: str) -> TestClient:
    """An API app with its own data dir over the shared Chroma server."""
    settings = Settings(
        chroma_url=chroma_url,
        data_dir=data_dir,
        collection=collection,
        embed_model=TEST_MODEL,
        _env_file=None,
    )
    return TestClient(create_app(api_settings(settings), engine=Engine(settings)))


def test_replicas_on_one_chroma_server_share_the_guild_settings(
    chroma_server: str, tmp_path: Path
) -> None:
    collection = f"guilds-{uuid.uuid4().hex[:8]}"
    with (
        replica(chroma_server, tmp_path / "one", collection) as one,
        replica(chroma_server, tmp_path / "two", collection) as two,
    ):
        assert two.get(GUILD, headers=ADMIN).json() == {"channels": [], "every": [], "forum": None}
        assert one.put(GUILD, json=WANTED, headers=ADMIN).json() == WANTED
        assert two.get(GUILD, headers=ADMIN).json() == WANTED
        changed = {**WANTED, "forum": None}
        assert two.put(GUILD, json=changed, headers=ADMIN).status_code == 200
        assert one.get(GUILD, headers=ADMIN).json() == changed
    other = replica(chroma_server, tmp_path / "three", f"{collection}-other")
    with other:  # another collection on the server: another deployment's settings
        assert other.get(GUILD, headers=ADMIN).json()["channels"] == []
    assert not list(tmp_path.rglob("discord-guilds*"))  # nothing in the replicas' data dirs


def test_guild_settings_wait_for_the_index(fake_settings: Settings) -> None:
    """Until the index is loaded (and its Chroma reachable) the settings are 503, not lost."""
    client = TestClient(create_app(api_settings(fake_settings)))  # no lifespan: never loads
    response = client.get(GUILD, headers=ADMIN)
    assert response.status_code == 503 and "Retry-After" in response.headers
