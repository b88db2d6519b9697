"""Follow-ups resolved against the conversation (extractive mode: no LLM).

A question is scored as a follow-up by a logistic model (index/conversation/followup.json,
fitted by bench/fit_followup.py on the fit half) over general features: whether it refers
back (a third-person pronoun or demonstrative, a closed class of English words, before any
name of its own), how many names it carries, its length, how similar it is to the
conversation's subject, how similar the indexed chunk nearest to it is, and how much nearer
that is than the nearest chunk of the articles the conversation cited (with the real
embedder). A follow-up is searched as itself followed by that subject: the
title of the article the latest answered turn cited first (else the earlier question), and
retrieval adds the earlier questions to it and puts the articles the conversation cited
(any citation, not only the first) first; the answerer chooses its sentences weighing the
follow-up's own words too (index.answer.scorer.FollowUpShift). Any other question is left
alone.
In LLM mode the model condenses the follow-up instead (LlamaIndex's condense-question
prompt), then the same retrieval and verified citations follow.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsdesk.index.answer.base import Asked
from newsdesk.index.retrieval import ArticleHit

if TYPE_CHECKING:
    from newsdesk.index.conversation.store import Turn
    from newsdesk.index.engine import Engine

MODEL_PATH = Path(__file__).with_name("followup.json")
REFERRING = frozenset(
    {"he", "him", "his", "she", "her", "hers", "it", "its", "they", "them", "their", "theirs"}
    | {"this", "that", "these", "those", "there", "then", "such"}
)
"""Third-person pronouns and demonstratives: the closed class of English words that refer
back to something named earlier."""
WORD = re.compile(r"[A-Za-z][\w'’-]*")
CONTEXT_TURNS = 2
"""Earlier questions added to a follow-up's retrieval query, at most."""
FEATURES = ("refers", "names", "log_words", "similarity", "alone", "gap")


@dataclass
class Resolution:
    """How a question is searched: `searched` is the standalone question; `favoured` every
    article the conversation cited, put first when retrieval finds them."""

    question: str
    searched: str
    follow_up: bool = False
    probability: float = 0.0
    favoured: list[str] = field(default_factory=list)
    context: str = ""
    """The earlier questions, which retrieval adds to `searched` (their names stay useful when
    an earlier answer cited the wrong article)."""
    vectors: dict[str, list[float]] = field(default_factory=dict)
    """Embeddings already made, by text (extractive mode: `question`, `searched` and `query`,
    in one pass of the model)."""

    @property
    def asked(self) -> Asked | None:
        """A follow-up's own words, for the answerer (None unless `searched` was rewritten)."""
        return Asked(self.question, self.vectors.get(self.question)) if self.follow_up else None

    @property
    def query(self) -> str:
        """What retrieval searches for."""
        return f"{self.searched} {self.context}".strip()

    def rerank(self, hits: list[ArticleHit]) -> list[ArticleHit]:
        """Hits with the favoured articles first; both keep retrieval's order (an earlier
        answer may have cited first another article of the same story than the one this
        question is about)."""
        favoured = set(self.favoured)
        return sorted(hits, key=lambda hit: favoured.isdisjoint([hit.article_id, *hit.copies]))


def features(question: str, similarity: float, alone: float, gap: float) -> dict[str, float]:
    """The follow-up model's features of a question: `similarity` is its cosine to the
    conversation's subject, `alone` that of the indexed chunk most similar to it, `gap` how
    much less similar the nearest chunk of the articles the conversation cited is (0: the
    nearest chunk of all is theirs)."""
    words = WORD.findall(question)
    named = [i for i, w in enumerate(words) if i and w[0].isupper() and w != "I"]
    before = named[0] if named else len(words)  # a pronoun after a name may refer to it
    return {
        "refers": float(any(w.lower() in REFERRING for w in words[:before])),
        "names": float(len(named)),
        "log_words": math.log(1 + len(words)),
        "similarity": similarity,
        "alone": alone,
        "gap": gap,
    }


def cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)) or 1.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm


