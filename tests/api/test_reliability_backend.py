"""Backend faults: `newsdesk serve` in Chroma server mode while the `chroma run` behind it hangs
(SIGSTOP) and then stops (SIGTERM): /ready turns 503, /ask answers 503 + Retry-After within the
store timeout instead of hanging, and both recover by themselves once the server is back (the
same port and path). Latencies are reported, never asserted."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from newsdesk.index.embeddings import TEST_MODEL
from tests.support.api_support import ADMIN, TOKEN, serving
from tests.support.reliability_support import chroma_process, ms, print_figures, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

STORE_TIMEOUT = 3
"""NEWSDESK_CHROMA_TIMEOUT for the test: how long a request may wait for a silent server."""
QUESTION = "How much will the new harbour bridge cost?"
BRIDGE = {
    "id": "world/harbour-bridge",
    "title": "Council approves new harbour bridge",
    "text": "The city council of Port Elling approved a new harbour bridge on Tuesday after a "
    "heated debate. The bridge will cost 84 million pounds and is expected to open in 2027.",
}
GLACIER = {
    "id": "world/glacier",
    "title": "Glacier retreats faster",
    "text": "The Morteratsch glacier lost 40 metres of length last year, researchers said. The "
    "retreat is twice as fast as ten years ago.",
}


def timed(
    call: httpx.Client, method: str, path: str, **kwargs: object
) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response, time.perf_counter() - started


def outage(http: httpx.Client) -> dict[str, float]:
    """Check every kind of request during an outage; returns their latencies (seconds)."""
    seconds = {}
    ready, seconds["ready"] = timed(http, "GET", "/ready")
    assert ready.status_code == 503 and ready.headers["retry-after"], ready.text
    asked, seconds["ask"] = timed(http, "POST", "/ask", json={"question": QUESTION})
    assert asked.status_code == 503, asked.text
    assert int(asked.headers["retry-after"]) > 0
    assert "cannot be reached" in asked.json()["detail"]
    streamed, seconds["stream"] = timed(http, "POST", "/ask/stream", json={"question": QUESTION})
    assert "event: error" in streamed.text and "service_unavailable" in streamed.text
    for method, path, body in [
        ("GET", "/articles", None),
        ("GET", f"/articles/{BRIDGE['id']}", None),
        ("GET", "/stats", None),
        ("POST", "/articles", {"title": "t", "text": "Written while the store is down."}),
    ]:
        response, _ = timed(http, method, path, json=body, headers=ADMIN)
        assert response.status_code == 503, (method, path, response.text)
    assert http.get("/health").status_code == 200  # the process itself is fine
    return seconds


def access_statuses(log: str) -> list[int]:
    """Statuses of the requests in a `newsdesk serve` log (one JSON line each)."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [int(line["status"]) for line in lines if line.get("logger") == "newsdesk.access"]


def recovered(http: httpx.Client, answer: str) -> bool:
    if http.get("/ready").status_code != 200:
        return False
    response = http.post("/ask", json={"question": QUESTION})
    return response.status_code == 200 and response.json()["answer"] == answer


def test_chroma_server_hangs_then_stops_then_comes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with chroma_process(tmp_path / "chroma") as chroma:
        env = {
            "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
            "NEWSDESK_CHROMA_URL": chroma.url,
            "NEWSDESK_CHROMA_TIMEOUT": str(STORE_TIMEOUT),
            "NEWSDESK_EMBED_MODEL": TEST_MODEL,
            "NEWSDESK_ADMIN_TOKEN": TOKEN,
            "NEWSDESK_ASK_RATE_LIMIT": "0",
        }
        with (
            serving(tmp_path, env) as server,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            for article in (BRIDGE, GLACIER):
                assert http.post("/articles", json=article, headers=ADMIN).status_code == 201
            before = http.post("/ask", json={"question": QUESTION}).json()
            assert before["answered"] and "84 million pounds" in before["answer"]
            counts = http.get("/ready").json()

            assert chroma.proc is not None
            os.killpg(chroma.proc.pid, signal.SIGSTOP)  # alive, listening, silent
            try:
                hung = outage(http)
            finally:
                os.killpg(chroma.proc.pid, signal.SIGCONT)
            after_hang = wait_until(
                lambda: recovered(http, before["answer"]), "recovery from the hang", 60, step=0.2
            )

            chroma.stop()  # gone: connections refused
            down = outage(http)
            restarted = time.monotonic()
            chroma.start()
            wait_until(
                lambda: recovered(http, before["answer"]),
                "recovery after the restart",
                60,
                step=0.2,
            )
            after_restart = time.monotonic() - restarted
            assert http.get("/ready").json() == counts  # nothing lost or added meanwhile
        assert server.process.returncode == 0
        statuses = access_statuses(server.log_text())
    other_5xx = [s for s in statuses if s >= 500 and s != 503]
    assert other_5xx == []

    print_figures(
        capsys,
        "backend faults",
        {
            "hung server (SIGSTOP)": f"/ready 503 in {ms(hung['ready'])}, /ask 503 in "
            f"{ms(hung['ask'])}, stream error in {ms(hung['stream'])} (timeout {STORE_TIMEOUT} s)",
            "recovered after SIGCONT in": ms(after_hang),
            "stopped server": f"/ready 503 in {ms(down['ready'])}, /ask 503 in {ms(down['ask'])}",
            "recovered after restart in": f"{after_restart:.1f} s (restart included)",
            "requests": len(statuses),
            "503": statuses.count(503),
            "5xx other than 503": len(other_5xx),
        },
    )
