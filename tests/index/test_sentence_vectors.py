"""Sentence vectors made in the chunk embedding pass: pooling, storage, sync, and the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import MetadataMode

from newsdesk.index.answer.sentences import split_sentences
from newsdesk.index.articles import Article
from newsdesk.index.chunking import Chunker
from newsdesk.index.config import Settings
from newsdesk.index.embeddings import HashEmbedding
from newsdesk.index.engine import Engine
from newsdesk.index.sentence_vectors import (
    SentenceVectors,
    chunk_spans,
    embed_articles,
    plan_spans,
    pool_spans,
    unit,
)

LONG = " ".join(
    f"Sentence {i} tells how the harbour of town {i} rebuilt its pier after the storm."
    for i in range(60)
)


def test_pool_spans_sums_the_tokens_inside_each_span() -> None:
    tokens = np.arange(12, dtype=np.float32).reshape(6, 2)
    # [CLS] "ab" "cd" | "ef" "gh" [SEP]; special tokens have empty offsets
    offsets = [(0, 0), (0, 2), (3, 5), (6, 8), (9, 11), (0, 0)]
    pooled = pool_spans(tokens, offsets, [(0, 5), (6, 11)])
    assert pooled.counts.tolist() == [2, 2]
    assert pooled.sums.tolist() == [[2 + 4, 3 + 5], [6 + 8, 7 + 9]]
    gap = pool_spans(tokens, offsets, [(3, 5), (20, 30)])  # a span no token reaches
    assert gap.counts.tolist() == [1, 0]
    assert gap.sums[1].tolist() == [0.0, 0.0]


def test_vectors_survive_storage_as_metadata() -> None:
    rng = np.random.default_rng(7)
    vectors = unit(rng.normal(size=(5, 384)).astype(np.float32))
    stored = SentenceVectors([(0, 10), (11, 30), (31, 40), (41, 50), (51, 60)], vectors)
    back = SentenceVectors.from_metadata(stored.to_metadata())
    assert back.spans == stored.spans
    cosines = np.sum(back.vectors * vectors, axis=1)
    assert cosines.min() > 0.999  # int8 quantisation keeps the direction
    empty = SentenceVectors.from_metadata(SentenceVectors([], np.zeros((0, 3))).to_metadata())
    assert empty.spans == [] and len(empty.vectors) == 0


def test_chunk_spans_point_at_the_sentence_inside_the_embedded_text() -> None:
    article = Article(id="pier", title="Towns rebuild their piers", text=LONG)
    sentences = split_sentences(article.text)
    nodes = Chunker(64, 16).chunk(article, "test")
    assert len(nodes) > 2
    covered: set[int] = set()
    for node in nodes:
        embed_text = node.get_content(metadata_mode=MetadataMode.EMBED)
        spans, which = chunk_spans(node, embed_text, sentences)
        assert spans
        for (a, b), i in zip(spans, which, strict=True):
            assert embed_text[a:b] in sentences[i].text  # a whole sentence or part of one
        covered.update(which)
    assert covered == set(range(len(sentences)))  # every sentence lies in some chunk


def test_embed_articles_gives_every_sentence_a_vector() -> None:
    embedder = HashEmbedding()
    texts = [LONG, "One short article.\nWith two lines."]
    chunker = Chunker(64, 16)
    nodes = [
        chunker.chunk(Article(id=f"a{i}", title="t", text=t), "x") for i, t in enumerate(texts)
    ]
    split = [split_sentences(t) for t in texts]
    vectors, sentences = embed_articles(embedder, plan_spans(split, nodes))
    assert len(vectors) == sum(len(n) for n in nodes)
    for text, result in zip(texts, sentences, strict=True):
        assert result.spans == [(s.start, s.end) for s in split_sentences(text)]
        assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


def test_sync_stores_sentence_vectors(fake_settings: Settings) -> None:
    engine = Engine(fake_settings)
    article = Article(id="pier", title="Towns rebuild their piers", text=LONG)
    engine.upsert(article)
    stored = engine._store.vectors_of({"pier": LONG})["pier"]
    assert len(stored.spans) == len(split_sentences(LONG))
    assert engine.texts(["pier"]) == {"pier": LONG}
    engine.delete("pier")
    assert engine._store.vectors_of({"pier": LONG}) == {}
    assert engine.texts(["pier"]) == {}


def test_sentence_vectors_are_those_stored_with_the_text_the_answer_reads(
    fake_settings: Settings,
) -> None:
    """The answerer reads an article's text, then its sentence vectors: they must belong to that
    text, even when the article was stored again in between (by another replica)."""
    engine = Engine(fake_settings)
    engine.upsert(Article(id="pier", title="Towns rebuild their piers", text=LONG))
    read = engine.texts(["pier"])
    assert len(engine._store.vectors_of(read)["pier"].spans) == len(split_sentences(LONG))
    shorter = "The pier reopened in May. It cost four million pounds."
    engine.upsert(Article(id="pier", title="Towns rebuild their piers", text=shorter))
    assert engine._store.vectors_of(read) == {}  # the stored vectors now belong to `shorter`
    again = engine.texts(["pier"])
    assert len(engine._store.vectors_of(again)["pier"].spans) == 2


@pytest.mark.integration
def test_real_model_chunk_and_sentence_vectors(real_embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "The museum reopened on Friday after a two-year renovation costing 12 million pounds.\n"
        "Its new wing holds a collection of Viking swords found in a peat bog in 1952.\n"
        "Ticket prices will stay at eight pounds for adults, the director said."
    )
    nodes = Chunker(192, 32).chunk(Article(id="m", title="Museum reopens", text=text), "x")
    plan = plan_spans([split_sentences(text)], [nodes])
    vectors, (sentences,) = embed_articles(real_embedder, plan)
    embed_texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    plain = np.asarray(real_embedder.get_text_embedding_batch(embed_texts))
    assert np.allclose(np.asarray(vectors), plain, atol=1e-4)  # the same chunk vectors as before

    questions = [
        "What did the renovation cost?",
        "Where were the swords found?",
        "How much does a ticket cost?",
    ]
    query = np.asarray([real_embedder.get_query_embedding(q) for q in questions])
    best = (query @ sentences.vectors.T).argmax(axis=1)
    assert best.tolist() == [0, 1, 2]
