"""The default answerer: no LLM, the shortest set of article sentences that answers the question.

Each sentence of the best retrieved articles is scored on
- how much of the question's vocabulary it and its neighbours contain, weighted by rarity
  (IDF), names and numbers counting most,
- whether it holds what the question asks for (a sum, a count, a date, a name, a reason),
- how relevant its article is overall (the fused retrieval score), and its position,
- how similar it is to the question by the embedding model (sentence vectors are made at
  index time, see index.sentence_vectors, so this costs no model pass).
The best sentence becomes the answer, with the next best from the same article while all fit
in MAX_ANSWER_CHARS (three at most), each marked [n] for its article. The answer is refused
when nothing retrieved resembles the question, when the best article lacks most of the
question's weighted terms (names and numbers weigh most), when a question about how something
turned out is met mostly by sentences that still look ahead to it, or when no chosen sentence
holds the kind of thing asked for beside some of the question's own terms.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.answer.models import NOT_FOUND, Answer, Citation
from index.answer.question import (
    answer_type,
    asks_outcome,
    focus_nouns,
    holds,
    key_terms,
    looks_ahead,
)
from index.answer.sentences import Sentence, split_sentences
from index.lexical import KeywordIndex, terms
from index.retrieval import ArticleHit
from index.sentence_vectors import SentenceVectors, unit

MAX_ANSWER_CHARS = 500
"""Sentences are given together only within this length."""
MAX_SENTENCES = 3
MIN_COVERAGE = 0.5
"""Share of the question's weighted terms the best article must contain to answer."""
RELATED_SCORE = 0.3
"""Other articles are cited when their retrieval score is at least this share of the best."""
TYPED_KINDS = ("money", "percent", "count", "date", "quantity", "length")
"""Questions whose answer must hold a sum, a share, a count, a date, a measure or a span."""
CANDIDATE_ARTICLES = 3
SIMILARITY_WEIGHT = 0.8
UNSEEN_WORD_WEIGHT = 0.5
"""Weight of a question word the corpus never uses (likely a paraphrase, not a topic)."""
FOCUS_NOUN_WEIGHT = 0.3
"""The noun a question asks for ("which *companies*") names the answer's type, not its topic."""
QUESTION_NOISE = {"accord", "report", "say", "said", "tell", "happen", "exact", "actual"}

Embed = Callable[[list[str]], Sequence[Sequence[float]]]
Stored = Callable[[list[str]], dict[str, SentenceVectors]]


@dataclass
class Scored:
    """A candidate sentence and its evidence."""

    article: int
    index: int
    sentence: Sentence
    lexical: float
    context: float
    typed: float
    similarity: float
    score: float = 0.0


