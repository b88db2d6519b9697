"""`newsdesk bot`: settings, and the exits a user must be able to act on (one sentence each,
no traceback, no hang). Discord itself is never reached: a refused token comes from a loopback
server standing in for Discord's API."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord.http import Route
from typer.testing import CliRunner

from newsdesk import cli
from newsdesk.bot import client, main
from newsdesk.bot.client import NewsdeskBot, SyncRefused, intents
from newsdesk.bot.config import BotSettings
from newsdesk.index.config import Settings
from newsdesk.index.errors import DiscordRefused, NewsdeskError
from tests.support.api_support import TOKEN, free_port, newsdesk_command
from tests.support.discord_support import ALICE, BOT_ID, GUILD_ID, user

PROJECT = str(Path(__file__).resolve().parents[2])
"""This checkout, first on the subprocesses' path (the installed package may be another one)."""
EXIT_WAIT_SECONDS = 120
"""Upper bound for `newsdesk bot` to exit (a deadline against hanging, not a speed check)."""


def bot_env(**extra: str) -> dict[str, str]:
    """This environment without any Discord or Newsdesk setting, plus this checkout on the
    path and `extra`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSDESK_") and k not in ("DISCORD_TOKEN", "PYTHONPATH")
    }
    return {**clean, "PYTHONPATH": PROJECT, **extra}


def run_bot(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*newsdesk_command(), "bot"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_WAIT_SECONDS,
        check=False,
    )


def one_sentence(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The error `newsdesk bot` ended with (after any log lines), on one line; `code` is the
    exit status expected."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    text = " ".join(result.stderr.split())
    return text[text.index("error: ") :]


@pytest.mark.e2e
def test_a_missing_token_exits_at_once_saying_what_to_set(tmp_path: Path) -> None:
    message = one_sentence(run_bot(tmp_path, bot_env()))
    assert message.startswith("error: DISCORD_TOKEN is not set:")
    assert "Discord Developer Portal" in message and ".env" in message


Answer = Callable[[str, str], tuple[int, Any]]
"""Discord's answer (status, JSON) to a request (method, path)."""


@contextlib.contextmanager
def discord_stand_in(answer: Answer) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A loopback stand-in for Discord's API answering with `answer`: its base URL, and the
    requests it was sent (method, path, Authorization)."""
    seen: list[tuple[str, str, str]] = []

    class StandIn(BaseHTTPRequestHandler):
        def reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append((self.command, self.path, self.headers.get("Authorization", "")))
            status, payload = answer(self.command, self.path)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = reply

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v10", seen
    finally:
        server.shutdown()
        server.server_close()


def pointed_at(tmp_path: Path, base: str) -> str:
    """A PYTHONPATH (with this checkout) that points discord.py's HTTP at `base` as the
    process starts."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import discord.http\ndiscord.http.Route.BASE = {base!r}\n", encoding="utf-8"
    )
    return os.pathsep.join([str(site), PROJECT])


