"""Sentence vectors made at index time, from the same model pass that embeds the chunks.

The embedding model (mean pooling) turns every token of a chunk into a vector and averages
them into the chunk's vector. Averaging only the tokens of one sentence instead gives that
sentence a vector in the same space, read in the context of its chunk, at no extra model cost
("late chunking"). The answerer compares these with the question's vector, so answering
needs no model pass besides the question's own.

Stored per article in Chroma as sentence spans and int8-quantised vectors (cosine ranks are
unchanged by the quantisation: vectors are re-normalised when read).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from llama_index.core.schema import MetadataMode, TextNode

from index.answer.sentences import Sentence, split_sentences

Spans = list[tuple[int, int]]


class SpanEmbedder(Protocol):
    """An embedder that also pools the token vectors of character spans of each text."""

    def embed_with_spans(
        self, texts: list[str], spans: list[Spans]
    ) -> tuple[list[list[float]], list[Pooled]]: ...

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]: ...


@dataclass
class Pooled:
    """Summed token vectors per span of one text, and how many tokens each sum holds."""

    sums: np.ndarray
    counts: np.ndarray


@dataclass
class SentenceVectors:
    """An article's sentences (offsets into its text) and one unit vector per sentence."""

    spans: Spans
    vectors: np.ndarray

    def sentences(self, text: str) -> list[Sentence]:
        return [Sentence(text[a:b], a, b) for a, b in self.spans]

    def to_metadata(self) -> dict[str, Any]:
        """Flat Chroma metadata: spans as JSON, vectors as base64 int8."""
        scale = np.abs(self.vectors).max(axis=1, keepdims=True) if len(self.vectors) else 1.0
        quantised = np.round(self.vectors / np.maximum(scale, 1e-12) * 127).astype(np.int8)
        return {
            "spans": json.dumps([s for span in self.spans for s in span]),
            "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
            "vectors": base64.b64encode(quantised.tobytes()).decode("ascii"),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> SentenceVectors:
        flat = json.loads(metadata["spans"])
        spans = list(zip(flat[::2], flat[1::2], strict=True))
        raw = np.frombuffer(base64.b64decode(metadata["vectors"]), dtype=np.int8)
        vectors = raw.reshape(len(spans), int(metadata["dim"]) or 1).astype(np.float32)
        return cls(spans, unit(vectors))


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def pool_spans(tokens: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Spans) -> Pooled:
    """Sum the token vectors falling in each of `spans` (sorted, disjoint character ranges).

    Tokens are in text order, so each span's tokens are a contiguous run: a difference of
    cumulative sums."""
    dim = tokens.shape[1]
    if not spans:
        return Pooled(np.zeros((0, dim), dtype=np.float32), np.zeros(0))
    starts = np.array([a for a, b in offsets])
    real = np.array([b > a for a, b in offsets])  # special tokens have empty offsets
    kept = tokens[real]
    starts = starts[real]
    running = np.vstack([np.zeros((1, dim), dtype=np.float32), np.cumsum(kept, axis=0)])
    first = np.searchsorted(starts, [a for a, _ in spans], side="left")
    last = np.searchsorted(starts, [b for _, b in spans], side="left")
    return Pooled((running[last] - running[first]).astype(np.float32), last - first)


def embed_articles(
    embedder: SpanEmbedder, texts: list[str], nodes: list[list[TextNode]]
) -> tuple[list[list[float]], list[SentenceVectors]]:
    """Chunk vectors for every node, and sentence vectors for every article (`texts[i]` is
    the text `nodes[i]` were cut from). Sentences no chunk's tokens reached (past the model's
    length limit) are embedded on their own."""
    inputs: list[str] = []
    spans: list[Spans] = []
    owners: list[tuple[int, list[int]]] = []
    sentences = [split_sentences(text) for text in texts]
    for a, article_nodes in enumerate(nodes):
        for node in article_nodes:
            embed_text = node.get_content(metadata_mode=MetadataMode.EMBED)
            local, which = chunk_spans(node, embed_text, sentences[a])
            inputs.append(embed_text)
            spans.append(local)
            owners.append((a, which))
    vectors, pooled = embedder.embed_with_spans(inputs, spans) if inputs else ([], [])
    dim = len(vectors[0]) if vectors else 0
    sums = [np.zeros((len(s), dim), dtype=np.float32) for s in sentences]
    counts = [np.zeros(len(s)) for s in sentences]
    for (a, which), result in zip(owners, pooled, strict=True):
        for k, i in enumerate(which):
            sums[a][i] += result.sums[k]
            counts[a][i] += result.counts[k]
    missing = [(a, i) for a in range(len(texts)) for i in np.flatnonzero(counts[a] == 0)]
    if missing and dim:
        alone = embedder.get_text_embedding_batch([sentences[a][i].text for a, i in missing])
        for (a, i), vector in zip(missing, alone, strict=True):
            sums[a][i] = vector
    out = [
        SentenceVectors([(s.start, s.end) for s in sentences[a]], unit(sums[a]))
        for a in range(len(texts))
    ]
    return vectors, out


def chunk_spans(
    node: TextNode, embed_text: str, sentences: list[Sentence]
) -> tuple[Spans, list[int]]:
    """The parts of the article's sentences inside this chunk, as offsets into the text the
    model embeds (headline first, then the chunk), and which sentence each part belongs to."""
    start = node.start_char_idx
    if start is None or not embed_text.endswith(node.text):
        return [], []
    end = start + len(node.text)
    shift = len(embed_text) - len(node.text) - start
    local: Spans = []
    which: list[int] = []
    for i, sentence in enumerate(sentences):
        a, b = max(sentence.start, start), min(sentence.end, end)
        if a < b:
            local.append((a + shift, b + shift))
            which.append(i)
    return local, which
