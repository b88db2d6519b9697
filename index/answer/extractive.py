"""The default answerer: no LLM, the shortest set of article sentences that answers the question.

Every sentence of the best retrieved articles gets the features in SENTENCE_FEATURES: how much
of the question's vocabulary it, its neighbours and its headline hold, weighted by rarity
(IDF); its embedding similarity to the question (sentence vectors are made at index time, see
index.sentence_vectors, so this costs no model pass); whether it holds what the question asks
for (a sum, a count, a date, names, a reason); its article's retrieval rank and similarity;
its position and length. A logistic regression fitted on labelled questions
(index.answer.scorer, `python -m bench.fit_answerer`) scores them. The best sentence becomes the
answer, with the next likely ones from the same article while all fit in MAX_ANSWER_CHARS
(three at most), each marked [n] for its article. A second fitted model turns the evidence
(DECISION_FEATURES) into the confidence that the articles answer the question; below its
threshold, or when nothing retrieved resembles the question, the answer is refused.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from newsdesk.index.answer.base import Asked
from newsdesk.index.answer.models import NOT_FOUND, Answer, Citation
from newsdesk.index.answer.question import (
    answer_type,
    asks_outcome,
    focus_nouns,
    holds,
    key_terms,
    looks_ahead,
)
from newsdesk.index.answer.scorer import AnswerModel, load_model
from newsdesk.index.answer.sentences import Sentence, split_sentences
from newsdesk.index.lexical import KeywordIndex, terms
from newsdesk.index.retrieval import ArticleHit
from newsdesk.index.sentence_vectors import SentenceVectors, unit

MAX_ANSWER_CHARS = 500
"""Sentences are given together only within this length."""
MAX_SENTENCES = 3
MIN_ADDED_PROBABILITY = 0.075
"""A sentence joins the best one only when the sentence model gives it at least this chance of
holding the answer (chosen on the fit halves: the shortest answers that lose none of them)."""
RELATED_SCORE = 0.3
"""Other articles are cited when their retrieval score is at least this share of the best."""
NUMBER_KINDS = ("money", "percent", "count", "date", "quantity", "length")
"""Questions whose answer must hold a sum, a share, a count, a date, a measure or a span."""
NAME_KINDS = ("person", "entity")
CANDIDATE_ARTICLES = 3
UNSEEN_WORD_WEIGHT = 0.5
"""Weight of a question word the corpus never uses (likely a paraphrase, not a topic)."""
FOCUS_NOUN_WEIGHT = 0.3
"""The noun a question asks for ("which *companies*") names the answer's type, not its topic."""
QUESTION_NOISE = {"accord", "report", "say", "said", "tell", "happen", "exact", "actual"}

SENTENCE_FEATURES = (
    "lexical",  # share of the question's weight in the sentence, weighted within its article
    "overlap",  # share of the question's IDF weight in the sentence
    "context",  # the same over the sentence, its neighbours and the headline
    "lexical_gap",  # lexical minus the best lexical among all candidates
    "similarity",  # cosine of the sentence's and the question's vectors
    "similarity_gap",  # similarity minus the best among all candidates
    "neighbour_similarity",  # the best similarity of its two neighbours
    "previous_lexical",  # lexical of the sentence before (an answer often follows its cue)
    "next_lexical",  # lexical of the sentence after
    "novelty",  # share of its terms the question does not use: it says something new
    "typed_number",  # holds a sum, count, date… when the question asks for one
    "typed_name",  # share of the new names wanted, when it asks for a person or thing
    "typed_reason",  # holds a cause, when it asks why
    "typed_with_term",  # holds the number asked for beside one of the question's terms
    "any_number",  # holds any number beside one of the question's terms, when it asks for one
    "article_rank",  # 1 / (1 + the article's retrieval rank)
    "article_dense",  # cosine of the question and the article's nearest chunk
    "article_cover",  # share of the question's weight in the article and its headline
    "position",  # 1 / (1 + the sentence's position in its article)
    "first",  # the article's first sentence
    "length",  # log of its length in characters
    "looks_ahead",  # the question asks how things turned out, the sentence looks ahead
)
DECISION_FEATURES = (
    "best_logit",  # the sentence model's log-odds for the best sentence
    "margin",  # the best log-odds minus the second best
    "best_lexical",
    "best_overlap",
    "best_similarity",
    "chosen_cover",  # share of the question's IDF weight in the chosen sentences together
    "article_cover",  # of the best sentence's article
    "key_cover",  # share of the question's names and numbers in that article and headline
    "dense",  # cosine of the question and that article's nearest chunk
    "wants_number",  # the question asks for a sum, count, date, measure or span
    "number_missing",  # … and no chosen sentence holds one beside the question's terms
    "no_number",  # … and no chosen sentence holds any number beside the question's terms
    "outcome_ahead",  # asks how things turned out; share of chosen sentences looking ahead
)
COLUMN = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
SIMILARITY_FEATURES = ("similarity", "similarity_gap", "neighbour_similarity", "article_dense")
SIMILARITY_DECISION = ("best_similarity", "dense")
"""Features read from embedding similarities, missing when those mean nothing."""
MIN_ADDED_LOGIT = math.log(MIN_ADDED_PROBABILITY / (1 - MIN_ADDED_PROBABILITY))

