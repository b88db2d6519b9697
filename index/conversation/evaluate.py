"""`newsdesk eval --conversations`: each conversation's turns asked in order, each scored."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsdesk.index.conversation.service import Conversations
from newsdesk.index.conversation.store import Turn
from newsdesk.index.errors import NewsdeskError
from newsdesk.index.evaluate import Evaluator, Outcome, Question, jsonl_rows


@dataclass
class Conversation:
    """A labelled conversation: its turns as questions (an unanswerable turn has no answers)."""

    id: str
    turns: list[tuple[Question, bool]]


@dataclass
class TurnOutcome:
    """A turn's outcome, its position (0: the first turn) and the question it was searched as."""

    outcome: Outcome
    position: int
    searched: str


def load_conversations(path: Path) -> list[Conversation]:
    """Conversations from JSON Lines (id, turns: question, article, answers, unanswerable?)."""
    found = []
    for number, row in jsonl_rows(path, "conversation"):
        try:
            cid = str(row["id"])
            turns = [
                (
                    Question(f"{cid}#{i}", t["question"], t.get("article"), list(t["answers"])),
                    bool(t.get("unanswerable")),
                )
                for i, t in enumerate(row["turns"], start=1)
            ]
        except (KeyError, TypeError) as exc:
            raise NewsdeskError(f"{path}:{number} is not a conversation object ({exc})") from exc
        found.append(Conversation(cid, turns))
    return found


def run_conversations(
    conversations: Conversations,
    items: list[Conversation],
    progress: Callable[[int, int], None] | None = None,
) -> list[TurnOutcome]:
    """Every turn's outcome; the turns of a conversation follow each other as in a real
    conversation (kept in memory: nothing is stored). An outcome's id is its conversation's,
    so all the turns of a conversation fall in the same half."""
    evaluator = Evaluator(conversations.engine)
    total = sum(len(c.turns) for c in items)
    outcomes: list[TurnOutcome] = []
    for item in items:
        earlier: list[Turn] = []
        for position, (q, unanswerable) in enumerate(item.turns):
            started = time.perf_counter()
            answer, confidence = conversations.assess(q.question, earlier)
            seconds = time.perf_counter() - started
            earlier.append(Turn.of(q.question, answer))
            outcome = evaluator.outcome(item.id, q, unanswerable, answer, confidence, seconds)
            outcomes.append(TurnOutcome(outcome, position, answer.question))
            if progress:
                progress(len(outcomes), total)
    return outcomes
