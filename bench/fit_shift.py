"""Fit the follow-up shift of the sentence scores (scorer.json's `follow_up`) on the fit half.

A follow-up ("When is her funeral?") is answered as its standalone form ("When is her
funeral? (Brookside actress Keaveney dies)"), whose headline words favour the sentences that
repeat them — often the article's lead rather than the answer. Each conversation's turns are
asked in order (as `newsdesk eval --conversations` asks them, without any shift); for every
follow-up turn with a labelled answer, the candidate sentences get the sentence model's
log-odds for the standalone form, and their `lexical_gap` and `similarity_gap` for the
follow-up's own words (how far each falls below the best sentence on them). A logistic
regression with those log-odds as its offset (their weight held at 1) fits the two gap
weights and an intercept on the fit half's follow-ups (positives: sentences of the turn's
article holding one of its answers). Printed: log-loss per sentence, and the share of
follow-ups whose best sentence / chosen sentences hold the answer, without and with the
shift, for both halves. Then scorer.json's `follow_up` is rewritten (the rest is kept):

    python -m bench.fit_shift --index /tmp/nd-bbc \\
        --conversations ../shared/qa/bbc_conversations.jsonl \\
        --conversations bench/qa/bbc_extra_conversations.jsonl

Refit it whenever the sentence model is refitted (`bench.fit_answerer` without
`--decision-only` drops the shift).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from newsdesk.index.answer.extractive import (
    Candidates,
    ExtractiveAnswerer,
    Scored,
    select,
)
from newsdesk.index.answer.scorer import MODEL_FILE, FollowUpShift, load_model
from newsdesk.index.config import Settings
from newsdesk.index.conversation.evaluate import load_conversations
from newsdesk.index.conversation.service import Conversations
from newsdesk.index.conversation.store import Turn
from newsdesk.index.engine import Engine
from newsdesk.index.evaluate import FIT, Evaluator, half


@dataclass
class FollowUp:
    """A follow-up turn's candidates: standalone log-odds, own-word gaps, labels."""

    conversation: str
    candidates: Candidates
    logits: np.ndarray
    gaps: np.ndarray
    labels: np.ndarray
    answers: list[str]


def gather(engine: Engine, paths: list[Path]) -> list[FollowUp]:
    """Every answerable follow-up turn the resolver rewrites, asked in order."""
    answerer = engine.answerer
    if not isinstance(answerer, ExtractiveAnswerer):
        raise SystemExit("the shift is for the extractive answerer: unset NEWSDESK_LLM")
    answerer._model = replace(load_model(), follow_up=None)  # answer as without a shift
    model = answerer.model
    asking = Conversations(engine)
    evaluator = Evaluator(engine)
    found: list[FollowUp] = []
    for c in (c for path in paths for c in load_conversations(path)):
        earlier: list[Turn] = []
        for position, (turn, unanswerable) in enumerate(c.turns):
            resolution = asking.resolver.resolve(turn.question, earlier) if position else None
            answer, _ = asking.assess(turn.question, earlier)
            earlier.append(Turn.of(turn.question, answer))
            if resolution is None or not resolution.follow_up or unanswerable:
                continue
            sources = asking.sources(resolution, engine.settings.top_k, None)
            if sources is None:
                continue
            hits, texts, _, vector = sources
            full = answerer.candidates(resolution.searched, hits, texts, vector)
            asked = resolution.asked
            gaps = answerer.follow_up_gaps(full, asked) if full and asked else None
            if full is None or gaps is None:
                continue
            answers = [a.lower() for a in turn.answers]
            labels = np.array(
                [holds(full, item, turn.article or "", answers, evaluator) for item in full.items]
            )
            logits = model.sentence.logit(full.features)
            found.append(FollowUp(c.id, full, logits, gaps, labels, answers))
    return found


def holds(
    found: Candidates, item: Scored, article: str, answers: list[str], evaluator: Evaluator
) -> float:
    """1.0 when the candidate sentence is of the turn's article and holds one of its answers."""
    hit = found.hits[item.article]
    gold = any(evaluator.same_article(i, article) for i in [hit.article_id, *hit.copies])
    return float(gold and any(a in item.sentence.text.lower() for a in answers))


def fit_shift(train: list[FollowUp]) -> FollowUpShift:
    """Maximum likelihood of the labels with the standalone log-odds as offset."""
    offset = np.concatenate([f.logits for f in train])
    gaps = np.vstack([f.gaps for f in train])
    y = np.concatenate([f.labels for f in train])

    def loss(p: np.ndarray) -> float:
        z = offset + gaps @ p[:2] + p[2]
        return float(np.sum(np.logaddexp(0, z) - y * z))

    a, b, c = minimize(loss, np.zeros(3), method="BFGS").x
    return FollowUpShift(float(a), float(b), float(c))


def measure(items: list[FollowUp], shift: FollowUpShift | None) -> str:
    """Log-loss per sentence; share of follow-ups whose best / chosen sentences hold it."""
    losses, best, chosen = [], 0, 0
    for f in items:
        z = f.logits + (shift.shift(f.gaps[:, 0], f.gaps[:, 1]) if shift else 0.0)
        losses.append(np.logaddexp(0, z) - f.labels * z)
        selection = select(f.candidates, z)
        best += bool(f.labels[selection.pool[0].row])
        text = " ".join(s.sentence.text.lower() for s in selection.chosen)
        chosen += any(a in text for a in f.answers)
    n = len(items) or 1
    return (
        f"log-loss {np.concatenate(losses).mean():.4f}, best sentence {best / n:.3f}, "
        f"chosen sentences {chosen / n:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--index", type=Path, required=True, help="The ingested BBC data dir.")
    parser.add_argument("--conversations", type=Path, action="append", required=True, help="repeat")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="the scorer.json to update")
    args = parser.parse_args()
    engine = Engine(Settings(data_dir=args.index, _env_file=None))
    items = gather(engine, args.conversations)
    fit = [f for f in items if half(f.conversation) == FIT]
    check = [f for f in items if half(f.conversation) != FIT]
    shift = fit_shift(fit)
    print(f"{len(fit)} fit and {len(check)} check follow-ups; {shift}")
    for name, part in (("fit", fit), ("check", check)):
        print(f"{name:5} without: {measure(part, None)}")
        print(f"{name:5} with:    {measure(part, shift)}")
    data = json.loads(args.out.read_text(encoding="utf-8"))
    data["follow_up"] = shift.to_dict()
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
