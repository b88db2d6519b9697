"""Incremental sync with the deterministic test embedder and a real embedded Chroma."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from newsdesk.index import embeddings
from newsdesk.index.articles import Article
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from newsdesk.index.errors import ArticleNotFound, ConfigError, IndexLocked, ModelMismatch
from newsdesk.index.store import LAYOUT


def counts(report) -> tuple[int, int, int, int, int]:  # type: ignore[no-untyped-def]
    return report.added, report.updated, report.removed, report.unchanged, len(report.skipped)


def chunk_ids(engine: Engine) -> list[str]:
    return sorted(engine._store.chunks.get(include=[])["ids"])


def test_first_sync_then_noop(fake_settings: Settings, corpus: Path) -> None:
    engine = Engine(fake_settings)
    first = engine.sync([corpus])
    assert counts(first) == (6, 0, 0, 0, 4)
    assert first.chunks_added == engine.counts()["chunks"] > 0
    before = chunk_ids(engine)
    generation = engine.generation

    second = engine.sync([corpus])
    assert counts(second) == (0, 0, 0, 6, 4)
    assert (second.chunks_added, second.chunks_removed) == (0, 0)
    assert chunk_ids(engine) == before
    assert engine.generation == generation  # nothing written


def test_model_loads_at_the_first_embedding(
    fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Engine(fake_settings).sync([corpus])
    loads: list[Settings] = []
    build = embeddings.build_embedder
    monkeypatch.setattr(embeddings, "build_embedder", lambda s: loads.append(s) or build(s))
    engine = Engine(fake_settings)
    assert counts(engine.sync([corpus])) == (0, 0, 0, 6, 4)
    assert engine.stats()["articles"] == 6
    assert loads == []
    bridge = corpus / "world/harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("84 million", "91 million"))
    assert counts(engine.sync([corpus])) == (0, 1, 0, 5, 4)
    engine.ask("How much did the harbour bridge cost?")
    assert loads == [fake_settings]  # loaded once, for the edited article


def test_edit_delete_add_resync(fake_settings: Settings, corpus: Path) -> None:
    engine = Engine(fake_settings)
    engine.sync([corpus])
    bridge = corpus / "world/harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("84 million", "91 million"))
    (corpus / "world/glacier.md").unlink()
    (corpus / "world/new.txt").write_text("Fresh headline\n\nA brand new article about tides.")
    report = engine.sync([corpus])
    assert counts(report) == (1, 1, 1, 4, 4)
    ids = chunk_ids(engine)
    assert not any(i.startswith("world/glacier.md#") for i in ids)
    assert any(i.startswith("world/new.txt#") for i in ids)
    text, _ = engine.article("world/harbour-bridge.txt")
    assert "91 million" in text
    chunks = [row for page in engine._store.chunk_texts() for row in page]
    bridge = [t for i, t, _ in chunks if i.startswith("world/harbour-bridge.txt#")]
    assert bridge and all("84 million" not in t for t in bridge)
    assert any("91 million" in t for t in bridge)


def test_sources_are_independent(fake_settings: Settings, corpus: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "solo.txt").write_text("Solo story\n\nSomething happened in another source.")
    engine = Engine(fake_settings)
    engine.sync([corpus, other])
    (other / "solo.txt").unlink()
    report = engine.sync([other])
    assert counts(report) == (0, 0, 1, 0, 0)
    assert engine.counts()["articles"] == 6  # the corpus source is untouched


def test_an_index_of_an_older_layout_is_refused(fake_settings: Settings, corpus: Path) -> None:
    """An index of layout 3 or before (no layout in the chunk collection, one in each record) is
    not read: opening it says which layout it has and that a re-ingest is the upgrade."""
    engine = Engine(fake_settings)
    engine.sync([corpus])
    metadata = dict(engine._store.chunks.metadata)
    assert metadata["layout"] == LAYOUT
    del metadata["layout"]
    engine._store.chunks.modify(metadata={**metadata, "schema": 1})
    records = engine._store.records()
    engine._store.articles.upsert(
        ids=list(records), metadatas=[{"layout": 2}] * len(records), embeddings=[[1.0]] * 6
    )
    with pytest.raises(ConfigError) as refused:
        Engine(fake_settings)
    message = str(refused.value)
    assert message.startswith("this index was built by an older Newsdesk (layout 2); re-ingest")
    assert "NEWSDESK_DATA_DIR / NEWSDESK_COLLECTION" in message
    assert str(fake_settings.data_dir / "chroma") in message


def test_records_keep_their_fields(fake_settings: Settings, corpus: Path) -> None:
    """Records are packed into three Chroma keys and read back whole."""
    engine = Engine(fake_settings)
    engine.sync([corpus])
    records = engine._store.records()
    assert len(records) == 6
    for article_id, record in records.items():
        assert record["n_chunks"] > 0 and record["content_hash"] and record["title"]
        assert engine._store.entry(article_id).n_chunks == record["n_chunks"]  # type: ignore[union-attr]
    raw = engine._store.articles.get(limit=1, include=["metadatas"])["metadatas"][0]
    assert set(raw) == {"origin", "source", "record"}


def test_same_id_in_two_sources_is_skipped(fake_settings: Settings, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "story.txt").write_text(f"Story {folder.name}\n\nText of {folder.name}.")
    engine = Engine(fake_settings)
    engine.sync([a])
    report = engine.sync([b])
    assert counts(report) == (0, 0, 0, 0, 1)
    assert "already used by source" in report.skipped[0]["reason"]


def test_upsert_and_delete_single_article(fake_settings: Settings) -> None:
    engine = Engine(fake_settings)
    article = Article(id="api-1", title="Posted", text="A posted article about lighthouses.")
    assert engine.upsert(article).added == 1
    assert engine.upsert(article).unchanged == 1
    article.text += " Now with more keepers."
    assert engine.upsert(article).updated == 1
    engine.delete("api-1")
    assert engine.counts() == {"articles": 0, "chunks": 0}
    with pytest.raises(ArticleNotFound):
        engine.delete("api-1")


def test_model_mismatch_is_refused(fake_settings: Settings, corpus: Path) -> None:
    Engine(fake_settings).sync([corpus])
    from newsdesk.index.store import Store

    def unasked() -> int:
        raise AssertionError("an existing index needs no vector size (nor the model)")

    with pytest.raises(ModelMismatch, match="built with embedding model 'test-hash'"):
        Store(fake_settings, "some-other-model", unasked)


def _hold_lock(data_dir: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    from newsdesk.index.store import writer_lock

    with writer_lock(Path(data_dir)):
        ready.set()
        release.wait(30)


@pytest.mark.e2e
def test_second_writer_is_refused(fake_settings: Settings, corpus: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(fake_settings.data_dir), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        engine = Engine(fake_settings)
        with pytest.raises(IndexLocked, match="another Newsdesk process"):
            engine.sync([corpus])
    finally:
        release.set()
        holder.join(30)
    assert Engine(fake_settings).sync([corpus]).added == 6


def tripping_punkt(monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    """Punkt under NLTK's own regex guard (`nltk.redos`), its time limit made too small to
    finish for texts holding `marker`: the guard trips for that article, deterministically."""
    import nltk.redos

    from newsdesk.index.answer import sentences

    punkt = sentences._punkt()

    class Tripping:
        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            limit = nltk.redos.DEFAULT_TIMEOUT
            nltk.redos.DEFAULT_TIMEOUT = 1e-9 if marker in text else limit
            try:
                return list(punkt.span_tokenize(text))
            finally:
                nltk.redos.DEFAULT_TIMEOUT = limit

    monkeypatch.setattr(sentences, "_punkt", Tripping)


def test_an_article_the_sentence_splitter_fails_on_is_skipped_not_the_sync(
    fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sardines = corpus / "world/sardines.txt"
    sardines.write_text("Sardine glut\n\nThe harbour is full of sardines this week.\n")
    engine = Engine(fake_settings)
    assert counts(engine.sync([corpus])) == (7, 0, 0, 0, 4)
    tripping_punkt(monkeypatch, "Sardines.")
    sardines.write_text("Sardine glut\n\n" + "Sardines. " * 50 + "\n")
    (corpus / "world/new.txt").write_text("Fresh headline\n\nA brand new article about tides.")

    report = engine.sync([corpus])  # the changed article fails: skipped, and its old text goes
    assert counts(report) == (1, 0, 1, 6, 5)
    reason = {s["path"]: s["reason"] for s in report.skipped}["world/sardines.txt"]
    assert reason.startswith("text cannot be split into sentences (TimeoutError")
    assert engine._store.entry("world/sardines.txt") is None
    assert not any(i.startswith("world/sardines.txt#") for i in chunk_ids(engine))
    assert engine._store.entry("world/new.txt") is not None
    assert engine.counts()["articles"] == 7


def test_sentence_splitting_stays_within_a_tight_regex_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """80,000 one-word sentences (240 KB) took over 2 s in one Punkt scan, on an idle core, and
    NLTK stops a scan after 5 s: under load a sync failed. With a 0.5 s limit (a machine ten
    times slower) they are split, and chunked, all the same."""
    import nltk.redos

    from newsdesk.index.answer.sentences import split_sentences
    from newsdesk.index.chunking import Chunker

    monkeypatch.setattr(nltk.redos, "DEFAULT_TIMEOUT", 0.5)
    text = "a. " * 80_000
    sentences = split_sentences(text)
    assert all(text[s.start : s.end] == s.text for s in sentences)
    assert "".join(s.text for s in sentences).replace(" ", "") == "a." * 80_000
    nodes = Chunker(192, 32).chunk(Article(id="a", title="a", text=text.strip()), "x")
    assert "".join(n.text for n in nodes).count("a.") >= 80_000
