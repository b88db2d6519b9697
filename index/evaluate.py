"""`newsdesk eval`: run question sets through the engine and measure retrieval and answers."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from newsdesk.index.answer.models import Answer
from newsdesk.index.engine import Engine
from newsdesk.index.errors import NewsdeskError


@dataclass
class Question:
    """One evaluation question; `article` and `answers` are empty for unanswerable ones."""

    id: str
    question: str
    article: str | None = None
    answers: list[str] = field(default_factory=list)
    kind: str | None = None
    """What sort of question it is, as its file says (unanswerable sets: near-miss, off-topic,
    after the articles' time…): refusals are counted per kind too."""


FIT = "fit"
CHECK = "check"


def half(question_id: str) -> str:
    """The half a labelled question falls in, fixed once for every set: FIT when the first byte
    of the SHA-256 of its id is even (fit and tune on these), CHECK otherwise (report only)."""
    return FIT if hashlib.sha256(question_id.encode()).digest()[0] % 2 == 0 else CHECK


@dataclass
class Outcome:
    """What happened to one question."""

    id: str
    question: str
    unanswerable: bool
    answered: bool
    answer: str
    rank: int | None
    correct: bool
    confidence: float | None
    """The answerer's confidence that the articles answer the question (None: not given)."""
    seconds: float
    retrieval_seconds: float
    kind: str | None = None

    @property
    def half(self) -> str:
        return half(self.id)


@dataclass
class Report:
    """Aggregate figures; rates are fractions (0..1), latencies milliseconds."""

    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr: float
    accuracy: float
    false_refusal: float
    unanswerable: int
    refusal: float | None
    mean_answer_chars: float
    latency_p50_ms: float
    latency_p95_ms: float
    retrieval_p50_ms: float
    refusal_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per kind of unanswerable question (Question.kind): (refused, asked)."""
    outcomes: list[Outcome] = field(default_factory=list)

    def to_dict(self, with_outcomes: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_outcomes:
            data.pop("outcomes")
        return data

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Report:
        """The figures over some outcomes (answerable and unanswerable questions)."""
        good = [o for o in outcomes if not o.unanswerable]
        bad = [o for o in outcomes if o.unanswerable]
        n = max(len(good), 1)
        answered = [o for o in outcomes if o.answered]
        return cls(
            questions=len(good),
            hit_at_1=sum(o.rank == 1 for o in good) / n,
            hit_at_5=sum(o.rank is not None and o.rank <= 5 for o in good) / n,
            mrr=sum(1 / o.rank for o in good if o.rank) / n,
            accuracy=sum(o.correct for o in good) / n,
            false_refusal=sum(not o.answered for o in good) / n,
            unanswerable=len(bad),
            refusal=(sum(not o.answered for o in bad) / len(bad)) if bad else None,
            mean_answer_chars=(
                statistics.mean(len(o.answer) for o in answered) if answered else 0.0
            ),
            latency_p50_ms=percentile([o.seconds * 1000 for o in outcomes], 50),
            latency_p95_ms=percentile([o.seconds * 1000 for o in outcomes], 95),
            retrieval_p50_ms=percentile([o.retrieval_seconds * 1000 for o in outcomes], 50),
            refusal_by_kind={
                kind: (
                    sum(not o.answered for o in bad if o.kind == kind),
                    sum(o.kind == kind for o in bad),
                )
                for kind in sorted({o.kind for o in bad if o.kind})
            },
            outcomes=outcomes,
        )


def refusal_curve(
    outcomes: list[Outcome], thresholds: list[float]
) -> list[tuple[float, float, float]]:
    """(threshold, refusal of unanswerable, false refusal of answerable) if every question
    whose confidence is below the threshold were refused; questions without one are left out."""
    good = [o.confidence for o in outcomes if not o.unanswerable and o.confidence is not None]
    bad = [o.confidence for o in outcomes if o.unanswerable and o.confidence is not None]
    return [
        (
            t,
            sum(c < t for c in bad) / max(len(bad), 1),
            sum(c < t for c in good) / max(len(good), 1),
        )
        for t in thresholds
    ]


def jsonl_rows(path: Path, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON Lines file of `kind`s."""
    if not path.is_file():
        raise NewsdeskError(f"no such {kind} file: {path}")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise NewsdeskError(f"{path}:{number} is not JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise NewsdeskError(f"{path}:{number} is not a {kind} object")
        yield number, row


def load_questions(path: Path) -> list[Question]:
    """Questions from a JSON Lines file (keys: id, question, article?, answers?, kind?)."""
    questions = []
    for number, row in jsonl_rows(path, "question"):
        try:
            questions.append(
                Question(
                    id=str(row.get("id", number)),
                    question=row["question"],
                    article=row.get("article"),
                    answers=list(row.get("answers") or []),
                    kind=str(row["kind"]) if row.get("kind") else None,
                )
            )
        except (KeyError, TypeError) as exc:
            raise NewsdeskError(f"{path}:{number} is not a question object ({exc})") from exc
    return questions


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values, 0 when there are none."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class Evaluator:
    """Runs questions through `Engine.ask` exactly as the API does, and scores them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._digest: dict[str, str] = {}

    def same_article(self, cited: str, gold: str) -> bool:
        """Cited is the gold article, or an article with identical text (a duplicate)."""
        if cited == gold or cited.endswith("/" + gold):
            return True
        return self.digest(cited) is not None and self.digest(cited) == self.digest(gold)

    def digest(self, article_id: str) -> str | None:
        if article_id not in self._digest:
            texts = self.engine.texts([article_id])
            text = texts.get(article_id)
            self._digest[article_id] = (
                hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest() if text else ""
            )
        return self._digest[article_id] or None

    def rank(self, answer: Answer, gold: str) -> int | None:
        for citation in answer.citations:
            ids = [citation.article_id, *citation.copies]
            if any(self.same_article(i, gold) for i in ids):
                return citation.n
        return None

    def run_one(self, q: Question, unanswerable: bool = False) -> Outcome:
        started = time.perf_counter()
        answer, confidence = self.engine.assess(q.question)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        self.engine.as_retriever().retrieve(" ".join(q.question.split()))
        retrieval = time.perf_counter() - started
        return self.outcome(q.id, q, unanswerable, answer, confidence, seconds, retrieval)

    def outcome(
        self,
        outcome_id: str,
        q: Question,
        unanswerable: bool,
        answer: Answer,
        confidence: float | None,
        seconds: float,
        retrieval: float = 0.0,
    ) -> Outcome:
        """How `answer` to `q` scores: the rank of its gold article among the citations and
        whether the answer holds one of the answer strings."""
        rank = self.rank(answer, q.article) if q.article else None
        text = answer.answer.lower()
        correct = answer.answered and any(a.lower() in text for a in q.answers)
        return Outcome(
            outcome_id,
            q.question,
            unanswerable,
            answer.answered,
            answer.answer,
            rank,
            correct,
            confidence,
            seconds,
            retrieval,
            q.kind,
        )

    def run(
        self,
        answerable: list[Question],
        unanswerable: list[Question],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Outcome]:
        """Every question's outcome, answerable ones first."""
        everything = [(q, False) for q in answerable] + [(q, True) for q in unanswerable]
        outcomes: list[Outcome] = []
        for i, (q, bad) in enumerate(everything, start=1):
            outcomes.append(self.run_one(q, bad))
            if progress:
                progress(i, len(everything))
        return outcomes