Embed = Callable[[list[str]], Sequence[Sequence[float]]]
Stored = Callable[[dict[str, str]], dict[str, SentenceVectors]]


@dataclass
class Scored:
    """A candidate sentence, the row of its features, and its score."""

    article: int
    index: int
    sentence: Sentence
    row: int = 0
    score: float = 0.0


@dataclass
class Candidates:
    """Every sentence of the candidate articles with its features, and the question's facts."""

    question: str
    hits: list[ArticleHit]
    items: list[Scored]
    features: np.ndarray
    """One row per item, columns SENTENCE_FEATURES."""
    key_cover: list[float]
    """Per candidate article: share of the question's names and numbers it holds."""
    weights: dict[str, float]
    """The question's terms and their weights (ExtractiveAnswerer.weights)."""
    words: list[set[str]]
    """Per row, the sentence's terms."""
    vectors: np.ndarray
    """Per row, the sentence's unit vector (index.sentence_vectors)."""

    def cover(self, items: list[Scored]) -> float:
        """Share of the question's weight the sentences hold together."""
        found = set().union(*(self.words[item.row] for item in items))
        return sum(w for t, w in self.weights.items() if t in found) / sum(self.weights.values())


@dataclass
class Selection:
    """The candidates in score order, the sentences chosen for the answer, and the decision's
    features."""

    pool: list[Scored]
    chosen: list[Scored]
    decision: np.ndarray


