"""Choose BM25's weight in the hybrid retriever's fusion on the fit half.

Every labelled question (answerable ones; of a conversation, its first turn) is retrieved
with the real HybridRetriever (no filters) once per BM25 weight tried, dense retrieval's
weight held at 1; its articles are ranked by their best fused chunk. Printed: article hit@1
per set and half for each weight, then hit@1 and MRR over all fit and all check questions.
The weight with the best fit hit@1 (ties: the best fit MRR) is the one to set as
index.retrieval.KEYWORD_WEIGHT; the check half is only reported. Each set is named and
given its index, then its question files:

    python -m bench.fit_fusion \\
        --set bbc /tmp/nd-bbc ../shared/qa/bbc_dev.jsonl ../shared/qa/bbc_dev_more.jsonl \\
        --set bbc-conversations /tmp/nd-bbc ../shared/qa/bbc_conversations.jsonl \\
        --set reuters /tmp/nd-reuters ../shared/qa/reuters_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from llama_index.core.schema import QueryBundle

from newsdesk.index import (
    CHECK,
    FIT,
    Engine,
    Evaluator,
    Settings,
    half,
    load_conversations,
    load_questions,
)

WEIGHTS = (0.3, 0.5, 0.8, 1.0, 1.25, 1.6, 2.0, 3.0)


@dataclass
class Labelled:
    """A question with the article that answers it."""

    set_name: str
    id: str
    question: str
    article: str


def labelled(set_name: str, path: Path) -> list[Labelled]:
    """The answerable questions of a question set, or the first turns of conversations (in
    the half of their conversation, as `newsdesk eval --conversations` splits them)."""
    first = json.loads(next(line for line in path.open(encoding="utf-8") if line.strip()))
    if "turns" in first:
        turns = [(c.id, c.turns[0][0]) for c in load_conversations(path)]
    else:
        turns = [(q.id, q) for q in load_questions(path)]
    return [Labelled(set_name, i, q.question, q.article) for i, q in turns if q.article]


def ranks(engine: Engine, questions: list[Labelled]) -> list[dict[float, int | None]]:
    """Per question, the gold article's rank (1-based, None past 10) under each weight."""
    evaluator = Evaluator(engine)
    retriever = engine.as_retriever(10)
    found = []
    for q in questions:
        embedding = engine.embed_query(q.question)
        by_weight: dict[float, int | None] = {}
        for weight in WEIGHTS:
            retriever.keyword_weight = weight
            chunks = retriever.retrieve(QueryBundle(q.question, embedding=list(embedding)))
            articles = list(dict.fromkeys(c.node.metadata["article_id"] for c in chunks))
            by_weight[weight] = next(
                (n for n, a in enumerate(articles, 1) if evaluator.same_article(a, q.article)),
                None,
            )
        found.append(by_weight)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--set",
        nargs="+",
        action="append",
        required=True,
        metavar="NAME INDEX FILE",
        help="a set's name, the data dir of its index, then its question files (repeat)",
    )
    args = parser.parse_args()
    results: list[tuple[Labelled, dict[float, int | None]]] = []
    engines: dict[str, Engine] = {}
    for name, index, *files in args.set:
        if not files:
            parser.error(f"--set {name}: give the index, then at least one question file")
        if index not in engines:
            engines[index] = Engine(Settings(data_dir=Path(index), _env_file=None))
        questions = [q for f in files for q in labelled(name, Path(f))]
        results += zip(questions, ranks(engines[index], questions), strict=True)
    print("article hit@1 per BM25 weight (dense 1.0)")
    print(f"{'set':26s}{'half':7s}{'n':>4s}  " + "".join(f"{w:>7g}" for w in WEIGHTS))
    for name in dict.fromkeys(q.set_name for q, _ in results):
        for part in (FIT, CHECK):
            rows = [r for q, r in results if q.set_name == name and half(q.id) == part]
            if rows:
                shares = "".join(
                    f"{sum(r[w] == 1 for r in rows) / len(rows):7.3f}" for w in WEIGHTS
                )
                print(f"{name:26s}{part:7s}{len(rows):4d}  {shares}")
    scores: dict[str, list[tuple[float, float, float]]] = {}
    for part in (FIT, CHECK):
        rows = [r for q, r in results if half(q.id) == part] or [{}]
        scores[part] = [
            (
                sum(r.get(w) == 1 for r in rows) / len(rows),
                sum(1 / n for r in rows if (n := r.get(w))) / len(rows),
                w,
            )
            for w in WEIGHTS
        ]
        print(f"\nall {part} ({len(rows)} questions): weight, hit@1, MRR")
        for hit, mrr, w in scores[part]:
            print(f"  {w:<6g} {hit:.3f}  {mrr:.4f}")
    print(f"\nbest on the fit half: KEYWORD_WEIGHT = {max(scores[FIT])[2]:g}")


if __name__ == "__main__":
    main()
