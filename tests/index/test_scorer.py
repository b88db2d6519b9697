"""The fitted answerer model: applied with numpy, stored as JSON, kept in step with the code."""

from __future__ import annotations

import numpy as np
import pytest

from newsdesk.index.answer.extractive import DECISION_FEATURES, SENTENCE_FEATURES
from newsdesk.index.answer.scorer import AnswerModel, FollowUpShift, Linear, load_model


def linear(names: tuple[str, ...] = ("a", "b")) -> Linear:
    return Linear(names, np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([0.5, -1.0]), 0.25)


def test_linear_standardises_then_weighs() -> None:
    model = linear()
    rows = np.array([[3.0, 1.0], [1.0, 0.0]])
    # (3-1)/2*0.5 - 1*1 + 0.25 = -0.25 ; 0 + 0 + 0.25
    assert model.logit(rows) == pytest.approx([-0.25, 0.25])
    assert model.probability(rows) == pytest.approx(1 / (1 + np.exp([0.25, -0.25])))


def test_model_survives_json_and_rejects_other_features() -> None:
    model = AnswerModel(linear(), linear(("c", "d")), 0.3)
    again = AnswerModel.from_dict(model.to_dict())
    rows = np.array([[0.3, 2.0]])
    assert again.sentence.logit(rows) == pytest.approx(model.sentence.logit(rows))
    assert again.threshold == 0.3
    again.check(("a", "b"), ("c", "d"))
    with pytest.raises(ValueError, match="refit"):
        again.check(("a", "x"), ("c", "d"))
    assert again.follow_up is None and "follow_up" not in model.to_dict()


def test_follow_up_shift_survives_json_and_moves_sentences_by_their_gaps() -> None:
    shift = FollowUpShift(lexical_gap=2.0, similarity_gap=10.0, intercept=1.0)
    model = AnswerModel.from_dict(AnswerModel(linear(), linear(("c", "d")), 0.3, shift).to_dict())
    assert model.follow_up == shift
    # the best sentence on the follow-up's own words (gaps 0) gains the intercept only
    moved = shift.shift(np.array([0.0, -0.5]), np.array([0.0, -0.1]))
    assert moved == pytest.approx([1.0, 1.0 - 1.0 - 1.0])


def test_shipped_model_fits_the_code() -> None:
    """scorer.json was fitted on the features the answerer computes today."""
    model = load_model()
    model.check(SENTENCE_FEATURES, DECISION_FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert np.all(np.isfinite(model.sentence.coef)) and np.all(model.sentence.scale > 0)
    assert model.follow_up is not None  # bench.fit_shift fitted it on this sentence model
