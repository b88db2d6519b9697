"""A real Chroma server for tests: the `chroma run` that the chromadb package ships, on loopback.

Every wait is bounded and the process is always stopped, also when start-up fails.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
"""Seconds `chroma run` may take to answer its first heartbeat (it is ~1 s when idle)."""
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def chroma_command() -> list[str]:
    """The `chroma` console script of the running interpreter's environment."""
    script = Path(sys.executable).with_name("chroma")
    if script.is_file():
        return [str(script)]
    found = shutil.which("chroma")
    if found:
        return [found]
    # The script is a thin wrapper around this entry point.
    return [sys.executable, "-c", "import sys; from chromadb.cli.cli import app; sys.exit(app())"]


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of the server's log, for failure messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server, then kill it if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


@contextmanager
def running_chroma(workdir: Path) -> Iterator[str]:
    """Start `chroma run --path WORKDIR/db` on a free loopback port; yield its URL; stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://{HOST}:{port}"
    log = workdir / "chroma.log"
    args = ["run", "--path", str(workdir / "db"), "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*chroma_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the test run is handled here, not by the server
        )
    try:
        wait_for_heartbeat(url, proc, log)
        yield url
    finally:
        stop(proc)


def wait_for_heartbeat(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the v2 heartbeat until it answers 200; fail fast if the server exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"chroma run gave no heartbeat in {START_TIMEOUT:.0f}s:\n{log_tail(log)}")
