"""Helpers for the API tests: apps on temp dirs, `newsdesk serve` as a real subprocess, waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.index.config import Settings

TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`.

    A deadline for things that happen in the background, not a speed assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def api_settings(base: Settings, **changes: Any) -> Settings:
    """Test settings: admin token set, rate limits off, unless `changes` say otherwise."""
    defaults: dict[str, Any] = {"admin_token": TOKEN, "ask_rate_limit": 0, "feedback_rate_limit": 0}
    return Settings(**{**base.model_dump(), **defaults, **changes}, _env_file=None)


@contextmanager
def running_app(settings: Settings) -> Iterator[TestClient]:
    """A TestClient whose lifespan has loaded the engine (/ready answers 200)."""
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/ready").status_code == 200, "the app to be ready")
        yield client


@contextmanager
def live_app(settings: Settings, wait_ready: bool = True) -> Iterator[tuple[str, FastAPI]]:
    """The app under a real uvicorn on a loopback port, in a thread of this process, configured
    as `newsdesk serve` configures it; yielded once ready (or only serving: `wait_ready`)."""
    import uvicorn

    from newsdesk.api.server import server_options

    app = create_app(settings)
    port = free_port()
    served = settings.model_copy(update={"api_host": "127.0.0.1", "api_port": port})
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, **server_options(served)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            probe = "/ready" if wait_ready else "/health"
            return httpx.get(f"{url}{probe}", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, "uvicorn to serve the app")
        yield url, app
    finally:
        server.should_exit = True
        thread.join(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `newsdesk serve` subprocess."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def newsdesk_command() -> list[str]:
    """The `newsdesk` command, run by this interpreter from the code under test."""
    return [sys.executable, "-m", "newsdesk"]


@contextmanager
def serving(workdir: Path, env: dict[str, str], timeout: float = 180.0) -> Iterator[Server]:
    """Run `newsdesk serve` on a free loopback port with only the given NEWSDESK_* settings;
    yield once /ready answers 200; stop it with SIGINT (as Ctrl-C would) at the end."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    log = workdir / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*newsdesk_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env={**clean, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"newsdesk serve exited early:\n{server.log_text()}")
        try:
            return httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, "newsdesk serve to be ready", timeout)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
