"""`newsdesk serve` as a real subprocess (uvicorn, loopback port, temp data dir) with the REAL
bundled model: add an article, see it cited, delete it, see the question refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from newsdesk.index.errors import IndexLocked
from newsdesk.index.store import writer_lock
from tests.support.api_support import ADMIN, TOKEN, serving

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LIGHTHOUSE = {
    "id": "wire/kerlaz-lighthouse",
    "title": "Kerlaz lighthouse to be restored",
    "text": "The regional council of Finistere approved the restoration of the Kerlaz lighthouse "
    "on Friday. Restoring the lighthouse will cost 3.4 million euros, paid by the region and "
    "the state.\nWork starts in May and the lamp will shine again in the summer of 2027.",
    "published_at": "2025-05-02",
    "source": "Ouest Wire",
}
BRIDGE = {
    "title": "Council approves new harbour bridge",
    "text": "The city council of Port Elling approved a new harbour bridge on Tuesday after a "
    "heated debate. The bridge will cost 84 million pounds and is expected to open in 2027.",
}
QUESTION = "How much will restoring the Kerlaz lighthouse cost?"


def access_lines(log: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "newsdesk.access"]


def test_serve_add_ask_delete_ask_with_the_real_model(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"NEWSDESK_DATA_DIR": str(data), "NEWSDESK_ADMIN_TOKEN": TOKEN}
    with serving(tmp_path, env) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        with pytest.raises(IndexLocked), writer_lock(data):
            pass  # the server owns the index: no other process may write to it meanwhile

        added = http.post("/articles", json=LIGHTHOUSE, headers=ADMIN)
        assert added.status_code == 201, added.text
        assert http.post("/articles", json=BRIDGE, headers=ADMIN).status_code == 201

        asked = http.post("/ask", json={"question": QUESTION})
        answer = asked.json()
        assert answer["answered"], answer
        assert answer["citations"][0]["article_id"] == LIGHTHOUSE["id"]
        assert "3.4 million euros" in answer["answer"] and "[1]" in answer["answer"]
        article = http.get(f"/articles/{LIGHTHOUSE['id']}").json()
        assert answer["citations"][0]["quote"] in article["text"]

        streamed = http.post("/ask/stream", json={"question": QUESTION}).text
        assert streamed.startswith("event: citation") and "event: done" in streamed

        assert http.delete(f"/articles/{LIGHTHOUSE['id']}", headers=ADMIN).status_code == 204
        refused = http.post("/ask", json={"question": QUESTION}).json()
        assert refused["answered"] is False and refused["citations"] == []
        assert refused["answer"] == "I could not find this in the articles."

    assert server.process.returncode == 0  # Ctrl-C: a clean shutdown
    lines = access_lines(server.log_text())
    ask_line = next(line for line in lines if line["request_id"] == asked.headers["x-request-id"])
    assert (ask_line["method"], ask_line["path"], ask_line["status"]) == ("POST", "/ask", 200)
    assert isinstance(ask_line["latency_ms"], float)
    with writer_lock(data):  # released at shutdown
        pass