class ExtractiveAnswerer:
    """Composes answers from verbatim article sentences; see the module docstring."""

    def __init__(
        self,
        vocabulary: Callable[[], KeywordIndex],
        stored: Stored,
        embed: Embed,
        min_similarity: float,
        model: AnswerModel | None = None,
        similarities: bool = True,
    ) -> None:
        self.vocabulary = vocabulary
        self.stored = stored
        self.embed = embed
        """Embeds the sentences of an article indexed without sentence vectors."""
        self.min_similarity = min_similarity
        """Below this cosine similarity of question and best chunk, nothing is on topic."""
        self._model = model
        self.similarities = similarities
        """The embedder's similarities mean something (not so for the test embedder); when
        they do not, or there is no question vector, the features read from them are left
        out (set to their fitted means)."""

    @property
    def model(self) -> AnswerModel:
        """The fitted models (scorer.json unless given), read when first needed."""
        if self._model is None:
            self._model = load_model()
            self._model.check(SENTENCE_FEATURES, DECISION_FEATURES)
        return self._model

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
        asked: Asked | None = None,
    ) -> Answer:
        """The answer to `question` from retrieved articles `hits` whose full `texts` are given."""
        return self.assess(question, hits, texts, top_k, query_vector, asked)[0]

    def stream(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
        asked: Asked | None = None,
    ) -> Iterator[Answer]:
        """The answer alone: copied sentences have no draft to show before it."""
        yield self.answer(question, hits, texts, top_k, query_vector, asked)

    def assess(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
        asked: Asked | None = None,
    ) -> tuple[Answer, float]:
        """The answer and the confidence (0..1) that the articles answer the question. For a
        follow-up (`asked`: its own words, `question` its standalone form) the decision is the
        standalone form's, and its sentences are chosen with the follow-up shift too
        (scorer.FollowUpShift)."""
        candidates = self.candidates(question, hits, texts, query_vector)
        if candidates is None:
            return refusal(question), 0.0
        model = self.model
        known = self.similarities and query_vector is not None
        features = candidates.features
        if not known:
            features = model.sentence.without(features, SIMILARITY_FEATURES)
        logits = model.sentence.logit(features)
        selection = select(candidates, logits)
        decision = selection.decision[None, :]
        if not known:
            decision = model.decision.without(decision, SIMILARITY_DECISION)
        confidence = float(model.decision.probability(decision)[0])
        best = candidates.hits[selection.pool[0].article]
        if best.dense < self.min_similarity or confidence < model.threshold:
            return refusal(question), confidence
        shifted = self.follow_up_logits(logits, candidates, asked) if known else None
        if shifted is not None:
            selection = select(candidates, shifted)
        answer = compose(question, candidates.hits, selection.pool, selection.chosen, top_k)
        return answer, confidence

    def follow_up_logits(
        self, logits: np.ndarray, candidates: Candidates, asked: Asked | None
    ) -> np.ndarray | None:
        """The sentence log-odds of a follow-up's standalone form shifted by how each sentence
        matches the follow-up's own words (scorer.FollowUpShift); None when there is no
        follow-up, no shift fitted, or nothing in its words to weigh."""
        shift = self.model.follow_up
        if asked is None or shift is None:
            return None
        gaps = self.follow_up_gaps(candidates, asked)
        return None if gaps is None else logits + shift.shift(gaps[:, 0], gaps[:, 1])

    def follow_up_gaps(self, candidates: Candidates, asked: Asked) -> np.ndarray | None:
        """Per candidate, how far it falls below the best on `lexical` and on `similarity`
        for the follow-up's own words (the columns lexical_gap and similarity_gap would
        have); None without a vector for them or anything in them to weigh."""
        weights = self.weights(asked.text)
        if asked.vector is None or not weights:
            return None
        asked_for = set(terms(" ".join(focus_nouns(asked.text))))
        lexical = np.zeros(len(candidates.items))
        for a in range(len(candidates.hits)):
            rows = [item.row for item in candidates.items if item.article == a]
            words = [candidates.words[row] for row in rows]
            lexical[rows] = article_lexicals(weights, words, asked_for)
        similarity = candidates.vectors @ np.asarray(asked.vector, dtype=np.float32)
        return np.column_stack([lexical - lexical.max(), similarity - similarity.max()])

    def candidates(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        query_vector: Sequence[float] | None = None,
    ) -> Candidates | None:
        """The sentences of the best articles and their features (SENTENCE_FEATURES); None
        when there is nothing to choose from."""
        hits = collapse_copies([h for h in hits if h.article_id in texts], texts)
        weights = self.weights(question)
        if not hits or not weights:
            return None
        total = sum(weights.values())
        kind = answer_type(question)
        asked_for = set(terms(" ".join(focus_nouns(question))))
        named = key_terms(question)
        outcome = asks_outcome(question)

        def coverage(words: set[str]) -> float:
            return sum(w for t, w in weights.items() if t in words) / total

        items: list[Scored] = []
        rows: list[list[float]] = []
        row_words: list[set[str]] = []
        row_vectors: list[np.ndarray] = []
        key_cover: list[float] = []
        candidates = hits[:CANDIDATE_ARTICLES]
        stored = self.stored({hit.article_id: texts[hit.article_id] for hit in candidates})
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
            everything = title_terms.union(*words)
            cover = coverage(everything)
            key_cover.append(len(named & everything) / len(named) if named else 1.0)
            lexicals = article_lexicals(weights, words, asked_for)
            if sentences:
                row_vectors.append(vectors.vectors)
            asked = set(weights)
            for i, sentence in enumerate(sentences):
                around = [j for j in (i - 1, i + 1) if 0 <= j < len(words)]
                near = words[i].union(*(words[j] for j in around))
                lexical = lexicals[i]
                typed = holds(sentence.text, kind, question)
                number = typed if kind in NUMBER_KINDS else 0.0
                items.append(Scored(a, i, sentence, row=len(rows)))
                row_words.append(words[i])
                rows.append(
                    [
                        lexical,
                        coverage(words[i]),
                        coverage(near | title_terms),
                        lexical,
                        float(similarity[i]),
                        float(similarity[i]),
                        max((float(similarity[j]) for j in around), default=0.0),
                        lexicals[i - 1] if i > 0 else 0.0,
                        lexicals[i + 1] if i + 1 < len(lexicals) else 0.0,
                        len(words[i] - asked) / max(len(words[i]), 1),
                        number,
                        typed if kind in NAME_KINDS else 0.0,
                        typed if kind == "reason" else 0.0,
                        float(number > 0 and lexical > 0),
                        float(
                            kind in NUMBER_KINDS
                            and lexical > 0
                            and holds(sentence.text, "count", question) > 0
                        ),
                        1 / (1 + a),
                        hit.dense,
                        cover,
                        1 / (1 + i),
                        float(i == 0),
                        math.log1p(len(sentence.text)),
                        float(outcome and looks_ahead(sentence.text)),
                    ]
                )
        if not items:
            return None
        features = np.asarray(rows, dtype=np.float64)
        for gap in ("lexical_gap", "similarity_gap"):
            column = features[:, COLUMN[gap]]
            features[:, COLUMN[gap]] = column - column.max()
        vectors = np.vstack(row_vectors)
        return Candidates(question, hits, items, features, key_cover, weights, row_words, vectors)

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
        long as all fit in MAX_ANSWER_CHARS, up to MAX_SENTENCES, if they are likely enough to
        hold the answer (scores are log-odds): the answer to a news question often spans a few
        sentences."""
        best = pool[0]
        chosen = [best]
        length = len(best.sentence.text)
        for other in pool[1:5]:
            if len(chosen) == MAX_SENTENCES:
                break
            fits = length + len(other.sentence.text) <= MAX_ANSWER_CHARS
            likely = other.score >= MIN_ADDED_LOGIT
            if other.article == best.article and fits and likely:
                chosen.append(other)
                length += len(other.sentence.text)
        return chosen


def select(candidates: Candidates, logits: np.ndarray) -> Selection:
    """Rank the candidates by their scores (sentence log-odds), choose the answer's sentences
    and gather the evidence the decision to answer rests on (DECISION_FEATURES)."""
    for item in candidates.items:
        item.score = float(logits[item.row])
    pool = sorted(candidates.items, key=lambda s: s.score, reverse=True)
    chosen = ExtractiveAnswerer.choose(pool)
    f = candidates.features
    best = pool[0]
    second = pool[1].score if len(pool) > 1 else best.score
    kind = answer_type(candidates.question)
    wants_number = kind in NUMBER_KINDS
    held = any(f[c.row, COLUMN["typed_with_term"]] > 0 for c in chosen)
    numbered = any(f[c.row, COLUMN["any_number"]] > 0 for c in chosen)
    ahead = sum(f[c.row, COLUMN["looks_ahead"]] for c in chosen) / len(chosen)
    decision = np.array(
        [
            best.score,
            best.score - second,
            f[best.row, COLUMN["lexical"]],
            f[best.row, COLUMN["overlap"]],
            f[best.row, COLUMN["similarity"]],
            candidates.cover(chosen),
            f[best.row, COLUMN["article_cover"]],
            candidates.key_cover[best.article],
            f[best.row, COLUMN["article_dense"]],
            float(wants_number),
            float(wants_number and not held),
            float(wants_number and not numbered),
            ahead,
        ],
        dtype=np.float64,
    )
    return Selection(pool, chosen, decision)


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


def article_lexicals(
    weights: dict[str, float], words: list[set[str]], asked_for: set[str]
) -> list[float]:
    """Per sentence of one article (its terms `words`), the share of the question's local
    weight it holds (the `lexical` feature)."""
    local = local_weights(weights, words, asked_for)
    total = sum(local.values()) or 1.0
    return [sum(w for t, w in local.items() if t in found) / total for found in words]


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
