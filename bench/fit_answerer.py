"""Fit the extractive answerer's models (index/answer/scorer.json) on labelled question sets.

For every question of every corpus, retrieval runs as `Engine.ask` runs it and the answerer
computes its candidate sentences' features (ExtractiveAnswerer.candidates, the same code that
answers). A sentence is positive when it belongs to the question's article (or an identical
copy) and contains one of its answer strings. Only questions of the fit half
(index.evaluate.half) are fitted on:

1. the sentence model: logistic regression over SENTENCE_FEATURES, its regularisation chosen
   by 5-fold cross-validation grouped by question (printed: AUC, top-1 precision);
2. the decision model: logistic regression over DECISION_FEATURES of answerable (1) and
   unanswerable (0) questions, with the threshold that refuses at most --false-refusal of
   each corpus's fit-half answerable questions (NEWSDESK_MIN_SIMILARITY's refusals counted),
   chosen on cross-validated probabilities: those of questions the model was not fitted on,
   as new questions will be.

Figures for both halves of each corpus follow; the check half is never fitted on. Each corpus
is an index directory (ingested beforehand), optionally named (`NAME=DIR`: two question sets
over one index, each with its own threshold), and its question files; files without answers
hold unanswerable questions. The shipped model:

    python -m bench.fit_answerer \\
        --corpus /tmp/nd-bbc ../shared/qa/bbc_dev.jsonl ../shared/qa/bbc_dev_more.jsonl \\
            ../shared/qa/bbc_dev_unanswerable.jsonl ../shared/qa/bbc_dev_more_unanswerable.jsonl \\
        --corpus /tmp/nd-reuters ../shared/qa/reuters_dev.jsonl \\
            ../shared/qa/reuters_dev_unanswerable.jsonl

With the team's sets too (tried in session 8, not shipped: bench/ANSWERER.md), add
`--corpus bbc-extra=/tmp/nd-bbc bench/qa/bbc_extra.jsonl bench/qa/bbc_extra_unanswerable.jsonl`
and the same for Reuters.

`--without FEATURE …` holds features at zero, to measure what they add (fit vs check) without
changing the code; the model is then written only where `--out` says.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

from newsdesk.index import Engine, Settings
from newsdesk.index.answer.extractive import (
    DECISION_FEATURES,
    SENTENCE_FEATURES,
    Candidates,
    Selection,
    select,
)
from newsdesk.index.answer.scorer import MODEL_FILE, AnswerModel, Linear, load_model
from newsdesk.index.evaluate import FIT, Evaluator, Question, half, load_questions

C_GRID = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5


@dataclass
class Case:
    """One labelled question, its candidates and which of them hold the answer."""

    corpus: str
    question: Question
    candidates: Candidates | None
    labels: np.ndarray
    gated: bool
    """Refused before any model: nothing retrieved is similar enough to the question."""

    @property
    def answerable(self) -> bool:
        return self.question.article is not None

    @property
    def fit(self) -> bool:
        return half(self.question.id) == FIT


def gather(data_dir: Path, files: list[Path], name: str | None = None) -> list[Case]:
    """Retrieve and compute candidate features for every question of one corpus (named
    `name`, else after its data dir)."""
    engine = Engine(Settings(data_dir=data_dir))
    evaluator = Evaluator(engine)
    answerer = engine.answerer
    cases = []
    for path in files:
        for q in load_questions(path):
            hits, texts, embedding = engine.retrieve(q.question, engine.settings.top_k)
            found = answerer.candidates(q.question, hits, texts, embedding)  # type: ignore[union-attr]
            labels = np.zeros(len(found.items) if found else 0)
            if found and q.article:
                answers = [a.lower() for a in q.answers]
                for item in found.items:
                    hit = found.hits[item.article]
                    gold = any(
                        evaluator.same_article(i, q.article) for i in [hit.article_id, *hit.copies]
                    )
                    text = item.sentence.text.lower()
                    labels[item.row] = float(gold and any(a in text for a in answers))
            gated = not found or found.hits[0].dense < answerer.min_similarity  # type: ignore[union-attr]
            cases.append(Case(name or data_dir.name, q, found, labels, gated))
    return cases


def standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_linear(rows: np.ndarray, labels: np.ndarray, c: float, names: tuple[str, ...]) -> Linear:
    """A logistic regression on standardised rows, as a Linear."""
    mean, scale = standardise(rows)
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((rows - mean) / scale, labels)
    return Linear(names, mean, scale, model.coef_[0], float(model.intercept_[0]))


def top1(cases: list[Case], logits: list[np.ndarray]) -> float:
    """Share of questions with a positive sentence whose best-scored sentence is positive."""
    scored = [(c, s) for c, s in zip(cases, logits, strict=True) if c.labels.any()]
    return sum(c.labels[int(np.argmax(s))] > 0 for c, s in scored) / max(len(scored), 1)


def cross_validate_sentences(cases: list[Case], c: float) -> tuple[float, float]:
    """AUC and top-1 precision of the sentence model over grouped folds."""
    folds = GroupKFold(n_splits=FOLDS)
    groups = np.arange(len(cases))
    logits: list[np.ndarray] = [np.zeros(0)] * len(cases)
    for train, test in folds.split(groups, groups=groups):
        rows = np.vstack([cases[i].candidates.features for i in train])  # type: ignore[union-attr]
        labels = np.concatenate([cases[i].labels for i in train])
        model = fit_linear(rows, labels, c, SENTENCE_FEATURES)
        for i in test:
            logits[i] = model.logit(cases[i].candidates.features)  # type: ignore[union-attr]
    auc = roc_auc_score(np.concatenate([c.labels for c in cases]), np.concatenate(logits))
    return float(auc), top1(cases, logits)


WITHOUT: tuple[str, ...] = ()
"""Features left out (held at zero, so fitted to count for nothing): --without, to measure
what a feature adds. A sentence feature held at zero also empties the decision features read
from it (number_missing reads typed_with_term, for one)."""


def ablate(cases: list[Case]) -> None:
    """Hold the sentence features named in WITHOUT at zero."""
    columns = [SENTENCE_FEATURES.index(n) for n in WITHOUT if n in SENTENCE_FEATURES]
    for case in cases:
        if case.candidates is not None and columns:
            case.candidates.features[:, columns] = 0.0


def decision_of(found: Candidates, sentence: Linear) -> Selection:
    """The selection for a question, its decision features with WITHOUT's held at zero."""
    selection = select(found, sentence.logit(found.features))
    for name in WITHOUT:
        if name in DECISION_FEATURES:
            selection.decision[DECISION_FEATURES.index(name)] = 0.0
    return selection


