"""Newsdesk's hybrid retriever next to LlamaIndex's own fusion, on labelled questions.

Ranks articles (each by its best chunk) for every question with: Newsdesk's HybridRetriever
(weighted reciprocal ranks of dense and its BM25), LlamaIndex's QueryFusionRetriever over
the same Chroma vector store and LlamaIndex's BM25Retriever (reciprocal rerank, and relative
score with Newsdesk's weights), and dense retrieval alone. Reports article hit@1, hit@5, MRR
and the p50 of one retrieval. Needs `llama-index-retrievers-bm25` (not a project dependency):

    pip install --target /tmp/bm25 --no-deps llama-index-retrievers-bm25
    PYTHONPATH=.:/tmp/bm25 python -m bench.fusion --data-dir /tmp/nd-bbc \\
        ../shared/qa/bbc_dev.jsonl ../shared/qa/bbc_dev_more.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from newsdesk.index import Engine, Evaluator, Settings, load_questions
from newsdesk.index.retrieval import DENSE_WEIGHT, KEYWORD_WEIGHT

CANDIDATES = 40
"""Chunks each retriever gives before fusion, and fused chunks kept (as Newsdesk's)."""


def llama_retrievers(settings: Settings) -> dict[str, Callable[[str], list]]:
    """LlamaIndex's dense, BM25 and fusion retrievers over the index's chunk collection."""
    import chromadb
    import chromadb.config
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.vector_stores.utils import metadata_dict_to_node
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from newsdesk.index.embeddings import build_embedder

    client = chromadb.PersistentClient(  # the settings Newsdesk opens it with
        path=str(settings.data_dir / "chroma"),
        settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    collection = client.get_collection(settings.collection)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=build_embedder(settings)
    )
    dense = index.as_retriever(similarity_top_k=CANDIDATES)
    rows = collection.get(include=["metadatas", "documents"])
    nodes = [
        metadata_dict_to_node(meta, text=doc)
        for meta, doc in zip(rows["metadatas"], rows["documents"], strict=True)
    ]
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=CANDIDATES)

    def fusion(mode: str, weights: list[float] | None = None) -> QueryFusionRetriever:
        return QueryFusionRetriever(
            [dense, bm25],
            llm=MockLLM(),
            mode=mode,  # type: ignore[arg-type]
            similarity_top_k=CANDIDATES,
            num_queries=1,
            use_async=False,
            retriever_weights=weights,
        )

    return {
        "LlamaIndex QueryFusionRetriever, reciprocal_rerank": fusion("reciprocal_rerank").retrieve,
        f"LlamaIndex QueryFusionRetriever, relative_score {DENSE_WEIGHT:g}/{KEYWORD_WEIGHT:g}": (
            fusion("relative_score", [DENSE_WEIGHT, KEYWORD_WEIGHT]).retrieve
        ),
        "LlamaIndex BM25Retriever alone": bm25.retrieve,
        "dense alone (LlamaIndex over Chroma)": dense.retrieve,
    }


def article_order(nodes: list) -> list[str]:
    """Article ids in order of their best chunk."""
    order: list[str] = []
    for found in nodes:
        aid = found.node.metadata.get("article_id") or found.node.node_id.rsplit("#", 1)[0]
        if aid not in order:
            order.append(aid)
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path, nargs="+", help="JSON Lines question sets")
    parser.add_argument("--data-dir", type=Path, required=True, help="an index of the corpus")
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, _env_file=None)
    engine = Engine.open(settings)
    engine.warm_up()
    evaluator = Evaluator(engine)
    questions = [q for path in args.questions for q in load_questions(path) if q.article]
    variants = {"Newsdesk HybridRetriever": engine.as_retriever().retrieve}
    variants |= llama_retrievers(settings)
    print(f"{len(questions)} questions; article ranks by best chunk")
    print(f"{'retriever':58} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'p50 ms':>7}")
    for label, retrieve in variants.items():
        for q in questions[:5]:  # warm-up
            retrieve(q.question)
        ranks, seconds = [], []
        for q in questions:
            started = time.perf_counter()
            nodes = retrieve(q.question)
            seconds.append(time.perf_counter() - started)
            order = article_order(nodes)
            gold = q.article or ""
            ranks.append(
                next((i for i, a in enumerate(order, 1) if evaluator.same_article(a, gold)), None)
            )
        n = len(ranks)
        hit1 = sum(r == 1 for r in ranks) / n
        hit5 = sum(r is not None and r <= 5 for r in ranks) / n
        mrr = sum(1 / r for r in ranks if r) / n
        p50 = statistics.median(seconds) * 1000
        print(f"{label:58} {hit1:6.3f} {hit5:6.3f} {mrr:6.3f} {p50:7.1f}")


if __name__ == "__main__":
    main()
