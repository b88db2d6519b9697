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
import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from newsdesk.index.answer.sentences import Sentence

if TYPE_CHECKING:  # the store reads sentence vectors without loading LlamaIndex
    from llama_index.core.schema import TextNode

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


@dataclass
class SpanPlan:
    """What the model embeds for a batch of articles, and where their sentences fall: one
    input text per chunk (headline first), the sentence parts inside it, and whose they are."""

    sentences: list[list[Sentence]]
    inputs: list[str]
    spans: list[Spans]
    owners: list[tuple[int, list[int]]]
    """Per input: its article's position and the sentence each of its spans belongs to."""


def plan_spans(sentences: list[list[Sentence]], nodes: list[list[TextNode]]) -> SpanPlan:
    """Place the articles' sentences (`sentences[i]` of the text `nodes[i]` were cut from, by
    `split_sentences`) in the chunks. Plain Python, so a sync does it off the thread that runs
    the model."""
    from llama_index.core.schema import MetadataMode

    plan = SpanPlan(sentences, [], [], [])
    for a, article_nodes in enumerate(nodes):
        for node in article_nodes:
            embed_text = node.get_content(metadata_mode=MetadataMode.EMBED)
            local, which = chunk_spans(node, embed_text, plan.sentences[a])
            plan.inputs.append(embed_text)
            plan.spans.append(local)
            plan.owners.append((a, which))
    return plan


def embed_articles(
    embedder: SpanEmbedder, plan: SpanPlan
) -> tuple[list[list[float]], list[SentenceVectors]]:
    """Chunk vectors for every input of the plan, and sentence vectors for every article.
    Sentences no chunk's tokens reached (past the model's length limit) are embedded on
    their own."""
    sentences = plan.sentences
    vectors, pooled = (
        embedder.embed_with_spans(plan.inputs, plan.spans) if plan.inputs else ([], [])
    )
    dim = len(vectors[0]) if vectors else 0
    # One row per sentence of the batch; each span's token sum is added to its sentence's row.
    first = np.cumsum([0] + [len(s) for s in sentences])
    sums = np.zeros((first[-1], dim), dtype=np.float32)
    counts = np.zeros(first[-1])
    rows = [first[a] + i for a, which in plan.owners for i in which]
    if rows and dim:
        np.add.at(sums, rows, np.concatenate([p.sums for p in pooled if len(p.sums)]))
        np.add.at(counts, rows, np.concatenate([p.counts for p in pooled if len(p.counts)]))
    missing = np.flatnonzero(counts == 0)
    if len(missing) and dim:
        owner = np.searchsorted(first, missing, side="right") - 1
        alone = embedder.get_text_embedding_batch(
            [sentences[a][row - first[a]].text for a, row in zip(owner, missing, strict=True)]
        )
        sums[missing] = np.asarray(alone, dtype=np.float32)
    out = [
        SentenceVectors(
            [(s.start, s.end) for s in sentences[a]], unit(sums[first[a] : first[a + 1]])
        )
        for a in range(len(sentences))
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
    first = bisect.bisect_right(sentences, start, key=lambda s: s.end)  # sentences are in order
    for i in range(first, len(sentences)):
        sentence = sentences[i]
        if sentence.start >= end:
            break
        a, b = max(sentence.start, start), min(sentence.end, end)
        if a < b:
            local.append((a + shift, b + shift))
            which.append(i)
    return local, which
