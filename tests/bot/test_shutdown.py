"""`newsdesk bot` under `docker stop` (SIGTERM) or Ctrl-C (SIGINT): the client closes cleanly,
the API client with it, and `serve` returns instead of the process being killed."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest

from newsdesk.bot.api_client import ApiClient
from newsdesk.bot.client import NewsdeskBot
from newsdesk.bot.main import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_closes_the_bot_cleanly(
    signum: signal.Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    bot = NewsdeskBot(ApiClient(http), cooldown_seconds=0)
    connected = asyncio.Event()

    async def start(token: str) -> None:  # stands in for login and the gateway connection
        connected.set()
        while not bot.is_closed():
            await asyncio.sleep(0.01)

    monkeypatch.setattr(bot, "start", start)
    before = signal.getsignal(signum)
    running = asyncio.create_task(serve(bot, "token"))
    await asyncio.wait_for(connected.wait(), 10)
    assert signal.getsignal(signum) not in (signal.SIG_DFL, before)  # ours, not the default
    os.kill(os.getpid(), signum)
    await asyncio.wait_for(running, 10)
    assert bot.is_closed() and http.is_closed and bot.api_closed
    assert signal.getsignal(signum) == before  # handlers removed once stopped
