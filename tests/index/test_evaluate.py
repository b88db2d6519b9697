"""The evaluation's fixed fit/check split, per-half figures and refusal curve (no engine)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from newsdesk.index.evaluate import (
    CHECK,
    FIT,
    Outcome,
    Report,
    half,
    load_questions,
    refusal_curve,
)


def outcome(
    qid: str, unanswerable: bool, answered: bool, confidence: float | None, kind: str | None = None
) -> Outcome:
    return Outcome(
        qid, "q?", unanswerable, answered, "an answer", 1, answered, confidence, 0.01, 0.005, kind
    )


def test_half_is_the_parity_of_the_ids_hash_first_byte() -> None:
    ids = [f"q{i:03d}" for i in range(200)]
    for qid in ids:
        even = hashlib.sha256(qid.encode()).digest()[0] % 2 == 0
        assert half(qid) == (FIT if even else CHECK)
    fit = sum(half(qid) == FIT for qid in ids)
    assert 70 < fit < 130  # a hash splits about evenly


def test_report_separates_answerable_and_unanswerable() -> None:
    report = Report.of(
        [
            outcome("a", False, True, 0.9),
            outcome("b", False, False, 0.1),
            outcome("c", True, False, 0.2),
            outcome("d", True, True, 0.6),
        ]
    )
    assert report.questions == 2 and report.unanswerable == 2
    assert report.false_refusal == 0.5
    assert report.refusal == 0.5
    assert report.accuracy == 0.5


def test_refusal_curve_counts_confidences_below_each_threshold() -> None:
    outcomes = [
        outcome("a", False, True, 0.9),
        outcome("b", False, True, 0.4),
        outcome("c", True, False, 0.2),
        outcome("d", True, True, 0.6),
        outcome("e", True, True, None),  # no confidence: left out
    ]
    assert refusal_curve(outcomes, [0.3, 0.5, 0.95]) == [
        (0.3, 0.5, 0.0),
        (0.5, 0.5, 0.5),
        (0.95, 1.0, 1.0),
    ]


def test_refusals_are_counted_per_kind_of_unanswerable_question(tmp_path: Path) -> None:
    rows = [
        {"id": "u1", "question": "Who won?", "kind": "near-miss"},
        {"id": "u2", "question": "Who lost?", "kind": "off-topic"},
        {"id": "u3", "question": "Who drew?"},
    ]
    path = tmp_path / "unanswerable.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [q.kind for q in load_questions(path)] == ["near-miss", "off-topic", None]

    report = Report.of(
        [
            outcome("a", False, False, 0.1, "near-miss"),  # answerable: not counted
            outcome("b", True, False, 0.2, "near-miss"),
            outcome("c", True, True, 0.8, "near-miss"),
            outcome("d", True, False, 0.1, "off-topic"),
            outcome("e", True, True, 0.9),  # no kind: only in the overall refusal
        ]
    )
    assert report.refusal_by_kind == {"near-miss": (1, 2), "off-topic": (1, 1)}
    assert report.refusal == 0.5
