"""`newsdesk bot`: settings checked first, then the bot runs until interrupted.

Problems a user fixes (no token, a token Discord refuses, the Message Content intent not
enabled, slash commands refused, Discord unreachable) end it with one sentence, never a
traceback; what Discord refused exits with DiscordRefused's code (78), for a restart won't help.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import aiohttp
import discord

from newsdesk.bot.api_client import ApiClient
from newsdesk.bot.client import NewsdeskBot, SyncRefused
from newsdesk.bot.config import BotSettings
from newsdesk.index import ConfigError, DiscordRefused, NewsdeskError, Settings

log = logging.getLogger("newsdesk.bot")

PORTAL = "the Discord Developer Portal (your application → Bot)"
NO_TOKEN = (
    f"DISCORD_TOKEN is not set: put your bot's token from {PORTAL} in the environment or in "
    'a .env file (README, "Discord bot")'
)
BAD_TOKEN = (
    f"Discord refused DISCORD_TOKEN: copy the bot's current token from {PORTAL}, "
    '"Reset Token", into DISCORD_TOKEN'
)
NO_INTENT = (
    f'Discord refused the Message Content intent: enable "Message Content Intent" in {PORTAL}, '
    "under Privileged Gateway Intents"
)
MISSING_ACCESS = 50001
"""Discord's error code for a guild the bot is not in (or has no applications.commands in)."""
NOT_IN_GUILD = (
    "Discord refused the slash commands for guild {guild} (50001 Missing Access): the bot is not "
    "in that server; invite it there (scopes bot and applications.commands) or unset "
    "NEWSDESK_DISCORD_GUILD_ID"
)
SYNC_REFUSED = (
    "Discord refused the slash commands ({detail}): check NEWSDESK_DISCORD_GUILD_ID and that the "
    "bot was invited with the applications.commands scope"
)
START_REFUSED = (
    f"Discord refused the bot's start-up ({{detail}}): check DISCORD_TOKEN and the application "
    f"in {PORTAL}"
)


def detail(error: discord.HTTPException) -> str:
    """Discord's answer in a few words, e.g. "HTTP 403, code 50001: Missing Access"."""
    return f"HTTP {error.status}, code {error.code}: {error.text or error.response.reason}"


def refused(exc: SyncRefused) -> DiscordRefused:
    """The sentence for slash commands Discord refused."""
    if exc.guild_id is not None and exc.error.code == MISSING_ACCESS:
        return DiscordRefused(NOT_IN_GUILD.format(guild=exc.guild_id))
    return DiscordRefused(SYNC_REFUSED.format(detail=detail(exc.error)))


SYNCED_FILE = "discord-commands.sha256"
"""In NEWSDESK_DATA_DIR: the hash of the slash commands last synced."""


def build(bot_settings: BotSettings, settings: Settings, *, sync: bool = False) -> NewsdeskBot:
    """The bot, talking to NEWSDESK_API_URL, or to the API app in this process when unset;
    it syncs its slash commands when they changed, or always with `sync`."""
    timeout = bot_settings.api_timeout_seconds
    if bot_settings.api_url:
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        service = settings.service_token.get_secret_value() if settings.service_token else None
        api = ApiClient.remote(
            bot_settings.api_url, timeout=timeout, admin_token=token, service_token=service
        )
    else:
        api = ApiClient.in_process(settings, timeout=timeout)
    return NewsdeskBot(
        api,
        guild_id=bot_settings.discord_guild_id,
        cooldown_seconds=bot_settings.ask_cooldown_seconds,
        allowed_guilds=frozenset(bot_settings.discord_guilds),
        dms=bot_settings.discord_dms,
        synced_file=settings.data_dir / SYNCED_FILE,
        force_sync=sync,
    )


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""`docker stop` (SIGTERM) and Ctrl-C (SIGINT): the bot closes cleanly."""


async def serve(bot: NewsdeskBot, token: str) -> None:
    """Log in (a refused token fails here, before anything loads), then stay connected until
    SIGTERM or SIGINT, which close the client: the gateway is left, the API client closed and,
    in process, a running reindex given a moment to finish (else the next sync redoes what was
    left) before the index is released."""
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        log.info("%s received: closing the bot", signal.Signals(signum).name)
        closing.append(loop.create_task(bot.close()))

    closing: list[asyncio.Task[None]] = []
    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(signum)
    try:
        async with bot:
            await bot.start(token)
        if closing:
            await asyncio.gather(*closing)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def run(*, sync: bool = False) -> None:
    """Run the bot (`sync`: sync its slash commands even if unchanged); raise a NewsdeskError
    (one sentence) for anything the user must fix."""
    bot_settings = BotSettings()
    if bot_settings.discord_token is None:
        raise ConfigError(NO_TOKEN)
    settings = Settings()
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # the bot has no voice
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    bot = build(bot_settings, settings, sync=sync)
    try:
        asyncio.run(serve(bot, bot_settings.discord_token.get_secret_value()))
    except discord.LoginFailure:
        raise DiscordRefused(BAD_TOKEN) from None
    except discord.PrivilegedIntentsRequired:
        raise DiscordRefused(NO_INTENT) from None
    except SyncRefused as exc:
        raise refused(exc) from None
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as exc:
        raise NewsdeskError(f"cannot reach Discord: {exc}") from None
    except discord.DiscordServerError as exc:
        raise NewsdeskError(
            f"Discord failed at start-up ({detail(exc)}); try again later"
        ) from None
    except discord.HTTPException as exc:
        raise DiscordRefused(START_REFUSED.format(detail=detail(exc))) from None
