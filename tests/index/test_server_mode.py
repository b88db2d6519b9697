"""Server mode for real: Newsdesk against a `chroma run` subprocess on loopback, real model."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from llama_index.core.embeddings import BaseEmbedding

from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from newsdesk.index.errors import ArticleNotFound, ConfigError, StoreUnavailable
from newsdesk.index.store import Bounded, connect, server_url
from tests.support.chroma_server import free_port

# The tests on a `chroma run` server are marked integration and e2e by their fixtures
# (tests/conftest.py); the others need neither the real model nor a server.

BRIDGE = "world/harbour-bridge.txt"
BRIDGE_QUESTION = "How much will the new harbour bridge cost?"


def server_settings(url: str, data_dir: Path, collection: str) -> Settings:
    return Settings(chroma_url=url, data_dir=data_dir, collection=collection, _env_file=None)


def cited_ids(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.article_id for c in answer.citations]


def report_counts(report) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    return report.added, report.updated, report.removed, report.unchanged


def test_sync_ask_delete_through_chroma_server(
    chroma_server: str, real_embedder: BaseEmbedding, corpus: Path, tmp_path: Path
) -> None:
    collection = f"srv-{uuid.uuid4().hex[:8]}"
    settings = server_settings(chroma_server, tmp_path / "writer", collection)
    engine = Engine(settings, embedder=real_embedder)
    assert engine.location == chroma_server
    assert engine.stats()["index"] == chroma_server

    report = engine.sync([corpus])
    assert report_counts(report) == (6, 0, 0, 0)
    assert sorted(s["path"] for s in report.skipped) == [
        "tech/chips.jsonl:3",
        "tech/chips.jsonl:4",
        "tech/logo.txt",
        "world/empty.txt",
    ]
    counts = engine.counts()
    assert counts["articles"] == 6
    assert counts["chunks"] == report.chunks_added > 0
    # The vectors live in the server, not in an embedded store under the data dir.
    assert not (settings.data_dir / "chroma").exists()

    answer = engine.ask(BRIDGE_QUESTION)
    assert answer.answered
    assert cited_ids(answer)[0] == BRIDGE
    assert "84 million pounds" in answer.answer
    assert "[1]" in answer.answer
    for citation in answer.citations:
        text, _ = engine.article(citation.article_id)
        assert citation.quote in text

    answer = engine.ask("Where will the Voltra 2nm chip be made?")
    assert cited_ids(answer)[0] == "chips-1"
    assert answer.citations[0].published_at == "2025-03-03"
    assert answer.citations[0].source == "Tech Wire"

    # A second process with its own data dir (an API replica) reads the same index.
    reader = Engine(server_settings(chroma_server, tmp_path / "reader", collection), real_embedder)
    assert reader.counts() == counts
    assert cited_ids(reader.ask(BRIDGE_QUESTION))[0] == BRIDGE

    bridge_chunks = len(engine._store.chunks.get(where={"article_id": BRIDGE}, include=[])["ids"])
    assert bridge_chunks > 0
    engine.delete(BRIDGE)
    assert engine.counts() == {
        "articles": 5,
        "chunks": counts["chunks"] - bridge_chunks,
    }
    with pytest.raises(ArticleNotFound):
        engine.article(BRIDGE)
    for asker in (engine, reader):  # the reader sees the delete too (its keyword index goes stale)
        answer = asker.ask(BRIDGE_QUESTION)
        assert BRIDGE not in cited_ids(answer)
        assert "84 million" not in answer.answer

    # The deleted article is still in the source folder, so the next sync brings it back.
    assert report_counts(engine.sync([corpus])) == (1, 0, 0, 5)
    assert cited_ids(reader.ask(BRIDGE_QUESTION))[0] == BRIDGE


def test_collections_are_separate_on_one_server(
    chroma_server: str, real_embedder: BaseEmbedding, corpus: Path, tmp_path: Path
) -> None:
    filled = Engine(
        server_settings(chroma_server, tmp_path / "a", f"srv-{uuid.uuid4().hex[:8]}"),
        real_embedder,
    )
    filled.sync([corpus])
    empty = Engine(
        server_settings(chroma_server, tmp_path / "b", f"srv-{uuid.uuid4().hex[:8]}"),
        real_embedder,
    )
    assert empty.counts() == {"articles": 0, "chunks": 0}
    assert empty.list_articles(10) == []
    assert filled.counts()["articles"] == 6


def test_nothing_listening_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable) as caught:
        connect(server_settings(url, tmp_path, "newsdesk"))
    message = str(caught.value)
    assert url in message
    assert "is it running?" in message
    assert "\n" not in message


class NotChroma(BaseHTTPRequestHandler):
    """A web server that is not Chroma: 404 for everything."""

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def not_chroma() -> Iterator[str]:
    """URL of a loopback HTTP server that answers 404 to every request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotChroma)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.e2e
def test_a_server_that_is_not_chroma_is_a_clear_error(not_chroma: str, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="is it a Chroma server"):
        connect(server_settings(not_chroma, tmp_path, "newsdesk"))


class Silent(BaseHTTPRequestHandler):
    """A Chroma server that stops answering: its heartbeat answers, nothing else does."""

    def do_GET(self) -> None:
        if self.path.endswith("/heartbeat"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"nanosecond heartbeat": 1}')
            return
        time.sleep(5)  # past the client's timeout; the test's server shuts down after it

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.e2e
def test_a_server_that_stops_answering_is_unavailable_within_the_timeout(
    tmp_path: Path,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings = server_settings(url, tmp_path, "newsdesk").model_copy(update={"chroma_timeout": 0.5})
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.5 s"):
            connect(settings)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 3


def test_bounded_calls_give_up_and_cap_the_calls_left_waiting() -> None:
    release = threading.Event()
    slow = Bounded(release, 0.2, threading.Semaphore(1))
    with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.2 s"):
        slow.wait(10)  # its thread keeps the only slot until `release` is set
    with pytest.raises(StoreUnavailable, match=r"has not answered for 0\.2 s"):
        slow.is_set()
    release.set()
    time.sleep(0.1)
    assert slow.is_set() is True  # the slot is back; results and attributes pass through
    with pytest.raises(TypeError):
        slow.wait(1, 2)  # the call's own error reaches the caller


@pytest.mark.parametrize(
    "url",
    ["localhost:8000", "ftp://127.0.0.1:8000", "http://127.0.0.1:99999", "http://:8000"],
)
def test_malformed_url_is_a_config_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEWSDESK_CHROMA_URL"):
        connect(server_settings(url, tmp_path, "newsdesk"))


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("http://chroma", "http://chroma:8000"),
        (" http://chroma:8000/ ", "http://chroma:8000"),
        ("https://vectors.example.org", "https://vectors.example.org:443"),
        ("http://[::1]:8001", "http://[::1]:8001"),
        ("http://proxy:80/chroma/", "http://proxy:80/chroma"),
        ("http://chroma:8000/api/v2", "http://chroma:8000"),
    ],
)
def test_server_url_is_normalised(raw: str, normalised: str) -> None:
    assert server_url(raw) == normalised
