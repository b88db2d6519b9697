"""Hybrid retrieval: dense (Chroma through LlamaIndex) and BM25 chunks, fused per article."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from index.chunking import published_ts
from index.lexical import KeywordIndexCache
from index.store import Store

RRF_K = 30
DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.8
CANDIDATES = 40
"""Chunks taken from each retriever before fusion."""


@dataclass
class Filters:
    """Restrict retrieval to one source and/or a publication date range (inclusive)."""

    source: str | None = None
    since: date | None = None
    until: date | None = None

    def __bool__(self) -> bool:
        return bool(self.source or self.since or self.until)

    def to_llama(self) -> MetadataFilters | None:
        """The same restriction as LlamaIndex metadata filters (for the vector store)."""
        items: list[MetadataFilter] = []
        if self.source:
            items.append(MetadataFilter(key="source", value=self.source))
        if self.since:
            start = published_ts(datetime.combine(self.since, time.min).isoformat())
            items.append(
                MetadataFilter(key="published_ts", value=start, operator=FilterOperator.GTE)
            )
        if self.until:
            end = published_ts(datetime.combine(self.until, time.max).isoformat())
            items.append(MetadataFilter(key="published_ts", value=end, operator=FilterOperator.LTE))
        if not items:
            return None
        return MetadataFilters(filters=items, condition=FilterCondition.AND)

    def admits(self, metadata: dict[str, Any]) -> bool:
        """Whether a chunk with this metadata passes the filters."""
        if self.source and metadata.get("source") != self.source:
            return False
        if self.since or self.until:
            ts = metadata.get("published_ts")
            if not isinstance(ts, int):
                return False
            if self.since and ts < published_ts(datetime.combine(self.since, time.min).isoformat()):
                return False
            if self.until and ts > published_ts(datetime.combine(self.until, time.max).isoformat()):
                return False
        return True


@dataclass
class ChunkHit:
    """A retrieved chunk with the evidence of each retriever."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    dense: float = 0.0
    """Cosine similarity to the question (0 when only BM25 found it)."""
    keyword: float = 0.0
    fused: float = 0.0


@dataclass
class ArticleHit:
    """An article and its retrieved chunks, best first."""

    article_id: str
    score: float
    chunks: list[ChunkHit] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    """Other articles with the same text, collapsed into this one."""

    @property
    def metadata(self) -> dict[str, Any]:
        return self.chunks[0].metadata

    @property
    def dense(self) -> float:
        return max(c.dense for c in self.chunks)


class HybridRetriever(BaseRetriever):
    """A LlamaIndex retriever fusing dense and BM25 chunk rankings with reciprocal ranks."""

    def __init__(self, store: Store, embedder: BaseEmbedding, keywords: KeywordIndexCache) -> None:
        super().__init__()
        self.store = store
        self.embedder = embedder
        self.keywords = keywords
        self.index = VectorStoreIndex.from_vector_store(store.vector_store, embed_model=embedder)
        self.filters = Filters()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.retrieve_chunks(query_bundle, self.filters)
        return [
            NodeWithScore(
                node=TextNode(id_=h.chunk_id, text=h.text, metadata=h.metadata), score=h.fused
            )
            for h in hits
        ]

    def retrieve_chunks(self, query: QueryBundle, filters: Filters) -> list[ChunkHit]:
        """Fused chunk hits, best first, each with its text and metadata."""
        hits = self._fuse(query, filters)
        self._fill(hits)
        return [h for h in hits if h.metadata]

    def retrieve_articles(self, query: QueryBundle, filters: Filters, k: int) -> list[ArticleHit]:
        """The k best articles, each scored by its best chunk, chunks kept for answering.

        Chunks only BM25 found are read from the store for these k articles alone."""
        articles: dict[str, ArticleHit] = {}
        best = (DENSE_WEIGHT + KEYWORD_WEIGHT) / (RRF_K + 1)
        for hit in self._fuse(query, filters):
            aid = hit.metadata.get("article_id") or hit.chunk_id.rsplit("#", 1)[0]
            if aid not in articles:
                articles[aid] = ArticleHit(aid, hit.fused / best)
            articles[aid].chunks.append(hit)
        ranked = sorted(articles.values(), key=lambda a: a.score, reverse=True)
        top: list[ArticleHit] = []
        while ranked and len(top) < k:  # one round unless a chunk left the store meanwhile
            batch, ranked = ranked[: k - len(top)], ranked[k - len(top) :]
            self._fill([chunk for article in batch for chunk in article.chunks])
            for article in batch:
                article.chunks = [c for c in article.chunks if c.metadata]
                if article.chunks:
                    top.append(article)
        return top

    def _fuse(self, query: QueryBundle, filters: Filters) -> list[ChunkHit]:
        """Dense and BM25 chunk rankings fused, best first. Chunks only BM25 found carry no
        text or metadata yet (`_fill`), unless filters needed their metadata to admit them."""
        if query.embedding is None:
            query.embedding = self.embedder.get_query_embedding(query.query_str)
        dense_retriever = self.index.as_retriever(
            similarity_top_k=CANDIDATES, filters=filters.to_llama()
        )
        hits: dict[str, ChunkHit] = {}
        for rank, found in enumerate(dense_retriever.retrieve(query), start=1):
            node = found.node
            similarity = 1.0 + math.log(max(found.score or 1e-9, 1e-9))
            hit = ChunkHit(node.node_id, node.get_content(), dict(node.metadata), dense=similarity)
            hit.fused += DENSE_WEIGHT / (RRF_K + rank)
            hits[hit.chunk_id] = hit
        # Without filters every BM25 hit counts, so only the first CANDIDATES can be ranked.
        keyword_hits = self.keywords.get().search(
            query.query_str, CANDIDATES * 2 if filters else CANDIDATES
        )
        fetched: dict[str, tuple[str, dict[str, Any]]] = {}
        if filters:
            fetched = self.store.chunks_by_id([cid for cid, _ in keyword_hits if cid not in hits])
        rank = 0
        for cid, score in keyword_hits:
            if cid in hits:
                hit = hits[cid]
            elif not filters:
                hit = hits[cid] = ChunkHit(cid, "", {})
            elif cid in fetched and filters.admits(fetched[cid][1]):
                text, metadata = fetched[cid]
                hit = hits[cid] = ChunkHit(cid, text, dict(metadata))
            else:
                continue
            rank += 1
            hit.keyword = score
            hit.fused += KEYWORD_WEIGHT / (RRF_K + rank)
            if rank >= CANDIDATES:
                break
        return sorted(hits.values(), key=lambda h: h.fused, reverse=True)

    def _fill(self, hits: list[ChunkHit]) -> None:
        """Read the text and metadata of hits that have none yet (found by BM25 alone); a
        chunk gone from the store (the keyword index can lag a write) keeps none."""
        missing = [h for h in hits if not h.metadata]
        if not missing:
            return
        found = self.store.chunks_by_id([h.chunk_id for h in missing])
        for hit in missing:
            hit.text, metadata = found.get(hit.chunk_id, ("", {}))
            hit.metadata = dict(metadata)
