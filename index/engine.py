"""Newsdesk's engine: one object that syncs, retrieves and answers; the CLI, API and bot use it."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import QueryBundle

from newsdesk.index.answer.base import Answerer
from newsdesk.index.answer.extractive import ExtractiveAnswerer
from newsdesk.index.answer.models import Answer
from newsdesk.index.answer.question import money_pattern
from newsdesk.index.articles import Article
from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL, LazyEmbedding, vector_size
from newsdesk.index.errors import InvalidArticle, InvalidQuestion
from newsdesk.index.lexical import KeywordIndexCache
from newsdesk.index.query_engine import NewsdeskQueryEngine, answer_of
from newsdesk.index.retrieval import CANDIDATES, ArticleHit, Filters, HybridRetriever, articles_of
from newsdesk.index.store import Store, writer_lock
from newsdesk.index.sync import Indexer, Progress, SyncReport
from newsdesk.index.when import TimePreference, day_of_iso

if TYPE_CHECKING:
    from newsdesk.index.feed_sync import FeedBook
    from newsdesk.index.fetch import FetchPolicy

MAX_QUESTION_CHARS = 2000


class Engine:
    """Everything loaded once: Chroma collections, keyword index, answerer, and the embedding
    model when something is first embedded (a server embeds a probe at start-up instead)."""

    def __init__(self, settings: Settings, embedder: BaseEmbedding | None = None) -> None:
        """Open the index (creating it if new); nothing is embedded and no model loads yet."""
        self.settings = settings
        """The settings this engine was built from (read-only for callers)."""
        self._embedder = embedder or LazyEmbedding(settings)  # loads at the first embedding
        self._store = Store(settings, settings.embed_model, lambda: vector_size(self._embedder))
        self._indexer = Indexer(settings, self._store, self._embedder)
        self._keywords = KeywordIndexCache(self._store, settings.data_dir / "keyword-index")
        self._indexer.on_change.append(self._keywords.changed)
        self._retriever = HybridRetriever(self._store, self._embedder, self._keywords)
        self.answerer: Answerer = build_answerer(
            settings, self._keywords, self._store, self._embedder
        )
        """The answerer in use (extractive, or an LLM's with NEWSDESK_LLM)."""
        self._write = threading.Lock()
        self._lifetime_lock: ExitStack | None = None
        self._record_summary: tuple[int, dict[str, Any]] | None = None
        self._feed_book: FeedBook | None = None
        self._time = TimePreference(lambda: day_of_iso(self._summary()["newest"]))

    # ----------------------------------------------------------------- writing

    def claim_writer(self) -> None:
        """Own the data dir's writer lock until `close()` (a long-running server does this, so
        no other process writes behind its back). Raises IndexLocked if another process has it."""
        if self._lifetime_lock is None:
            stack = ExitStack()
            stack.enter_context(writer_lock(self.settings.data_dir))
            self._lifetime_lock = stack

    def close(self) -> None:
        """Release the writer lock if this engine claimed it."""
        if self._lifetime_lock is not None:
            self._lifetime_lock.close()
            self._lifetime_lock = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the single-writer lock (across processes, and across threads of this one)."""
        with self._write:
            if self._lifetime_lock is not None:
                yield
                return
            with writer_lock(self.settings.data_dir):
                yield

    def sync(self, sources: list[Path], progress: Progress | None = None) -> SyncReport:
        """Make the index mirror each source in turn; one report for all."""
        report = SyncReport()
        with self.writing():
            for source in sources:
                report.merge(self._indexer.sync(source, progress))
        if report.added or report.updated or report.removed:
            self._keywords.rebuild()  # batch work: leave a fresh keyword index for the next ask
        return report

    def upsert(self, article: Article) -> SyncReport:
        """Add or replace one article; answerable when this returns."""
        with self.writing():
            return self._indexer.upsert(article)

    def upsert_all(self, articles: Iterable[Article], origin: str) -> SyncReport:
        """Add or replace articles of one origin (a feed); its other articles stay. An article
        that cannot be indexed is a skipped entry."""
        report = SyncReport()
        with self.writing():
            for article in articles:
                try:
                    report.merge(self._indexer.upsert(article, origin))
                except InvalidArticle as exc:
                    report.skipped.append({"path": article.id, "reason": str(exc)})
        return report

    def prune(self, origin: str, before: str) -> int:
        """Remove the articles of one origin (a feed) published before `before` (an ISO
        time); undated ones stay. Returns how many were removed."""
        old = [
            article_id
            for article_id, meta in self._store.records(origin).items()
            if meta.get("published_at") and meta["published_at"] < before
        ]
        with self.writing():
            for article_id in old:
                self._indexer.delete(article_id)
        return len(old)

    def sync_urls(self, urls: list[str]) -> SyncReport:
        """Read RSS/Atom feeds and article pages from the web into the index: new and changed
        entries are embedded; entries that left a feed stay."""
        from newsdesk.index.feed_sync import FeedSync

        feeds = FeedSync(
            self.feed_book(),
            fetch_policy(self.settings),
            self.upsert_all,
            prune=self.prune if self.settings.feed_max_age_days else None,
            max_age_days=self.settings.feed_max_age_days,
        )
        try:
            report = feeds.sync(urls)
        finally:
            feeds.close()
        if report.added or report.updated or report.removed:
            self._keywords.rebuild()
        return report

    def feed_book(self) -> FeedBook:
        """The URLs' states (validators, last success and error, counts) in the data dir."""
        from newsdesk.index.feed_sync import FeedBook

        if self._feed_book is None:  # one book, one lock, for every thread of this engine
            self._feed_book = FeedBook(self.settings.data_dir / "feeds.json")
        return self._feed_book

    def delete(self, article_id: str) -> None:
        """Remove one article."""
        with self.writing():
            self._indexer.delete(article_id)

    def seed_if_empty(self) -> SyncReport | None:
        """Index the seed folder when the index holds no article yet (the first `ask`)."""
        if self._store.counts()["articles"] or not self.settings.seed_dir.is_dir():
            return None
        return self.sync([self.settings.seed_dir])

    # ----------------------------------------------------------------- start-up

    @classmethod
    def open(cls, settings: Settings, *, serving: bool = False, seed: bool = False) -> Engine:
        """The one way the CLI, the API and the bot build an engine. `serving` (a long-running
        server): own the embedded index's writer lock until `close()`, then load the model and
        the keyword index now rather than in the first question. `seed`: index the seed
        articles into an empty index."""
        engine = cls(settings)
        try:
            if serving and not settings.chroma_url:
                engine.claim_writer()
            if seed:
                engine.seed_if_empty()
            if serving:
                engine.warm_up()
        except BaseException:
            engine.close()
            raise
        return engine

    def warm_up(self) -> None:
        """Load the embedding model and the keyword index (or build it), and gather the
        currency signs money questions need (CLDR), now."""
        self._embedder.get_query_embedding("warm-up")
        self._keywords.get()
        money_pattern()

    # ----------------------------------------------------------------- reading

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer a question from the indexed articles, with numbered verbatim citations."""
        return self.assess(question, top_k, filters)[0]

    def assess(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> tuple[Answer, float | None]:
        """The answer `ask` gives and the answerer's confidence that the articles answer the
        question (0..1; None in LLM mode), for evaluation."""
        question = checked(question)
        result = self.as_query_engine(top_k, filters).query(question)
        return answer_of(result), (result.metadata or {}).get("confidence")

    def ask_stream(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Iterator[str | Answer]:
        """`ask` as it happens: the model's draft text as it is written (LLM mode; unverified),
        then the Answer."""
        return self.as_query_engine(top_k, filters).stream(checked(question))

    def as_query_engine(
        self, top_k: int | None = None, filters: Filters | None = None
    ) -> NewsdeskQueryEngine:
        """Newsdesk as a LlamaIndex query engine: `query()` gives a Response whose
        `source_nodes` are the cited chunks and whose metadata["answer"] is the Answer."""
        top_k = top_k or self.settings.top_k
        return NewsdeskQueryEngine(
            self.as_retriever(top_k, filters),
            self.answerer,
            self._store.texts,
            top_k,
            time=self._time,
        )

    def as_retriever(
        self, top_k: int | None = None, filters: Filters | None = None
    ) -> HybridRetriever:
        """The hybrid retriever as a LlamaIndex retriever: the chunks of the best articles
        (at least five, to answer from), best first."""
        return self._retriever.configured(max(top_k or self.settings.top_k, 5), filters)

    def retrieve(
        self,
        question: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        embedding: list[float] | None = None,
    ) -> tuple[list[ArticleHit], dict[str, str], list[float]]:
        """The articles an answer is drawn from (in the order time in the question gives
        them: index.when), their texts, and the question's embedding (made now unless
        given)."""
        query = QueryBundle(question, embedding=embedding)
        hits = articles_of(self.as_retriever(top_k, filters).retrieve(query))
        texts = self._store.texts([h.article_id for h in hits]) if hits else {}
        hits, _ = self._time.apply(question, hits, texts)
        return hits, texts, query.embedding or []

    def publishers(self) -> dict[str, int]:
        """Articles per `source` (the publisher or feed named in their metadata)."""
        return dict(self._summary()["publishers"])

    @property
    def chroma_client(self) -> Any:
        """The Chroma client the index lives in (for stores kept beside it: conversations)."""
        return self._store.client

    def embed_query(self, text: str) -> list[float]:
        """The embedding of a question (the model loads at its first use)."""
        return self._embedder.get_query_embedding(text)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """The embeddings of several questions, in one pass of the model."""
        batch = getattr(self._embedder, "embed_queries", None)
        if batch is None:  # another LlamaIndex embedding: one at a time
            return [self._embedder.get_query_embedding(text) for text in texts]
        return batch(texts)

    def embed_text(self, text: str) -> list[float]:
        """The embedding of a passage."""
        return self._embedder.get_text_embedding(text)

    def nearest_score(self, vector: list[float], among: list[str] | None = None) -> float:
        """How near the chunk nearest a query vector is (among the chunks of articles `among`
        when given): exp(-cosine distance), the score LlamaIndex's ChromaVectorStore gives and
        the follow-up model was fitted on; 0.0 when there is none."""
        if among:
            similarity = self._store.nearest_among(vector, among)
        else:
            found = self._store.nearest(vector, 1)
            similarity = found[0][1] if found else None
        return 0.0 if similarity is None else math.exp(similarity - 1.0)

    def vector_search(self, question: str, n: int = CANDIDATES) -> list[str]:
        """Ids of the `n` chunks nearest the question by the vector store alone: the floor
        under every `ask` (for benchmarks)."""
        vector = self._embedder.get_query_embedding(question)
        return [chunk_id for chunk_id, _ in self._store.nearest(vector, n)]

    def article(self, article_id: str) -> tuple[str, dict[str, Any]]:
        """One article's full text and metadata (ArticleNotFound if it is not indexed)."""
        return self._store.article(article_id)

    def record(self, article_id: str) -> dict[str, Any] | None:
        """One article's metadata, or None if it is not indexed."""
        return self._store.records_by_id([article_id]).get(article_id)

    def texts(self, article_ids: list[str]) -> dict[str, str]:
        """Full texts of indexed articles, keyed by id."""
        return self._store.texts(article_ids)

    def list_articles(
        self, limit: int, offset: int = 0, source: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """A page of articles (id, metadata), optionally of one `source`."""
        return self._store.list_articles(limit, offset, source)

    def source_names(self) -> list[str]:
        """The `source` (outlet) names of the indexed articles, sorted."""
        return sorted(self._summary()["publishers"])

    def counts(self) -> dict[str, int]:
        """Number of articles and chunks indexed."""
        return self._store.counts()

    @property
    def generation(self) -> int:
        """A counter bumped by every write (derived views are stale when it changes)."""
        return self._store.generation

    @property
    def location(self) -> str:
        """Where the index lives, for messages."""
        return self._store.location

    def stats(self) -> dict[str, Any]:
        """Articles, chunks, sources, model and where the index lives."""
        return self._store.stats(self._summary())

    def rebuild_keywords(self) -> None:
        """Rebuild the keyword index now (a sync does it; the API does it in the background)."""
        self._keywords.rebuild()

    def _summary(self) -> dict[str, Any]:
        """Articles per origin and per outlet, the last sync time and the newest publication
        time: a read of every record, so done once per index generation."""
        generation = self._store.generation
        if self._record_summary is None or self._record_summary[0] != generation:
            self._record_summary = (generation, self._store.summary())
        return self._record_summary[1]


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The fetching limits the settings ask for."""
    from newsdesk.index.fetch import FetchPolicy

    return FetchPolicy(
        timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
        allow_private=settings.fetch_allow_private,
        host_delay=settings.fetch_host_delay,
    )


def checked(question: str) -> str:
    """The question with its whitespace collapsed; InvalidQuestion if empty or too long."""
    question = " ".join(question.split())
    if not question:
        raise InvalidQuestion("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"the question is over {MAX_QUESTION_CHARS} characters")
    return question


def build_answerer(
    settings: Settings, keywords: KeywordIndexCache, store: Store, embedder: BaseEmbedding
) -> Answerer:
    """The extractive answerer, or with NEWSDESK_LLM an LLM's (same retrieval)."""
    if settings.llm:
        from newsdesk.index.answer.llm import LLMAnswerer

        return LLMAnswerer.from_settings(settings)
    real = settings.embed_model != TEST_MODEL  # the test embedder's similarities mean nothing
    return ExtractiveAnswerer(
        keywords.loaded,
        store.vectors_of,
        embedder.get_text_embedding_batch,
        min_similarity=settings.min_similarity if real else 0.0,
        similarities=real,
    )
