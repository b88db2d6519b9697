"""Fit the follow-up model (index/conversation/followup.json) on the fit half.

Each conversation's turns are asked in order (as `newsdesk eval --conversations` asks them),
and every later turn is scored against the subject the turns before it give
(index.conversation.followup.subject). Positives: later turns about the same article as the
turn before. Negatives: later turns about another story (a change of subject), and questions
that stand alone asked after another conversation: each conversation's first question after
the previous conversation's first answer, and the questions of the given standalone sets
after a conversation picked in turn. Questions about another corpus (Reuters over the BBC
index) are standalone negatives too: they teach the model what a question the index holds
nothing near looks like, so that in a small corpus, where the article already cited is the
nearest to anything (`gap` 0), a new question is not glued to it. Only the fit half is fitted
on. A logistic regression over followup.FEATURES (standardised) is fitted; its threshold is
the one with the best cross-validated accuracy (probabilities of questions the model was not
fitted on). The check half is only reported.

    python -m bench.fit_followup --index /tmp/nd-bbc \\
        --conversations ../shared/qa/bbc_conversations.jsonl \\
        --conversations bench/qa/bbc_extra_conversations.jsonl ../shared/qa/bbc_dev.jsonl \\
        ../shared/qa/bbc_dev_more.jsonl ../shared/qa/bbc_dev_unanswerable.jsonl \\
        ../shared/qa/bbc_dev_more_unanswerable.jsonl ../shared/qa/reuters_dev.jsonl \\
        ../shared/qa/reuters_dev_unanswerable.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from newsdesk.index.config import Settings
from newsdesk.index.conversation.evaluate import load_conversations
from newsdesk.index.conversation.followup import FEATURES, MODEL_PATH, Resolver, subject
from newsdesk.index.conversation.service import Conversations
from newsdesk.index.conversation.store import Turn
from newsdesk.index.engine import Engine
from newsdesk.index.evaluate import FIT, half, load_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="The ingested data dir.")
    parser.add_argument(
        "--conversations",
        type=Path,
        action="append",
        required=True,
        help="A set of conversations (repeat).",
    )
    parser.add_argument("standalone", type=Path, nargs="*", help="Sets of standalone questions.")
    args = parser.parse_args()
    engine = Engine(Settings(data_dir=args.index, _env_file=None))
    conversations = [c for path in args.conversations for c in load_conversations(path)]
    asking = Conversations(engine)
    resolver = asking.resolver
    rows: list[tuple[str, list[float], int]] = []  # (id for the half, features, label)

    def add(item_id: str, question: str, earlier: list[Turn], label: int) -> None:
        values = resolver.features(question, *subject(earlier))
        rows.append((item_id, [values[n] for n in FEATURES], label))

    firsts = {}
    for c in conversations:  # asked in order, as `newsdesk eval --conversations` asks them
        earlier: list[Turn] = []
        for position, (turn, _) in enumerate(c.turns):
            if position:
                before = c.turns[position - 1][0].article
                add(c.id, turn.question, earlier, int(turn.article in (None, before)))
            answer, _ = asking.assess(turn.question, earlier)
            earlier.append(Turn.of(turn.question, answer))
        firsts[c.id] = earlier[:1]
    ids = [c.id for c in conversations]
    for i, c in enumerate(conversations):
        add(c.id, c.turns[0][0].question, firsts[ids[i - 1]], 0)
    for path in args.standalone:
        for n, q in enumerate(load_questions(path)):
            add(q.id, q.question, firsts[ids[n % len(ids)]], 0)
    fit = [r for r in rows if half(r[0]) == FIT]
    x = np.array([r[1] for r in fit])
    y = np.array([r[2] for r in fit])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9  # regularise every feature alike
    x = (x - mean) / scale
    model = LogisticRegression(C=1.0, max_iter=1000)
    held_out = cross_val_predict(model, x, y, cv=5, method="predict_proba")[:, 1]
    thresholds = np.round(np.arange(0.05, 0.96, 0.05), 2)
    accuracy = [float(((held_out >= t) == y).mean()) for t in thresholds]
    threshold = float(thresholds[int(np.argmax(accuracy))])
    model.fit(x, y)
    print(
        f"fit: {len(fit)} questions ({int(y.sum())} follow-ups), cross-validated AUC "
        f"{roc_auc_score(y, held_out):.3f}, accuracy {max(accuracy):.3f} at {threshold}"
    )
    weights = model.coef_[0] / scale  # in the features' own units
    saved = {
        "weights": dict(zip(FEATURES, map(float, weights), strict=True)),
        "bias": float(model.intercept_[0] - weights @ mean),
        "threshold": threshold,
    }
    MODEL_PATH.write_text(json.dumps(saved, indent=2) + "\n")
    resolver = Resolver(engine)  # the model just saved
    check = [r for r in rows if half(r[0]) != FIT]
    xc = np.array([r[1] for r in check])
    yc = np.array([r[2] for r in check])
    pc = model.predict_proba((xc - mean) / scale)[:, 1]
    accuracy_check = float(((pc >= resolver.threshold) == yc).mean())
    print(
        f"check: {len(check)} questions ({int(yc.sum())} follow-ups), AUC "
        f"{roc_auc_score(yc, pc):.3f}, accuracy {accuracy_check:.3f}"
    )
    print(json.dumps(saved, indent=2))


if __name__ == "__main__":
    main()