def decision_rows(cases: list[Case], sentence: Linear) -> np.ndarray:
    rows = []
    for case in cases:
        found = case.candidates
        assert found is not None
        rows.append(decision_of(found, sentence).decision)
    return np.asarray(rows)


def threshold_for(
    probabilities: np.ndarray, gated: np.ndarray, corpora: np.ndarray, most: float
) -> float:
    """The highest threshold refusing at most `most` of each corpus's answerable questions
    (`probabilities`), counting those refused before the model (`gated`) too."""
    thresholds = []
    for corpus in np.unique(corpora):
        mine = corpora == corpus
        allowed = int(np.floor(most * mine.sum())) - int(gated[mine].sum())
        open_ = np.sort(probabilities[mine & ~gated])
        thresholds.append(float(open_[max(min(allowed, len(open_) - 1), 0)]))
    return min(thresholds)


def report(cases: list[Case], model: AnswerModel) -> None:
    """Per corpus and half: top sentence right, answer holds an answer string, refusals."""
    print(f"\n{'corpus':14} {'half':5} {'n':>4} {'top1':>6} {'acc':>6} {'FR':>6} {'refusal':>8}")
    for corpus in dict.fromkeys(c.corpus for c in cases):
        for name in ("fit", "check"):
            part = [c for c in cases if c.corpus == corpus and half(c.question.id) == name]
            good = [c for c in part if c.answerable]
            bad = [c for c in part if not c.answerable]
            right = refused_good = refused_bad = answered_top = 0
            for case in part:
                found = case.candidates
                refused = case.gated
                if found is not None:
                    selection = decision_of(found, model.sentence)
                    p = float(model.decision.probability(selection.decision[None, :])[0])
                    refused = refused or p < model.threshold
                    if case.answerable:
                        answered_top += case.labels[selection.pool[0].row] > 0
                        held = any(case.labels[c.row] > 0 for c in selection.chosen)
                        right += (not refused) and held
                refused_good += case.answerable and refused
                refused_bad += (not case.answerable) and refused
            n = max(len(good), 1)
            print(
                f"{corpus:14} {name:5} {len(good):4} {answered_top / n:6.3f} {right / n:6.3f} "
                f"{refused_good / n:6.3f} {refused_bad / max(len(bad), 1):8.3f}"
            )


def fit(cases: list[Case], false_refusal: float, sentence: Linear | None = None) -> AnswerModel:
    """Fit both models on the fit half of `cases` (only the decision when `sentence` is
    given), printing cross-validated figures."""
    usable = [c for c in cases if c.candidates is not None]
    print(f"{len(cases)} questions")
    if sentence is None:
        sentence = fit_sentences([c for c in usable if c.fit and c.answerable])
    else:
        print("sentence model kept as it is (--decision-only)")
    return fit_decision(usable, sentence, false_refusal)


