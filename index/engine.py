"""Newsdesk's engine: one object that syncs, retrieves and answers; the CLI, API and bot use it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import QueryBundle

from index.answer.extractive import ExtractiveAnswerer
from index.answer.llm import LLMAnswerer
from index.answer.models import NOT_FOUND, Answer
from index.articles import Article
from index.config import Settings
from index.embeddings import TEST_MODEL, LazyEmbedding, vector_size
from index.errors import InvalidQuestion
from index.lexical import KeywordIndexCache
from index.retrieval import ArticleHit, Filters, HybridRetriever
from index.store import Store, writer_lock
from index.sync import Indexer, Progress, SyncReport

MAX_QUESTION_CHARS = 2000


class Engine:
    """Everything loaded once: Chroma collections, keyword index, answerer, and the embedding
    model when something is first embedded (a server embeds a probe at start-up instead)."""

    def __init__(self, settings: Settings, embedder: BaseEmbedding | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or LazyEmbedding(settings)  # loads at the first embedding
        self.store = Store(settings, settings.embed_model, lambda: vector_size(self.embedder))
        self.indexer = Indexer(settings, self.store, self.embedder)
        self.keywords = KeywordIndexCache(self.store, settings.data_dir / "keyword-index")
        self.indexer.on_change.append(self.keywords.changed)
        self.retriever = HybridRetriever(self.store, self.embedder, self.keywords)
        self.answerer: ExtractiveAnswerer | LLMAnswerer = ExtractiveAnswerer(
            self.keywords.loaded,
            self.store.sentence_vectors,
            self.embedder.get_text_embedding_batch,
            # the test embedder's similarities mean nothing; real models' do
            min_similarity=0.0 if settings.embed_model == TEST_MODEL else settings.min_similarity,
            similarities=settings.embed_model != TEST_MODEL,
        )
        if settings.llm:  # opt-in LLM answer mode: same retrieval, a model writes the answer
            self.answerer = LLMAnswerer.from_settings(settings)
        self._write = threading.Lock()
        self._lifetime_lock: ExitStack | None = None
        self._record_summary: tuple[int, dict[str, Any]] | None = None

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
                report.merge(self.indexer.sync(source, progress))
        if report.added or report.updated or report.removed:
            self.keywords.rebuild()  # batch work: leave a fresh keyword index for the next ask
        return report

    def upsert(self, article: Article) -> SyncReport:
        """Add or replace one article; answerable when this returns."""
        with self.writing():
            return self.indexer.upsert(article)

    def delete(self, article_id: str) -> None:
        """Remove one article."""
        with self.writing():
            self.indexer.delete(article_id)

    def seed_if_empty(self) -> SyncReport | None:
        """Index the seed folder when the index holds no article yet (the first `ask`)."""
        if self.store.counts()["articles"] or not self.settings.seed_dir.is_dir():
            return None
        return self.sync([self.settings.seed_dir])

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
        question = " ".join(question.split())
        if not question:
            raise InvalidQuestion("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidQuestion(f"the question is over {MAX_QUESTION_CHARS} characters")
        top_k = top_k or self.settings.top_k
        hits, texts, embedding = self.retrieve(question, top_k, filters)
        if not hits:
            return Answer(question=question, answer=NOT_FOUND, answered=False), 0.0
        if isinstance(self.answerer, ExtractiveAnswerer):
            return self.answerer.assess(question, hits, texts, top_k, embedding)
        return self.answerer.answer(question, hits, texts, top_k, embedding), None

    def retrieve(
        self, question: str, top_k: int, filters: Filters | None = None
    ) -> tuple[list[ArticleHit], dict[str, str], list[float]]:
        """The articles an answer is drawn from (at least five), their texts, and the
        question's embedding."""
        query = QueryBundle(question, embedding=self.embedder.get_query_embedding(question))
        hits = self.retriever.retrieve_articles(query, filters or Filters(), k=max(top_k, 5))
        texts = self.store.texts([h.article_id for h in hits]) if hits else {}
        return hits, texts, query.embedding or []

    def stats(self) -> dict[str, Any]:
        """Articles, chunks, sources, model and where the index lives."""
        return self.store.stats(self._summary())

    def _summary(self) -> dict[str, Any]:
        """Articles per origin and the last sync time: a read of every record, so done once
        per index generation."""
        generation = self.store.generation
        if self._record_summary is None or self._record_summary[0] != generation:
            self._record_summary = (generation, self.store.summary())
        return self._record_summary[1]
