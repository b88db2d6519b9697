"""Split an article into sentence-aware chunks (LlamaIndex nodes) with flat, stable metadata."""

from __future__ import annotations

from datetime import datetime

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode
from llama_index.core.utils import get_tokenizer, globals_helper

from newsdesk.index.answer.sentences import punkt_spans
from newsdesk.index.articles import Article

EMBEDDED_KEYS = {"title"}
"""Metadata the embedding sees besides the text: the headline counts for retrieval."""


def chunk_id(article_id: str, position: int) -> str:
    """Stable chunk id: the article id and the chunk's position in it."""
    return f"{article_id}#{position}"


def published_ts(published_at: str | None) -> int | None:
    """Seconds since the epoch for an ISO date, so Chroma can filter by date ranges."""
    if not published_at:
        return None
    moment = datetime.fromisoformat(published_at)
    if moment.tzinfo is None:
        return int((moment - datetime(1970, 1, 1)).total_seconds())
    return int(moment.timestamp())


def article_metadata(article: Article, origin: str) -> dict[str, str | int]:
    """Flat metadata every chunk of an article carries (Chroma accepts str/int/float/bool)."""
    metadata: dict[str, str | int] = {
        "article_id": article.id,
        "title": article.title,
        "url": article.url or "",
        "published_at": article.published_at or "",
        "source": article.source or "",
        "authors": ", ".join(article.authors),
        "origin": origin,
    }
    if (ts := published_ts(article.published_at)) is not None:
        metadata["published_ts"] = ts
    return metadata


def sentence_pieces(text: str) -> list[str]:
    """LlamaIndex's own sentence split (each sentence runs to where the next starts), with
    Punkt reading a bounded window at a time (`punkt_spans`): the same pieces for ordinary
    text, and no `TimeoutError` for a long run of tiny sentences."""
    starts = [a for a, _ in punkt_spans(text, globals_helper.punkt_tokenizer)]
    if not starts:
        return []
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


class Chunker:
    """Sentence-aware chunking with LlamaIndex's SentenceSplitter."""

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=min(chunk_overlap, chunk_size // 2),
            chunking_tokenizer_fn=sentence_pieces,
        )

    def too_long_to_embed(self, title: str) -> bool:
        """A title taking over half a chunk's tokens is left out of the embedded text (the
        splitter refuses metadata longer than a chunk); BM25 still indexes it."""
        return len(get_tokenizer()(f"title: {title}")) > self.splitter.chunk_size // 2

    def chunk(self, article: Article, origin: str) -> list[TextNode]:
        """The article's chunks, ids `<article id>#<n>`, each knowing its offsets in the text."""
        metadata = article_metadata(article, origin)
        hidden = [k for k in metadata if k not in EMBEDDED_KEYS]
        if self.too_long_to_embed(article.title):
            hidden = list(metadata)
        document = Document(
            text=article.text,
            id_=article.id,
            metadata=metadata,
            excluded_embed_metadata_keys=hidden,
            excluded_llm_metadata_keys=list(hidden),
        )
        nodes = self.splitter.get_nodes_from_documents([document])
        for position, node in enumerate(nodes):
            node.id_ = chunk_id(article.id, position)
            node.metadata["chunk"] = position
            node.excluded_embed_metadata_keys.append("chunk")
            node.excluded_llm_metadata_keys.append("chunk")
        return nodes