def cited(earlier: list[Turn]) -> list[str]:
    """Every article the conversation's answers cited, latest turn first."""
    return list(dict.fromkeys(c.article_id for t in reversed(earlier) for c in t.citations))


def subject(earlier: list[Turn]) -> tuple[str, list[str]]:
    """What a follow-up may refer to: the title of the article the latest answered turn cited
    first (else that turn's question), and the articles the conversation cited first, latest
    turn first."""
    answered = [t for t in earlier if t.answered and t.citations]
    favoured = list(dict.fromkeys(t.citations[0].article_id for t in reversed(answered)))
    if answered:
        return answered[-1].citations[0].title, favoured
    return earlier[-1].searched, favoured


def condense_prompt(question: str, earlier: list[Turn]) -> str:
    """LlamaIndex's condense-question prompt over the conversation's turns."""
    from llama_index.core.chat_engine.condense_question import DEFAULT_TEMPLATE

    history = "\n".join(f"user: {t.question}\nassistant: {t.answer}" for t in earlier)
    return DEFAULT_TEMPLATE.format(chat_history=history, question=question)


class Resolver:
    """Turns a question asked after `earlier` turns into the question to search."""

    def __init__(self, engine: Engine, model_path: Path = MODEL_PATH) -> None:
        self.engine = engine
        model = json.loads(model_path.read_text())
        self.weights = [float(model["weights"][name]) for name in FEATURES]
        self.bias = float(model["bias"])
        self.threshold = float(model["threshold"])

    def features(
        self, question: str, about: str, cited: list[str], vector: list[float] | None = None
    ) -> dict[str, float]:
        """The model's features of `question` (embedded as `vector`, unless None) asked in a
        conversation about `about` that cited the articles `cited`."""
        vector = vector or self.engine.embed_query(question)
        similarity = cosine(vector, self.engine.embed_text(about))
        alone = self.engine.nearest_score(vector)
        gap = self.engine.nearest_score(vector, cited[:CONTEXT_TURNS]) - alone if cited else -1.0
        return features(question, similarity, alone, gap)

    def probability(
        self, question: str, about: str, cited: list[str], vector: list[float] | None = None
    ) -> float:
        """The model's probability that `question` follows up on a conversation about `about`
        that cited `cited`."""
        values = self.features(question, about, cited, vector)
        z = self.bias + sum(w * values[n] for w, n in zip(self.weights, FEATURES, strict=True))
        return 1 / (1 + math.exp(-z))

    def resolve(self, question: str, earlier: list[Turn]) -> Resolution:
        """The standalone form of `question` (itself unless it is a follow-up)."""
        if not earlier:
            return Resolution(question, question)
        about, first_cited = subject(earlier)
        favoured = cited(earlier)
        condensed = self.condense(question, earlier)
        if condensed is not None:  # LLM mode: the model decides what the question refers to
            follow_up = condensed != question
            return Resolution(question, condensed, follow_up, float(follow_up), favoured)
        context = " ".join(t.question for t in earlier[-CONTEXT_TURNS:])
        follow_up = Resolution(question, f"{question} ({about})", True, 0.0, favoured, context)
        texts = list(dict.fromkeys([question, follow_up.searched, follow_up.query]))
        vectors = dict(zip(texts, self.engine.embed_queries(texts), strict=True))
        probability = self.probability(question, about, first_cited, vectors[question])
        if probability < self.threshold:
            return Resolution(question, question, probability=probability, vectors=vectors)
        follow_up.probability, follow_up.vectors = probability, vectors
        return follow_up

    def condense(self, question: str, earlier: list[Turn]) -> str | None:
        """LLM mode: the model's standalone rewrite of the follow-up (None in extractive mode,
        or when the model gives nothing usable)."""
        llm = getattr(self.engine.answerer, "llm", None)
        if llm is None:
            return None
        try:
            text = " ".join(llm.complete(condense_prompt(question, earlier)).text.split())
        except Exception as exc:
            raise self.engine.answerer.unavailable(exc) from exc  # type: ignore[union-attr]
        return text or None
