"""Conversations end to end with the REAL model: `newsdesk serve` restarted on the same data
dir continues a conversation; two apps on one Chroma server share them."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from llama_index.core.embeddings import BaseEmbedding

from newsdesk.api.app import create_app
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from tests.support.api_support import api_settings, serving

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BRIDGE = "How much will the new harbour bridge cost?"
FOLLOW_UP = "When is it expected to open?"


def test_a_conversation_outlives_a_restart_of_the_server(
    tmp_path: Path, corpus: Path, real_embedder: BaseEmbedding
) -> None:
    data = tmp_path / "data"
    Engine(Settings(data_dir=data, _env_file=None), embedder=real_embedder).sync([corpus])
    env = {"NEWSDESK_DATA_DIR": str(data)}
    with serving(tmp_path, env) as server:
        first = httpx.post(f"{server.url}/ask", json={"question": BRIDGE}, timeout=60).json()
    cid = first["conversation_id"]
    assert "84 million pounds" in first["answer"]

    with serving(tmp_path, env) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        asked = http.post("/ask", json={"question": FOLLOW_UP, "conversation_id": cid})
        assert asked.status_code == 200, asked.text
        follow = asked.json()
        assert follow["conversation_id"] == cid and follow["searched"] != FOLLOW_UP
        assert "2027" in follow["answer"]
        assert follow["citations"][0]["article_id"] == "world/harbour-bridge.txt"
        shown = http.get(f"/conversations/{cid}").json()
        assert [t["question"] for t in shown["turns"]] == [BRIDGE, FOLLOW_UP]
        assert shown["turns"][0]["citations"][0]["article_id"] == "world/harbour-bridge.txt"
        unknown = http.get(f"/conversations/{uuid.uuid4().hex}")
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


def test_two_apps_on_one_chroma_server_share_conversations(
    chroma_server: str, real_embedder: BaseEmbedding, corpus: Path, tmp_path: Path
) -> None:
    def replica(name: str) -> TestClient:
        settings = Settings(
            chroma_url=chroma_server,
            data_dir=tmp_path / name,  # each replica its own data dir: only Chroma is shared
            collection=collection,
            _env_file=None,
        )
        engine = Engine(settings, embedder=real_embedder)
        return TestClient(create_app(api_settings(settings), engine=engine))

    collection = f"conv-{uuid.uuid4().hex[:8]}"
    with replica("one") as one:
        one.app.state.runtime.engine.sync([corpus])  # type: ignore[attr-defined]
        cid = one.post("/ask", json={"question": BRIDGE}).json()["conversation_id"]
    with replica("two") as two:
        follow = two.post("/ask", json={"question": FOLLOW_UP, "conversation_id": cid}).json()
        assert "2027" in follow["answer"]
        assert len(two.get(f"/conversations/{cid}").json()["turns"]) == 2
    with replica("three") as three:
        assert three.delete(f"/conversations/{cid}").status_code == 204
        assert three.get(f"/conversations/{cid}").status_code == 404
