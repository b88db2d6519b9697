"""The one writer: make the index mirror a source, embedding only what changed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from llama_index.core.schema import TextNode

from newsdesk.index.answer.sentences import Sentence, split_sentences
from newsdesk.index.articles import Article, Skipped, iter_source
from newsdesk.index.chunking import Chunker
from newsdesk.index.config import Settings
from newsdesk.index.errors import ArticleNotFound, InvalidArticle
from newsdesk.index.sentence_vectors import (
    SentenceVectors,
    SpanEmbedder,
    embed_articles,
    plan_spans,
)
from newsdesk.index.store import Entry, Store, extra_json

API_ORIGIN = "api"
"""Origin of articles sent one by one (POST /articles); never removed by a folder sync."""
BATCH_CHUNKS = 512
"""Chunks embedded and written together: bigger batches embed faster, smaller lose less."""

Progress = Callable[[int, int], None]
"""Called with (articles done, articles to embed) while a sync works."""
Prepared = tuple[Article, list[TextNode], list[Sentence]]
"""An article with its chunks and its sentences, ready to embed."""


@dataclass
class SyncReport:
    """What a sync did; `newsdesk ingest --json` prints exactly this."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merge(self, other: SyncReport) -> None:
        """Add another report's counts to this one (a sync of several sources)."""
        for name in ("added", "updated", "removed", "unchanged", "chunks_added", "chunks_removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.extend(other.skipped)
        self.seconds = round(self.seconds + other.seconds, 3)


def origin_of(source: Path) -> str:
    """The key under which a source's articles are recorded: its absolute path."""
    return str(source.expanduser().resolve())


class Indexer:
    """Writes articles into the store: chunk, embed in batches, replace, then record."""

    def __init__(self, settings: Settings, store: Store, embedder: SpanEmbedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.on_change: list[Callable[[], None]] = []

    @cached_property
    def chunker(self) -> Chunker:
        """Made when an article is first chunked: its tokenizer takes a while to load, and a
        sync with nothing to do needs none."""
        return Chunker(self.settings.chunk_size, self.settings.chunk_overlap)

    # ----------------------------------------------------------------- public operations

    def sync(self, source: Path, progress: Progress | None = None) -> SyncReport:
        """Make the index mirror `source`: add new, re-embed changed, remove vanished articles."""
        started = time.perf_counter()
        origin = origin_of(source)
        report = SyncReport()
        self._recover()
        indexed = self.store.entries()
        mine = {i: e for i, e in indexed.items() if e.origin == origin}
        seen: set[str] = set()
        pending: list[Article] = []
        for item in iter_source(source, self.settings.max_file_bytes):
            if isinstance(item, Skipped):
                report.skipped.append({"path": item.path, "reason": item.reason})
                continue
            if item.id in seen:
                report.skipped.append({"path": item.id, "reason": "duplicate article id"})
                continue
            if item.id in indexed and item.id not in mine:
                owner = indexed[item.id].origin
                report.skipped.append(
                    {"path": item.id, "reason": f"article id already used by source {owner}"}
                )
                continue
            seen.add(item.id)
            previous = mine.get(item.id)
            if current(previous, item):
                report.unchanged += 1
                continue
            pending.append(item)
            if previous:
                report.updated += 1
                report.chunks_removed += previous.n_chunks
            else:
                report.added += 1
        replacing = {a.id for a in pending if a.id in mine}
        gone = sorted(set(mine) - seen)
        report.chunks_removed += sum(mine[i].n_chunks for i in gone)
        if pending or gone:
            self.store.begin_write()
        failed: list[Skipped] = []

        def prepared() -> Iterable[Prepared]:
            for article in pending:
                try:
                    yield prepare(article, self.chunker, origin)
                except InvalidArticle as exc:  # this article is skipped, not the sync
                    failed.append(Skipped(article.id, str(exc)))

        batches = batched_by_chunks(prepared(), BATCH_CHUNKS)
        report.chunks_added = self._write(batches, len(pending), origin, progress, replacing)
        for item in failed:  # not indexed now, so not kept in an older version either
            report.skipped.append({"path": item.path, "reason": item.reason})
            if item.path in mine:
                report.updated -= 1
                gone.append(item.path)
            else:
                report.added -= 1
        report.removed = len(gone)
        self._remove(gone)
        if pending or gone:
            self._changed()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def upsert(self, article: Article, origin: str = API_ORIGIN) -> SyncReport:
        """Add or replace one article (e.g. sent to the API); answerable when this returns."""
        started = time.perf_counter()
        if not article.text.strip():
            raise InvalidArticle("an article needs non-empty text")
        report = SyncReport()
        self._recover()
        previous = self.store.entry(article.id)
        if current(previous, article):
            report.unchanged = 1
        else:
            ready = prepare(article, self.chunker, origin)  # InvalidArticle: nothing written
            if previous:
                report.updated = 1
                report.chunks_removed = previous.n_chunks
            else:
                report.added = 1
            self.store.begin_write()
            replacing = {article.id} if previous else set()
            report.chunks_added = self._write([[ready]], 1, origin, None, replacing)
            self._changed()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def delete(self, article_id: str) -> None:
        """Remove one article and its chunks."""
        self._recover()
        if self.store.entry(article_id) is None:
            raise ArticleNotFound(f"no article with id {article_id!r} is indexed")
        self.store.begin_write()
        self._remove([article_id])
        self._changed()

    # ----------------------------------------------------------------- internals

    def _recover(self) -> None:
        """Clean up after a writer that died mid-write, before writing anything.

        Every write is bracketed by `begin_write` and the generation bump. A writer killed in
        between may have added chunks of new articles without recording them; were their files
        gone by the next sync, nothing would remove those chunks, so they go now (an article
        still in its source is redone anyway: it has no record). Then the generation is bumped,
        so no keyword index saved before the crash is trusted.
        """
        if not self.store.write_interrupted():
            return
        orphans = self.store.chunk_article_ids() - set(self.store.records())
        self.store.delete_chunks(sorted(orphans))
        self._changed()

    def _write(
        self,
        batches: Iterable[list[Prepared]],
        total: int,
        origin: str,
        progress: Progress | None,
        replacing: set[str],
    ) -> int:
        """Embed and store `total` articles in batches; returns the number of chunks written.

        Order per batch: delete the old chunks and texts of the articles in `replacing` (the
        others have none), add the new ones, then record the articles' hashes. A crash
        anywhere leaves old hashes (or none) behind, so the next sync redoes exactly those
        articles; chunks a crash left of new, unrecorded articles are removed by
        `_recover` before the next write. One helper thread prepares the next batch (reads
        `batches`, places its sentences: `plan_spans`) and stores the previous one while the
        model embeds this one, so the model's thread does little else; batches are stored in
        order, each whole.
        """
        written = 0
        done = 0
        if progress:
            progress(0, total)
        planned_batches = (
            (batch, plan_spans([s for _, _, s in batch], [n for _, n, _ in batch]))
            for batch in batches
        )
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsdesk-sync") as helper:
            upcoming = helper.submit(next, planned_batches, None)
            stored: Future[None] | None = None
            while (planned := upcoming.result()) is not None:
                upcoming = helper.submit(next, planned_batches, None)
                batch, plan = planned
                nodes = [node for _, article_nodes, _ in batch for node in article_nodes]
                vectors, sentences = embed_articles(self.embedder, plan)
                for node, vector in zip(nodes, vectors, strict=True):
                    node.embedding = vector
                if stored is not None:
                    stored.result()
                    if progress:
                        progress(done, total)
                stored = helper.submit(self._store, batch, nodes, sentences, origin, replacing)
                written += len(nodes)
                done += len(batch)
            if stored is not None:
                stored.result()
        if progress and total:
            progress(total, total)  # those not done were skipped
        return written

    def _store(
        self,
        batch: list[Prepared],
        nodes: list[TextNode],
        sentences: list[SentenceVectors],
        origin: str,
        replacing: set[str],
    ) -> None:
        """Write a batch of articles to the store: old chunks and texts out (of articles being
        replaced), new chunks, texts and sentence vectors in, records last."""
        self.store.delete_chunks([a.id for a, _, _ in batch if a.id in replacing])
        if nodes:
            self.store.put_chunks(nodes)
        self.store.put_texts(
            {a.id: (a.text, vectors) for (a, _, _), vectors in zip(batch, sentences, strict=True)}
        )
        self.store.put_records({a.id: record(a, origin, len(n)) for a, n, _ in batch})

    def _remove(self, article_ids: list[str]) -> None:
        """Delete articles' chunks first, then their records (a crash leaves them to redo)."""
        for start in range(0, len(article_ids), 500):
            batch = article_ids[start : start + 500]
            self.store.delete_chunks(batch)
            self.store.delete_records(batch)

    def _changed(self) -> None:
        self.store.bump_generation()
        for callback in self.on_change:
            callback()


def prepare(article: Article, chunker: Chunker, origin: str) -> Prepared:
    """An article's chunks and sentences; `InvalidArticle` when its text cannot be split (the
    splitters are bounded, see `punkt_spans`: this is the backstop for anything else)."""
    try:
        return article, chunker.chunk(article, origin), split_sentences(article.text)
    except Exception as exc:  # whatever the splitters raise is about this article's text
        detail = f"{type(exc).__name__}: {exc}"
        raise InvalidArticle(f"text cannot be split into sentences ({detail[:200]})") from exc


def batched_by_chunks(items: Iterable[Prepared], size: int) -> Iterable[list[Prepared]]:
    """Group prepared articles so each group holds about `size` chunks."""
    batch: list[Prepared] = []
    count = 0
    for item in items:
        batch.append(item)
        count += len(item[1])
        if count >= size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def current(previous: Entry | None, article: Article) -> bool:
    """Whether an article's entry shows it indexed as it is now."""
    return bool(previous and previous.content_hash == article.content_hash)


def record(article: Article, origin: str, n_chunks: int) -> dict[str, Any]:
    """The registry record of an article: flat metadata (its text is stored apart)."""
    return {
        "title": article.title,
        "url": article.url or "",
        "published_at": article.published_at or "",
        "authors": ", ".join(article.authors),
        "source": article.source or "",
        "origin": origin,
        "content_hash": article.content_hash,
        "n_chunks": n_chunks,
        "extra": extra_json(article.extra),
        "indexed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
