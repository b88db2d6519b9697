"""The scorer's training script: the refusal threshold it picks, features held at zero (no
index needed)."""

from __future__ import annotations

import numpy as np

from bench import fit_answerer
from bench.fit_answerer import Case, threshold_for
from newsdesk.index.answer.extractive import (
    DECISION_FEATURES,
    SENTENCE_FEATURES,
    Candidates,
    Scored,
)
from newsdesk.index.answer.scorer import Linear
from newsdesk.index.answer.sentences import Sentence
from newsdesk.index.evaluate import Question


def test_threshold_refuses_at_most_the_allowed_share_of_each_corpus() -> None:
    a = np.linspace(0.05, 0.99, 40)  # 40 answerable questions of corpus a: 2 may be refused
    b = np.linspace(0.02, 0.99, 20)  # 20 of corpus b: 1 may be refused
    probabilities = np.concatenate([a, b])
    corpora = np.array(["a"] * 40 + ["b"] * 20)
    gated = np.zeros(60, dtype=bool)
    t = threshold_for(probabilities, gated, corpora, 0.05)
    for corpus, most in (("a", 2), ("b", 1)):
        assert (probabilities[corpora == corpus] < t).sum() <= most
    assert t == b[1]  # corpus b is the tighter one
    # questions already refused for want of similarity use up the allowance
    gated[40] = True
    assert threshold_for(probabilities, gated, corpora, 0.05) == b[1]
    assert (probabilities[41:60] < b[1]).sum() == 0


def candidates_of(rows: np.ndarray) -> Candidates:
    """Candidates of one article, one sentence per row (features as given)."""
    items = [Scored(0, i, Sentence(f"s{i}", 3 * i, 3 * i + 2), row=i) for i in range(len(rows))]
    words = [{"price"} for _ in items]
    vectors = np.zeros((len(items), 4), dtype=np.float32)
    return Candidates("How much?", [], items, rows, [1.0], {"price": 1.0}, words, vectors)


def test_without_holds_sentence_and_decision_features_at_zero(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    rows = rng.uniform(0.1, 1.0, size=(4, len(SENTENCE_FEATURES)))
    case = Case(
        "c",
        Question("q1", "How much?", "a", ["1"]),
        candidates_of(rows.copy()),
        np.array([1.0, 0, 0, 0]),
        gated=False,
    )
    n = len(SENTENCE_FEATURES)
    sentence = Linear(SENTENCE_FEATURES, np.zeros(n), np.ones(n), np.ones(n), 0.0)

    before = fit_answerer.decision_of(case.candidates, sentence).decision.copy()
    monkeypatch.setattr(fit_answerer, "WITHOUT", ("novelty", "margin"))
    fit_answerer.ablate([case])

    features = case.candidates.features
    assert (features[:, SENTENCE_FEATURES.index("novelty")] == 0).all()
    untouched = [i for i, name in enumerate(SENTENCE_FEATURES) if name != "novelty"]
    assert (features[:, untouched] == rows[:, untouched]).all()
    after = fit_answerer.decision_of(case.candidates, sentence).decision
    assert after[DECISION_FEATURES.index("margin")] == 0
    assert before[DECISION_FEATURES.index("margin")] != 0
    same = DECISION_FEATURES.index("best_lexical")
    assert after[same] == before[same]
