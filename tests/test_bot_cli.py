"""`newsdesk bot`: settings, and the exits a user must be able to act on (one sentence each,
no traceback, no hang). Discord itself is never reached: a refused token comes from a loopback
server standing in for Discord's API."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import discord
import pytest
from discord.http import Route

from bot import main
from bot.client import intents
from bot.config import BotSettings
from index.config import Settings
from index.errors import ConfigError, NewsdeskError
from tests.api_support import TOKEN, free_port, newsdesk_command

EXIT_WAIT_SECONDS = 120
"""Upper bound for `newsdesk bot` to exit (a deadline against hanging, not a speed check)."""


def bot_env(**extra: str) -> dict[str, str]:
    """This environment without any Discord or Newsdesk setting, plus `extra`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSDESK_") and k not in ("DISCORD_TOKEN", "PYTHONPATH")
    }
    return {**clean, **extra}


def run_bot(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [newsdesk_command(), "bot"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_WAIT_SECONDS,
        check=False,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The error `newsdesk bot` ended with (after any log lines), on one line."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    text = " ".join(result.stderr.split())
    return text[text.index("error: ") :]


def test_a_missing_token_exits_at_once_saying_what_to_set(tmp_path: Path) -> None:
    message = one_sentence(run_bot(tmp_path, bot_env()))
    assert message.startswith("error: DISCORD_TOKEN is not set:")
    assert "Discord Developer Portal" in message and ".env" in message


@pytest.fixture
def refusing_discord() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A loopback stand-in for Discord's API that refuses every token (401), and its log."""
    seen: list[tuple[str, str]] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization", "")))
            body = json.dumps({"message": "401: Unauthorized", "code": 0}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v10", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_token_exits_saying_what_to_do(
    tmp_path: Path, refusing_discord: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = refusing_discord
    site = tmp_path / "site"
    site.mkdir()  # discord.py's HTTP pointed at the stand-in, as the process starts
    (site / "sitecustomize.py").write_text(
        f"import discord.http\ndiscord.http.Route.BASE = {base!r}\n", encoding="utf-8"
    )
    data = tmp_path / "data"
    env = bot_env(
        DISCORD_TOKEN="not-a-real-token", NEWSDESK_DATA_DIR=str(data), PYTHONPATH=str(site)
    )
    message = one_sentence(run_bot(tmp_path, env))
    assert message.startswith("error: Discord refused DISCORD_TOKEN:")
    assert "Reset Token" in message
    assert seen == [("/api/v10/users/@me", "Bot not-a-real-token")]
    assert not data.exists()  # refused before the in-process API loaded anything


@pytest.fixture
def bot_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without `.env`, and no Discord or Newsdesk variables."""
    for name in list(os.environ):
        if name.startswith("NEWSDESK_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_unreachable_discord_is_one_sentence(
    bot_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Route, "BASE", f"http://127.0.0.1:{free_port()}/api/v10")  # nobody there
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("NEWSDESK_API_URL", "http://127.0.0.1:9")
    with pytest.raises(NewsdeskError, match=r"^cannot reach Discord: "):
        main.run()


def test_the_message_content_intent_not_enabled_is_one_sentence(
    bot_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(bot: object, token: str) -> None:
        raise discord.PrivilegedIntentsRequired(None)

    monkeypatch.setattr(main, "serve", refused)
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("NEWSDESK_API_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="Message Content Intent"):
        main.run()


def test_settings_from_the_environment(
    bot_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bot_environment / ".env").write_text(
        "DISCORD_TOKEN=from-dotenv\nNEWSDESK_DISCORD_GUILD_ID=\n", encoding="utf-8"
    )
    monkeypatch.setenv("NEWSDESK_API_URL", "http://api:8000")
    settings = BotSettings()
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "from-dotenv"
    assert (settings.api_url, settings.discord_guild_id) == ("http://api:8000", None)
    monkeypatch.setenv("NEWSDESK_DISCORD_GUILD_ID", "123456789012345678")
    assert BotSettings().discord_guild_id == 123456789012345678


def test_the_api_is_remote_when_its_url_is_set_else_in_process(bot_environment: Path) -> None:
    settings = Settings(_env_file=None, admin_token=TOKEN)
    remote = main.build(BotSettings(_env_file=None, api_url="http://api:8000"), settings)
    assert remote.api.local is None and str(remote.api.http.base_url) == "http://api:8000"
    assert remote.api.admin_token == TOKEN
    local = main.build(BotSettings(_env_file=None, discord_guild_id=42), settings)
    assert local.api.local is not None and local.guild_id == 42
    assert local.intents == intents()
    assert intents() == discord.Intents(guilds=True, guild_messages=True, message_content=True)
