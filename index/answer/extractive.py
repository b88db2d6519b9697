"""The default answerer: no LLM, the shortest set of article sentences that answers the question.

Each sentence of the best retrieved articles is scored on
- how much of the question's rare vocabulary it and its neighbours contain (IDF-weighted),
- whether it holds what the question asks for (a sum, a count, a date, a name, a reason),
- how relevant its article is overall (the fused retrieval score), and its position.
The best sentence becomes the answer (plus a second when the first lacks what was asked),
each marked [n] for its article. The answer is refused when the best article does not cover
the question's key terms, lacks a number or year the question names, or has no sentence of
the kind asked for near the question's terms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from index.answer.models import NOT_FOUND, Answer, Citation
from index.answer.question import answer_type, holds, numbers_in
from index.answer.sentences import Sentence, split_sentences
from index.lexical import terms
from index.retrieval import ArticleHit

MAX_ANSWER_CHARS = 400
MIN_COVERAGE = 0.35
"""Share of the question's IDF-weighted terms the best article must contain to answer."""
RELATED_SCORE = 0.6
"""Other articles are cited when their retrieval score is at least this share of the best."""
QUESTION_NOISE = {"accord", "report", "say", "said", "tell", "happen", "exact", "actual"}
CANDIDATE_ARTICLES = 4


@dataclass
class Scored:
    """A candidate sentence and its evidence."""

    article: int
    index: int
    sentence: Sentence
    lexical: float
    context: float
    typed: bool
    score: float = 0.0


class ExtractiveAnswerer:
    """Composes answers from verbatim article sentences; see the module docstring."""

    def __init__(self, idf: Callable[[str], float]) -> None:
        self.idf = idf

    def answer(
        self, question: str, hits: list[ArticleHit], texts: dict[str, str], top_k: int
    ) -> Answer:
        """The answer to `question` from retrieved articles `hits` whose full `texts` are given."""
        hits = collapse_copies([h for h in hits if h.article_id in texts], texts)
        q_terms = [t for t in dict.fromkeys(terms(question)) if t not in QUESTION_NOISE]
        if not hits or not q_terms:
            return refusal(question)
        weights = {t: self.idf(t) for t in q_terms}
        total = sum(weights.values()) or 1.0
        kind = answer_type(question)

        def coverage(words: set[str]) -> float:
            return sum(w for t, w in weights.items() if t in words) / total

        pool: list[Scored] = []
        article_cover: list[float] = []
        top_score = hits[0].score or 1.0
        for a, hit in enumerate(hits[:CANDIDATE_ARTICLES]):
            title_terms = set(terms(hit.metadata.get("title", "")))
            sentences = split_sentences(texts[hit.article_id])
            words = [set(terms(s.text)) for s in sentences]
            article_cover.append(coverage(title_terms.union(*words)))
            relevance = hit.score / top_score
            for i, sentence in enumerate(sentences):
                near = words[i].union(*(words[j] for j in (i - 1, i + 1) if 0 <= j < len(words)))
                item = Scored(
                    a,
                    i,
                    sentence,
                    lexical=coverage(words[i]),
                    context=coverage(near | title_terms),
                    typed=holds(sentence.text, kind, question),
                )
                item.score = (
                    0.45 * item.lexical
                    + 0.2 * item.context
                    + 0.2 * item.typed
                    + 0.3 * relevance
                    + 0.04 / (1 + i)
                    - 0.15 * (len(sentence.text) > 350)
                )
                pool.append(item)
        if not pool:
            return refusal(question)
        pool.sort(key=lambda s: s.score, reverse=True)
        best = pool[0]
        best_text = texts[hits[best.article].article_id]
        if self.refuse(question, kind, best, article_cover[best.article], best_text, pool):
            return refusal(question)
        chosen = [best]
        if not best.typed:
            for other in pool[1:8]:
                if (
                    other.typed
                    and other.article == best.article
                    and abs(other.index - best.index) <= 2
                    and len(best.sentence.text) + len(other.sentence.text) < MAX_ANSWER_CHARS
                ):
                    chosen.append(other)
                    break
        return compose(question, hits, pool, chosen, top_k)

    def refuse(
        self,
        question: str,
        kind: str,
        best: Scored,
        cover: float,
        text: str,
        pool: list[Scored],
    ) -> bool:
        """True when the evidence does not cover the question."""
        if cover < MIN_COVERAGE:
            return True
        if any(number not in text for number in numbers_in(question)):
            return True
        if kind in ("money", "percent", "count", "date"):
            same_article = [p for p in pool if p.article == best.article and p.context >= 0.5]
            return not any(p.typed for p in same_article)
        return False


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
