"""Hybrid retrieval: dense (Chroma) and BM25 chunks fused per article, a LlamaIndex retriever."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from newsdesk.index.chunking import published_ts
from newsdesk.index.lexical import KeywordIndexCache
from newsdesk.index.store import Store

DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.25
"""BM25's weight next to dense retrieval's in the fusion, chosen on the fit halves of every
labelled set (`python -m bench.fit_fusion`; bench/ANSWERER.md)."""
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

    def to_where(self) -> dict[str, Any] | None:
        """The same restriction as a Chroma `where` filter (for the vector store)."""
        items: list[dict[str, Any]] = []
        if self.source:
            items.append({"source": {"$eq": self.source}})
        if self.since:
            start = published_ts(datetime.combine(self.since, time.min).isoformat())
            items.append({"published_ts": {"$gte": start}})
        if self.until:
            end = published_ts(datetime.combine(self.until, time.max).isoformat())
            items.append({"published_ts": {"$lte": end}})
        if len(items) > 1:
            return {"$and": items}
        return items[0] if items else None

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


def articles_of(nodes: list[NodeWithScore]) -> list[ArticleHit]:
    """Retrieved chunks (best first) grouped into their articles, in order of each article's
    best chunk; an article scores as its best chunk."""
    articles: dict[str, ArticleHit] = {}
    for found in nodes:
        metadata = dict(found.node.metadata)
        aid = metadata.get("article_id") or found.node.node_id.rsplit("#", 1)[0]
        score = found.get_score()
        chunk = ChunkHit(
            found.node.node_id,
            found.node.get_content(),
            metadata,
            dense=getattr(found, "dense", 0.0),
            keyword=getattr(found, "keyword", 0.0),
            fused=score,
        )
        articles.setdefault(aid, ArticleHit(aid, score)).chunks.append(chunk)
    return list(articles.values())


class ScoredChunk(NodeWithScore):
    """A retrieved chunk as LlamaIndex sees it, with each retriever's evidence: `score` is the
    fused score (1.0: the best of both retrievers), `dense` the cosine similarity to the
    question (0 when only BM25 found it), `keyword` the BM25 score (0 when only dense did)."""

    dense: float = 0.0
    keyword: float = 0.0


class HybridRetriever(BaseRetriever):
    """A LlamaIndex retriever fusing dense (Chroma) and BM25 chunks by relative score: each
    retriever's scores min-max scaled to 0..1, weighted DENSE_WEIGHT : `keyword_weight` (as
    LlamaIndex's QueryFusionRetriever in relative_score mode, which measured better than
    reciprocal ranks: bench/ENGINE.md). `retrieve()` returns the chunks of the `articles` best
    articles (an article ranks by its best chunk), best first, as ScoredChunk nodes.

    Dense chunks are Chroma's nearest, scored by cosine similarity (1 - Chroma's cosine
    distance); chunks only BM25 found are read from the store for those articles alone."""

    def __init__(
        self,
        store: Store,
        embedder: BaseEmbedding,
        keywords: KeywordIndexCache,
        articles: int = 5,
        filters: Filters | None = None,
        keyword_weight: float = KEYWORD_WEIGHT,
    ) -> None:
        super().__init__()
        self.store = store
        self.embedder = embedder
        self.keywords = keywords
        self.articles = articles
        self.filters = filters or Filters()
        self.keyword_weight = keyword_weight

    def configured(self, articles: int, filters: Filters | None = None) -> HybridRetriever:
        """The same retriever for another number of articles and filters (cheap: it shares
        the store and the keyword index)."""
        return HybridRetriever(
            self.store, self.embedder, self.keywords, articles, filters, self.keyword_weight
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        chunks = [c for article in self._best_articles(self._fuse(query_bundle)) for c in article]
        chunks.sort(key=lambda c: c.fused, reverse=True)
        return [
            ScoredChunk(
                node=TextNode(id_=c.chunk_id, text=c.text, metadata=c.metadata),
                score=c.fused,
                dense=c.dense,
                keyword=c.keyword,
            )
            for c in chunks
        ]

    def _best_articles(self, fused: list[ChunkHit]) -> list[list[ChunkHit]]:
        """The chunks of the best `articles` articles that are still in the store."""
        grouped: dict[str, list[ChunkHit]] = {}
        for hit in fused:
            aid = hit.metadata.get("article_id") or hit.chunk_id.rsplit("#", 1)[0]
            grouped.setdefault(aid, []).append(hit)
        ranked = list(grouped.values())  # in order of each article's best chunk
        top: list[list[ChunkHit]] = []
        while ranked and len(top) < self.articles:  # one round unless a chunk left the store
            batch, ranked = ranked[: self.articles - len(top)], ranked[self.articles - len(top) :]
            self._fill([chunk for article in batch for chunk in article])
            top.extend(kept for article in batch if (kept := [c for c in article if c.metadata]))
        return top

    def _fuse(self, query: QueryBundle) -> list[ChunkHit]:
        """Dense and BM25 chunk rankings fused, best first. The chunks carry no text or
        metadata yet (`_fill` reads them for the best articles' chunks only), unless filters
        needed a BM25 hit's metadata to admit it."""
        filters = self.filters
        if query.embedding is None:
            query.embedding = self.embedder.get_query_embedding(query.query_str)
        hits: dict[str, ChunkHit] = {}
        for cid, similarity in self.store.nearest(query.embedding, CANDIDATES, filters.to_where()):
            hits[cid] = ChunkHit(cid, "", {}, dense=similarity)
        dense_found = list(hits.values())
        # Without filters every BM25 hit counts, so only the first CANDIDATES can be ranked.
        keyword_hits = self.keywords.get().search(
            query.query_str, CANDIDATES * 2 if filters else CANDIDATES
        )
        fetched: dict[str, tuple[str, dict[str, Any]]] = {}
        if filters:
            fetched = self.store.chunks_by_id([cid for cid, _ in keyword_hits if cid not in hits])
        keyword_found: list[ChunkHit] = []
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
            hit.keyword = score
            keyword_found.append(hit)
            if len(keyword_found) >= CANDIDATES:
                break
        total = DENSE_WEIGHT + self.keyword_weight
        for hit, share in relative([h.dense for h in dense_found], dense_found):
            hit.fused += share * DENSE_WEIGHT / total
        for hit, share in relative([h.keyword for h in keyword_found], keyword_found):
            hit.fused += share * self.keyword_weight / total
        return sorted(hits.values(), key=lambda h: h.fused, reverse=True)

    def _fill(self, hits: list[ChunkHit]) -> None:
        """Read the text and metadata of hits that have none yet, in one read; a chunk gone
        from the store (the keyword index can lag a write) keeps none."""
        missing = [h for h in hits if not h.metadata]
        if not missing:
            return
        found = self.store.chunks_by_id([h.chunk_id for h in missing])
        for hit in missing:
            hit.text, metadata = found.get(hit.chunk_id, ("", {}))
            hit.metadata = dict(metadata)


def relative(scores: list[float], hits: list[ChunkHit]) -> list[tuple[ChunkHit, float]]:
    """Each hit with its score min-max scaled to 0..1 among one retriever's hits (LlamaIndex's
    relative score fusion; all 1.0 when the scores are equal)."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high == low:
        return [(hit, 1.0) for hit in hits]
    return [(hit, (score - low) / (high - low)) for hit, score in zip(hits, scores, strict=True)]