class ExtractiveAnswerer:
    """Composes answers from verbatim article sentences; see the module docstring."""

    def __init__(
        self,
        vocabulary: Callable[[], KeywordIndex],
        stored: Stored,
        embed: Embed,
        min_similarity: float,
    ) -> None:
        self.vocabulary = vocabulary
        self.stored = stored
        self.embed = embed
        """Embeds the sentences of an article indexed without sentence vectors."""
        self.min_similarity = min_similarity
        """Below this cosine similarity of question and best chunk, nothing is on topic."""

    def weights(self, question: str) -> dict[str, float]:
        """Question terms and how much each counts: IDF; names and numbers the corpus lacks count
        fully, ordinary words it lacks only a little."""
        vocabulary = self.vocabulary()
        named = key_terms(question)
        out: dict[str, float] = {}
        for term in dict.fromkeys(terms(question)):
            if term in QUESTION_NOISE:
                continue
            known = vocabulary.df.get(term, 0) > 0
            out[term] = vocabulary.idf(term) if known or term in named else UNSEEN_WORD_WEIGHT
        return out

    def answer(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
    ) -> Answer:
        """The answer to `question` from retrieved articles `hits` whose full `texts` are given."""
        return self.assess(question, hits, texts, top_k, query_vector)[0]

    def assess(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
    ) -> tuple[Answer, float]:
        """The answer and the confidence (0..1) that the articles answer the question: here
        1 when answered, 0 when refused."""
        hits = collapse_copies([h for h in hits if h.article_id in texts], texts)
        weights = self.weights(question)
        if not hits or not weights:
            return refusal(question), 0.0
        total = sum(weights.values())
        kind = answer_type(question)
        asked_for = set(terms(" ".join(focus_nouns(question))))

        def coverage(words: set[str]) -> float:
            return sum(w for t, w in weights.items() if t in words) / total

        pool: list[Scored] = []
        article_cover: list[float] = []
        top_score = hits[0].score or 1.0
        candidates = hits[:CANDIDATE_ARTICLES]
        stored = self.stored([hit.article_id for hit in candidates])
        for a, hit in enumerate(candidates):
            title_terms = set(terms(hit.metadata.get("title", "")))
            text = texts[hit.article_id]
            vectors = stored.get(hit.article_id) or self.sentence_vectors(text)
            sentences = vectors.sentences(text)
            similarity = (
                vectors.vectors @ np.asarray(query_vector, dtype=np.float32)
                if query_vector is not None and len(sentences)
                else np.zeros(len(sentences))
            )
            words = [set(terms(s.text)) for s in sentences]
            article_cover.append(coverage(title_terms.union(*words)))
            local = local_weights(weights, words, asked_for)
            local_total = sum(local.values()) or 1.0

            def salience(
                found: set[str], local: dict[str, float] = local, total: float = local_total
            ) -> float:
                return sum(w for t, w in local.items() if t in found) / total

            relevance = hit.score / top_score
            for i, sentence in enumerate(sentences):
                near = words[i].union(*(words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)))
                item = Scored(
                    a,
                    i,
                    sentence,
                    lexical=salience(words[i]),
                    context=coverage(near | title_terms),
                    typed=holds(sentence.text, kind, question),
                    similarity=float(similarity[i]),
                )
                item.score = (
                    1.0 * item.lexical
                    + 0.3 * item.context
                    + 0.6 * item.typed
                    + 0.4 * relevance
                    + 0.05 / (1 + i)
                    - 0.3 * (len(sentence.text) > 350)
                    + SIMILARITY_WEIGHT * item.similarity
                )
                pool.append(item)
        if not pool:
            return refusal(question), 0.0
        pool.sort(key=lambda s: s.score, reverse=True)
        best = pool[0]
        chosen = self.choose(pool)
        hit = hits[best.article]
        evidence = Evidence(
            kind=kind,
            chosen=chosen,
            cover=article_cover[best.article],
            dense=hit.dense,
        )
        if self.refuse(question, evidence):
            return refusal(question), 0.0
        return compose(question, hits, pool, chosen, top_k), 1.0

    def sentence_vectors(self, text: str) -> SentenceVectors:
        """Sentence vectors of an article indexed without them, made now."""
        sentences = split_sentences(text)
        if not sentences:
            return SentenceVectors([], np.zeros((0, 1), dtype=np.float32))
        vectors = unit(np.asarray(self.embed([s.text for s in sentences]), dtype=np.float32))
        return SentenceVectors([(s.start, s.end) for s in sentences], vectors)

    @staticmethod
    def choose(pool: list[Scored]) -> list[Scored]:
        """The best sentence, then the next best of the same article (among the top five) as
        long as all fit in MAX_ANSWER_CHARS, up to MAX_SENTENCES: the answer to a news
        question often spans a few sentences."""
        best = pool[0]
        chosen = [best]
        length = len(best.sentence.text)
        for other in pool[1:5]:
            if len(chosen) == MAX_SENTENCES:
                break
            fits = length + len(other.sentence.text) <= MAX_ANSWER_CHARS
            if other.article == best.article and fits:
                chosen.append(other)
                length += len(other.sentence.text)
        return chosen

    def refuse(self, question: str, evidence: Evidence) -> bool:
        """True when the evidence does not cover the question: nothing retrieved resembles it,
        its best article lacks most of its weighted terms, it asks how something turned out
        and at least half the chosen sentences still look ahead to it, or it asks for a sum,
        count, share, measure, span or date and no chosen sentence holds one beside the
        question's own terms."""
        if evidence.dense < self.min_similarity or evidence.cover < MIN_COVERAGE:
            return True
        if asks_outcome(question):
            ahead = sum(looks_ahead(item.sentence.text) for item in evidence.chosen)
            if 2 * ahead >= len(evidence.chosen):
                return True
        if evidence.kind in TYPED_KINDS:
            # the sum must share a sentence with one of the question's own terms (a weight
            # share would fail "the roof cost €6m" once "cost" is common in the corpus)
            return not any(item.typed and item.lexical > 0 for item in evidence.chosen)
        return False