@pytest.fixture
def refusing_discord() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A stand-in for Discord that refuses every token (401)."""
    with discord_stand_in(
        lambda method, path: (401, {"message": "401: Unauthorized", "code": 0})
    ) as s:
        yield s


@pytest.mark.e2e
def test_a_refused_token_exits_saying_what_to_do(
    tmp_path: Path, refusing_discord: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = refusing_discord
    data = tmp_path / "data"
    env = bot_env(
        DISCORD_TOKEN="not-a-real-token",
        NEWSDESK_DATA_DIR=str(data),
        PYTHONPATH=pointed_at(tmp_path, base),
    )
    message = one_sentence(run_bot(tmp_path, env), DiscordRefused.exit_code)
    assert message.startswith("error: Discord refused DISCORD_TOKEN:")
    assert "Reset Token" in message
    assert seen == [("GET", "/api/v10/users/@me", "Bot not-a-real-token")]
    assert not data.exists()  # refused before the in-process API loaded anything


def logged_in(method: str, path: str) -> tuple[int, Any]:
    """Discord for a bot whose token and commands it accepts."""
    if path.endswith("/users/@me"):
        return 200, user(BOT_ID)
    if path.endswith("/oauth2/applications/@me"):
        app = {"id": str(BOT_ID), "name": "Newsdesk", "description": "", "icon": None}
        owner = {"owner": user(ALICE), "verify_key": "0" * 64, "flags": 0}
        return 200, {**app, **owner, "bot_public": True, "bot_require_code_grant": False}
    if method == "PUT" and path.endswith("/commands"):
        return 200, []
    return 404, {"message": "404: Not Found", "code": 0}


def not_in_the_guild(method: str, path: str) -> tuple[int, Any]:
    """Discord for a bot that logs in but was never invited to GUILD_ID."""
    if path.endswith(f"/guilds/{GUILD_ID}/commands"):
        return 403, {"message": "Missing Access", "code": 50001}
    return logged_in(method, path)


@pytest.mark.e2e
def test_slash_commands_refused_for_a_guild_exit_saying_what_to_do(tmp_path: Path) -> None:
    with discord_stand_in(not_in_the_guild) as (base, seen):
        env = bot_env(
            DISCORD_TOKEN="token",
            NEWSDESK_DISCORD_GUILD_ID=str(GUILD_ID),
            NEWSDESK_API_URL="http://127.0.0.1:9",
            PYTHONPATH=pointed_at(tmp_path, base),
        )
        started = time.monotonic()
        result = run_bot(tmp_path, env)
        took = time.monotonic() - started
    message = one_sentence(result, DiscordRefused.exit_code)
    assert message == (
        f"error: Discord refused the slash commands for guild {GUILD_ID} (50001 Missing Access): "
        "the bot is not in that server; invite it there (scopes bot and applications.commands) "
        "or unset NEWSDESK_DISCORD_GUILD_ID"
    )
    assert took < 10, took
    assert [(m, p) for m, p, _ in seen] == [
        ("GET", "/api/v10/users/@me"),
        ("GET", "/api/v10/oauth2/applications/@me"),
        ("PUT", f"/api/v10/applications/{BOT_ID}/guilds/{GUILD_ID}/commands"),
    ]


@pytest.mark.e2e
def test_a_failed_start_waits_the_exit_delay_so_restarts_are_spaced(tmp_path: Path) -> None:
    """Under compose (NEWSDESK_EXIT_DELAY_SECONDS=60) Docker's restarts come once a minute at
    most: the same refusal, with a 2 s delay, says why at once and exits 78 after the delay."""
    with discord_stand_in(not_in_the_guild) as (base, _):
        env = bot_env(
            DISCORD_TOKEN="token",
            NEWSDESK_DISCORD_GUILD_ID=str(GUILD_ID),
            NEWSDESK_API_URL="http://127.0.0.1:9",
            NEWSDESK_EXIT_DELAY_SECONDS="2",
            PYTHONPATH=pointed_at(tmp_path, base),
        )
        started = time.monotonic()
        result = run_bot(tmp_path, env)
        took = time.monotonic() - started
    message = one_sentence(result, DiscordRefused.exit_code)
    assert message.startswith(f"error: Discord refused the slash commands for guild {GUILD_ID}")
    assert "Exiting in 2 s (NEWSDESK_EXIT_DELAY_SECONDS)." in message
    assert took >= 2, took


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
    with pytest.raises(DiscordRefused, match="Message Content Intent"):
        main.run()


@pytest.mark.e2e
def test_slash_commands_are_synced_when_changed_or_asked(
    bot_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through discord.py's login and setup_hook against a stand-in; the gateway is left out."""

    async def offline(self: NewsdeskBot, *, reconnect: bool = True) -> None:
        pass

    monkeypatch.setattr(NewsdeskBot, "connect", offline)
    for name, value in [
        ("DISCORD_TOKEN", "token"),
        ("NEWSDESK_API_URL", "http://127.0.0.1:9"),
        ("NEWSDESK_DATA_DIR", str(bot_environment / "data")),
        ("NEWSDESK_DISCORD_GUILD_ID", str(GUILD_ID)),
    ]:
        monkeypatch.setenv(name, value)
    with discord_stand_in(logged_in) as (base, seen):
        monkeypatch.setattr(Route, "BASE", base)

        def synced(*args: str) -> list[str]:
            """The paths of the syncs one `newsdesk bot *args` made."""
            seen.clear()
            result = CliRunner().invoke(cli.app, ["bot", *args])
            assert result.exit_code == 0, result.output
            return [path for method, path, _ in seen if method == "PUT"]

        to_guild = f"/api/v10/applications/{BOT_ID}/guilds/{GUILD_ID}/commands"
        assert synced() == [to_guild]
        assert (bot_environment / "data" / main.SYNCED_FILE).is_file()
        assert synced() == []
        assert synced("--sync") == [to_guild]
        monkeypatch.setattr(client, "COMMANDS", client.COMMANDS[:-1])
        assert synced() == [to_guild]
        assert synced() == []
        monkeypatch.delenv("NEWSDESK_DISCORD_GUILD_ID")
        assert synced() == [f"/api/v10/applications/{BOT_ID}/commands"]


def http_error(
    cls: type[discord.HTTPException], status: int, code: int, text: str
) -> discord.HTTPException:
    """The error discord.py raises for Discord's answer `status` {"code": code, "message": text}."""
    response = SimpleNamespace(status=status, reason="Reason")
    return cls(response, {"code": code, "message": text})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "refused", "expected"),
    [
        (
            SyncRefused(None, http_error(discord.Forbidden, 403, 50001, "Missing Access")),
            True,
            r"^Discord refused the slash commands \(HTTP 403, code 50001: Missing Access\): "
            "check NEWSDESK_DISCORD_GUILD_ID",
        ),
        (
            http_error(discord.Forbidden, 403, 20012, "Not authorized"),
            True,
            r"^Discord refused the bot's start-up \(HTTP 403, code 20012: Not authorized\): "
            "check DISCORD_TOKEN",
        ),
        (
            http_error(discord.DiscordServerError, 503, 0, "Unavailable"),
            False,
            r"^Discord failed at start-up \(HTTP 503, code 0: Unavailable\); try again later$",
        ),
    ],
)
def test_other_start_up_failures_are_one_sentence(
    bot_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    refused: bool,
    expected: str,
) -> None:
    """Refusals exit with DiscordRefused's code; Discord's own failures, worth a retry, do not."""

    async def failing(bot: object, token: str) -> None:
        raise error

    monkeypatch.setattr(main, "serve", failing)
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("NEWSDESK_API_URL", "http://127.0.0.1:9")
    with pytest.raises(NewsdeskError, match=expected) as raised:
        main.run()
    assert isinstance(raised.value, DiscordRefused) is refused


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
