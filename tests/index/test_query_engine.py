"""Newsdesk through LlamaIndex's public interfaces: a retriever and a query engine."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from newsdesk.index import Answer, Engine, Filters, Settings
from newsdesk.index.retrieval import KEYWORD_WEIGHT, ChunkHit, ScoredChunk, relative

BRIDGE_Q = "How much will the new harbour bridge cost?"


@pytest.fixture
def fake_engine(fake_settings: Settings, corpus: Path) -> Iterator[Engine]:
    """An engine with the test embedder over the fixture corpus."""
    engine = Engine(fake_settings)
    engine.sync([corpus])
    yield engine
    engine.close()


def test_query_engine_response_cites_its_source_nodes(real_engine: Engine, corpus: Path) -> None:
    real_engine.sync([corpus])
    query_engine = real_engine.as_query_engine()
    assert isinstance(query_engine, BaseQueryEngine)

    response = query_engine.query(BRIDGE_Q)

    assert isinstance(response, Response)
    answer = (response.metadata or {})["answer"]
    assert isinstance(answer, Answer) and answer.answered
    assert str(response) == answer.answer
    assert [n.node.metadata["article_id"] for n in response.source_nodes] == [
        c.article_id for c in answer.citations
    ]
    assert answer.citations[0].article_id == "world/harbour-bridge.txt"
    for node, citation in zip(response.source_nodes, answer.citations, strict=True):
        assert node.score == citation.score
        assert node.node.get_content() in real_engine.article(citation.article_id)[0]
    assert answer.citations[0].quote in response.source_nodes[0].node.get_content()
    assert real_engine.ask(BRIDGE_Q) == answer  # the engine's own path is the same


def test_retriever_serves_fused_chunks_best_first(fake_engine: Engine) -> None:
    retriever = fake_engine.as_retriever(top_k=5)
    assert isinstance(retriever, BaseRetriever)
    query = QueryBundle(BRIDGE_Q)

    nodes = retriever.retrieve(query)

    assert nodes and all(isinstance(n, NodeWithScore) for n in nodes)
    scores = [n.get_score() for n in nodes]
    assert scores == sorted(scores, reverse=True)
    assert all(n.node.get_content() and n.node.metadata.get("article_id") for n in nodes)
    assert len({n.node.metadata["article_id"] for n in nodes}) <= 5
    assert query.embedding  # embedded once, for the answerer too


def test_nearest_score_among_articles_is_the_vector_stores_own(fake_engine: Engine) -> None:
    """The follow-up model's nearest-chunk score among a few articles, computed exactly, is
    what Chroma's filtered search gives (exp(-distance), as LlamaIndex scores it)."""
    vector = fake_engine.embed_query(BRIDGE_Q)
    chunks = fake_engine.chroma_client.get_collection(fake_engine.settings.collection)
    articles = [["world/harbour-bridge.txt"], ["world/glacier.md", "tech/logo.txt"]]
    for among in articles:
        found = chunks.query(
            query_embeddings=[vector],
            n_results=1,
            where={"article_id": {"$in": among}},
            include=["distances"],
        )
        expected = math.exp(-found["distances"][0][0])
        assert fake_engine.nearest_score(vector, among) == pytest.approx(expected, abs=1e-6)
    everything = chunks.query(query_embeddings=[vector], n_results=1, include=["distances"])
    assert fake_engine.nearest_score(vector) == pytest.approx(
        math.exp(-everything["distances"][0][0]), abs=1e-6
    )
    assert fake_engine.nearest_score(vector, ["no/such-article.txt"]) == 0.0


def test_keyword_weight_sets_how_much_bm25_counts(fake_engine: Engine) -> None:
    """The fusion weight bench.fit_fusion chooses: BM25 alone decides with a huge weight,
    dense retrieval alone with none."""
    retriever = fake_engine.as_retriever(top_k=5)
    orders = {}
    for weight in (0.0, 1e6):
        retriever.keyword_weight = weight
        nodes = [n for n in retriever.retrieve(QueryBundle(BRIDGE_Q)) if isinstance(n, ScoredChunk)]
        orders[weight] = nodes
    assert orders[0.0][0].dense == max(n.dense for n in orders[0.0])
    assert orders[1e6][0].keyword == max(n.keyword for n in orders[1e6]) > 0
    assert fake_engine.as_retriever(top_k=3).keyword_weight == KEYWORD_WEIGHT


def test_retriever_filters(fake_engine: Engine) -> None:
    nodes = fake_engine.as_retriever(filters=Filters(source="Tech Wire")).retrieve(BRIDGE_Q)
    assert all(n.node.metadata.get("source") == "Tech Wire" for n in nodes)


def test_query_engine_refuses_without_articles(fake_engine: Engine) -> None:
    response = fake_engine.as_query_engine(filters=Filters(source="no such outlet")).query(BRIDGE_Q)
    assert not response.metadata["answer"].answered  # type: ignore[index]
    assert response.source_nodes == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_query_engine_answers_asynchronously(fake_engine: Engine, anyio_backend: str) -> None:
    response = await fake_engine.as_query_engine().aquery(BRIDGE_Q)
    assert response.metadata["answer"] == fake_engine.ask(BRIDGE_Q)  # type: ignore[index]


def test_relative_score_fusion_scales_each_retriever() -> None:
    hits = [ChunkHit(f"a#{i}", "", {}) for i in range(3)]
    assert [share for _, share in relative([0.2, 0.5, 0.8], hits)] == pytest.approx([0, 0.5, 1])
    assert [share for _, share in relative([3.0, 3.0], hits[:2])] == [1.0, 1.0]
    assert relative([], []) == []


def test_questions_embed_in_one_batch_with_any_llamaindex_embedding(
    fake_engine: Engine, tmp_path: Path
) -> None:
    from llama_index.core.embeddings import MockEmbedding

    texts = ["When will it open?", "When will it open? (Bridge approved)"]
    ours = fake_engine.embed_queries(texts)  # the test embedder batches them itself
    assert ours == [fake_engine.embed_query(t) for t in texts]
    other = Engine(
        Settings(data_dir=tmp_path / "other", _env_file=None),
        embedder=MockEmbedding(embed_dim=8),
    )
    assert other.embed_queries(texts) == [[0.5] * 8, [0.5] * 8]  # one text at a time
    other.close()
