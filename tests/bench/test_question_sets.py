"""The team's own question sets (bench/qa): they load with `newsdesk eval`'s readers, fall in
both halves, and, where the shared corpora are on disk, every answer string is in its article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsdesk.index.conversation.evaluate import load_conversations
from newsdesk.index.evaluate import FIT, half, load_questions

QA = Path(__file__).parents[2] / "bench" / "qa"
CORPORA = Path(__file__).parents[3] / "shared" / "corpora"
QUESTION_SETS = (
    "bbc_extra",
    "bbc_extra_unanswerable",
    "reuters_extra",
    "reuters_extra_unanswerable",
)


def test_every_set_loads_with_unique_ids_in_both_halves() -> None:
    ids: list[str] = []
    for name in QUESTION_SETS:
        questions = load_questions(QA / f"{name}.jsonl")
        assert len(questions) >= 50
        assert all((q.article is None) == name.endswith("unanswerable") for q in questions)
        assert {half(q.id) == FIT for q in questions} == {True, False}
        ids += [q.id for q in questions]
    conversations = load_conversations(QA / "bbc_extra_conversations.jsonl")
    assert all(len(c.turns) >= 2 for c in conversations)
    ids += [c.id for c in conversations]
    assert len(ids) == len(set(ids))


def bbc_text(article: str) -> str:
    return (CORPORA / "bbc" / article).read_bytes().decode("utf-8", errors="replace")


@pytest.mark.skipif(not (CORPORA / "bbc").is_dir(), reason="the shared corpora are not on disk")
def test_every_answer_string_is_in_its_article() -> None:
    reuters: dict[str, str] = {}
    with (CORPORA / "reuters21578.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            reuters[row["id"]] = row["text"]
    turns = [q for name in QUESTION_SETS for q in load_questions(QA / f"{name}.jsonl")]
    for conversation in load_conversations(QA / "bbc_extra_conversations.jsonl"):
        turns += [q for q, unanswerable in conversation.turns if not unanswerable]
    missing = []
    for q in turns:
        if q.article is None:
            continue
        text = reuters[q.article] if q.article.startswith("reuters-") else bbc_text(q.article)
        if not any(a.lower() in text.lower() for a in q.answers):
            missing.append(q.id)
    assert not missing
