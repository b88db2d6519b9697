"""The answerer's fitted models, read from scorer.json (written by `python -m bench.fit_answerer`;
its `follow_up` part by `python -m bench.fit_shift`).

Two logistic regressions over standardised features: one scores each candidate sentence (how
likely it holds the answer), one turns the evidence of the chosen sentences into the confidence
that the articles answer the question at all; below `threshold` the answerer refuses. A third,
small one shifts the sentence scores of a follow-up by how well each sentence matches the
words the user typed. Only numpy is needed to apply them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = Path(__file__).with_name("scorer.json")


@dataclass(frozen=True)
class Linear:
    """A logistic regression: feature names, standardisation, coefficients and intercept."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, rows: np.ndarray) -> np.ndarray:
        """Log-odds for each row (columns in `features` order)."""
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(rows)))

    def without(self, rows: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """The rows with the named features set to their fitted means: evidence that is
        missing counts neither way."""
        rows = rows.copy()
        for name in names:
            i = self.features.index(name)
            rows[:, i] = self.mean[i]
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": round(float(self.intercept), 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Linear:
        return cls(
            tuple(data["features"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
        )


@dataclass(frozen=True)
class FollowUpShift:
    """A follow-up is answered as its standalone form ("When is her funeral? (Keaveney dies)");
    each sentence's log-odds from the sentence model then move by `lexical_gap` and
    `similarity_gap` times how far the sentence falls below the best one on those two features
    for the follow-up's own words, plus `intercept` (a logistic regression with the sentence
    model's log-odds as its offset, fitted on the fit half's follow-ups)."""

    lexical_gap: float
    similarity_gap: float
    intercept: float

    def shift(self, own_lexical_gap: np.ndarray, own_similarity_gap: np.ndarray) -> np.ndarray:
        return (
            self.lexical_gap * own_lexical_gap
            + self.similarity_gap * own_similarity_gap
            + self.intercept
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "lexical_gap": round(self.lexical_gap, 6),
            "similarity_gap": round(self.similarity_gap, 6),
            "intercept": round(self.intercept, 6),
        }


@dataclass(frozen=True)
class AnswerModel:
    """The sentence scorer, the answer/refuse decision and its threshold."""

    sentence: Linear
    decision: Linear
    threshold: float
    """Refuse when the decision's probability is below this (chosen for ≤ 5 % false
    refusals on the fit half)."""
    follow_up: FollowUpShift | None = None

    def check(self, sentence_features: tuple[str, ...], decision_features: tuple[str, ...]) -> None:
        """Fail loudly when the model was fitted on other features than the code computes."""
        if self.sentence.features != sentence_features:
            raise ValueError("scorer.json's sentence features differ from the code's: refit it")
        if self.decision.features != decision_features:
            raise ValueError("scorer.json's decision features differ from the code's: refit it")

    def to_dict(self) -> dict[str, Any]:
        data = {
            "sentence": self.sentence.to_dict(),
            "decision": {**self.decision.to_dict(), "threshold": round(self.threshold, 6)},
        }
        if self.follow_up is not None:
            data["follow_up"] = self.follow_up.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerModel:
        shift = data.get("follow_up")
        return cls(
            Linear.from_dict(data["sentence"]),
            Linear.from_dict(data["decision"]),
            float(data["decision"]["threshold"]),
            FollowUpShift(**{k: float(v) for k, v in shift.items()}) if shift else None,
        )


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> AnswerModel:
    """The fitted model shipped with the package (or another file of the same shape)."""
    return AnswerModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
