"""The scorer's training script: the refusal threshold it picks (no index needed)."""

from __future__ import annotations

import numpy as np

from bench.fit_answerer import threshold_for


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