def fit_sentences(train: list[Case]) -> Linear:
    """The sentence model, its regularisation chosen by cross-validated top-1."""
    print(
        f"fitting the sentence model on {len(train)} answerable questions of the fit half "
        f"({sum(len(c.labels) for c in train)} sentences, "
        f"{int(sum(c.labels.sum() for c in train))} positive)"
    )
    best_c, best_top1 = C_GRID[0], -1.0
    for c in C_GRID:
        auc, top = cross_validate_sentences(train, c)
        print(f"sentence model C={c:<5} CV AUC {auc:.3f}  top-1 {top:.3f}")
        if top > best_top1:
            best_c, best_top1 = c, top
    rows = np.vstack([c.candidates.features for c in train])  # type: ignore[union-attr]
    print(f"sentence model C={best_c}")
    return fit_linear(rows, np.concatenate([c.labels for c in train]), best_c, SENTENCE_FEATURES)


def fit_decision(usable: list[Case], sentence: Linear, false_refusal: float) -> AnswerModel:
    """The decision model over the fit half's questions and its threshold, chosen on
    cross-validated probabilities."""
    fit_cases = [c for c in usable if c.fit]
    x = decision_rows(fit_cases, sentence)
    y = np.array([c.answerable for c in fit_cases], dtype=float)
    gated = np.array([c.gated for c in fit_cases])
    corpora = np.array([c.corpus for c in fit_cases])
    best_auc, decision_c, oof = -1.0, C_GRID[0], np.zeros(len(y))
    for c in C_GRID:
        held_out = np.zeros(len(y))
        for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
            held_out[te] = fit_linear(x[tr], y[tr], c, DECISION_FEATURES).probability(x[te])
        t = threshold_for(held_out[y == 1], gated[y == 1], corpora[y == 1], false_refusal)
        auc = roc_auc_score(y, held_out)
        refused = ((held_out < t) | gated)[y == 0].mean()
        print(
            f"decision model C={c:<5} CV AUC {auc:.3f}; at ≤{false_refusal:.0%} false "
            f"refusals it refuses {refused:.3f} of unanswerable"
        )
        if auc > best_auc:
            best_auc, decision_c, oof = auc, c, held_out
    cv_t = threshold_for(oof[y == 1], gated[y == 1], corpora[y == 1], false_refusal)
    decision = fit_linear(x, y, decision_c, DECISION_FEATURES)
    print(f"decision model C={decision_c}, threshold {cv_t:.3f}")
    return AnswerModel(sentence, decision, cv_t)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "--corpus",
        nargs="+",
        action="append",
        required=True,
        metavar=("[NAME=]DATA_DIR", "QUESTIONS"),
        help="an ingested index directory, then its question files (JSON Lines); each set of "
        "questions gets its own threshold, so name the sets that share an index apart",
    )
    parser.add_argument("--false-refusal", type=float, default=0.05)
    parser.add_argument(
        "--out", type=Path, help=f"where to write the model (default: {MODEL_FILE})"
    )
    parser.add_argument(
        "--decision-only",
        action="store_true",
        help="keep the sentence model of the current scorer.json and refit only the decision "
        "and its threshold (after retrieval changed, or with more unanswerable questions)",
    )
    parser.add_argument(
        "--without",
        nargs="+",
        default=[],
        metavar="FEATURE",
        help="hold these sentence or decision features at zero, to measure what they add "
        "(the model is then written only with --out)",
    )
    args = parser.parse_args()
    unknown = set(args.without) - set(SENTENCE_FEATURES) - set(DECISION_FEATURES)
    if unknown:
        parser.error(f"no such feature: {', '.join(sorted(unknown))}")
    global WITHOUT
    WITHOUT = tuple(args.without)
    out = args.out or (None if WITHOUT else MODEL_FILE)

    cases: list[Case] = []
    for data_dir, *files in args.corpus:
        name, _, path = data_dir.rpartition("=")
        cases += gather(Path(path), [Path(f) for f in files], name or None)
    ablate(cases)
    shipped = load_model()
    model = fit(cases, args.false_refusal, shipped.sentence if args.decision_only else None)
    if args.decision_only:  # the follow-up shift sits on the sentence model, which is kept
        model = replace(model, follow_up=shipped.follow_up)
    report(cases, model)
    if out is None:
        print("\nnot written (features held at zero: give --out to keep it)")
        return
    out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    if model.follow_up is None:
        print("the sentence model is new: refit its follow-up shift (python -m bench.fit_shift)")


if __name__ == "__main__":
    main()