@dataclass
class Evidence:
    """What the answer would rest on, for deciding whether to give it."""

    kind: str
    chosen: list[Scored]
    cover: float
    """Share of the question's weighted terms found in the best article and its title."""
    dense: float
    """Cosine similarity of the question and the best article's nearest chunk."""


def local_weights(
    weights: dict[str, float], sentences: list[set[str]], asked_for: set[str]
) -> dict[str, float]:
    """Question-term weights for choosing among one article's sentences: a term in most of
    them (the article's topic) tells them apart less than one in few, and the noun the
    question asks for names the answer's type rather than its topic."""
    n = len(sentences) or 1
    return {
        term: weight
        * math.log(1 + n / (1 + sum(term in s for s in sentences)))
        * (FOCUS_NOUN_WEIGHT if term in asked_for else 1.0)
        for term, weight in weights.items()
    }


def refusal(question: str) -> Answer:
    """The honest answer when the articles do not say."""
    return Answer(question=question, answer=NOT_FOUND, answered=False)


def compose(
    question: str,
    hits: list[ArticleHit],
    pool: list[Scored],
    chosen: list[Scored],
    top_k: int,
) -> Answer:
    """Number the cited articles (answer sources first) and write the answer text."""
    order: list[int] = []
    for item in chosen:
        if item.article not in order:
            order.append(item.article)
    top_score = hits[0].score or 1.0
    for a, hit in enumerate(hits):
        if len(order) >= top_k:
            break
        if a not in order and hit.score >= RELATED_SCORE * top_score:
            order.append(a)
    best_of: dict[int, Scored] = {}
    for item in pool:
        best_of.setdefault(item.article, item)
    citations = []
    for n, a in enumerate(order, start=1):
        hit = hits[a]
        quoted = next((c for c in chosen if c.article == a), None) or best_of.get(a)
        quote = quoted.sentence.text if quoted else first_sentence(hit.chunks[0].text)
        meta = hit.metadata
        citations.append(
            Citation(
                n=n,
                article_id=hit.article_id,
                title=meta.get("title", ""),
                url=meta.get("url") or None,
                published_at=meta.get("published_at") or None,
                source=meta.get("source") or None,
                quote=quote.strip(),
                score=round(min(hit.score, 1.0), 4),
                copies=list(hit.copies),
            )
        )
    number_of = {a: n for n, a in enumerate(order, start=1)}
    in_order = sorted(chosen, key=lambda c: (number_of[c.article], c.sentence.start))
    text = " ".join(f"{c.sentence.text.strip()} [{number_of[c.article]}]" for c in in_order)
    return Answer(question=question, answer=text, answered=True, citations=citations)


def first_sentence(text: str) -> str:
    """The first sentence of a chunk, as a fallback quote."""
    sentences = split_sentences(text)
    return sentences[0].text if sentences else text[:300]


def collapse_copies(hits: list[ArticleHit], texts: dict[str, str]) -> list[ArticleHit]:
    """Merge articles with identical text into the best-ranked one, recording the copies."""
    seen: dict[str, ArticleHit] = {}
    out: list[ArticleHit] = []
    for hit in hits:
        key = hashlib.sha256(" ".join(texts[hit.article_id].split()).lower().encode()).hexdigest()
        if key in seen:
            seen[key].copies.append(hit.article_id)
            continue
        seen[key] = hit
        out.append(hit)
    return out
