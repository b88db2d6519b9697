"""The follow-up shift's fit: maximum likelihood with the sentence model's log-odds as offset."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fit_shift import FollowUp, fit_shift


def test_the_fit_recovers_the_shift_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    made = np.array([3.0, 8.0, 1.0])  # lexical_gap, similarity_gap, intercept
    items = []
    for _ in range(2000):
        logits = rng.normal(-3.0, 1.5, 30)
        gaps = -np.abs(rng.normal(0.0, [0.3, 0.1], (30, 2)))
        z = logits + gaps @ made[:2] + made[2]
        labels = (rng.random(30) < 1 / (1 + np.exp(-z))).astype(float)
        items.append(FollowUp("c", None, logits, gaps, labels, []))  # type: ignore[arg-type]
    shift = fit_shift(items)
    found = [shift.lexical_gap, shift.similarity_gap, shift.intercept]
    assert found == pytest.approx(made, rel=0.15)
