"""Conversations kept where the index lives: a Chroma collection on the index's own client
(embedded in the data dir, or the Chroma server that API replicas share).

One record per turn, keyed `<conversation id>/<time ns>-<random>`: two replicas appending to
the same conversation at once both keep their turn, and no turn is ever rewritten.

With `write_behind` (the API), turns are written by one background thread, together, a moment
after their answers have gone out: one Chroma write costs ~6 ms of CPU (holding the GIL) for
one turn or for fifty, a fifth of an answer's own time. Until written, a turn is read from
memory, so a follow-up to the same process always finds it; one sent to another API replica
within WRITE_DELAY would not (404). Closing the store writes what is queued.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from newsdesk.index.answer.models import Answer, Citation
from newsdesk.index.errors import ConversationNotFound

log = logging.getLogger("newsdesk.conversations")

PLACEHOLDER_VECTOR = [1.0]
"""Turns are looked up by conversation id only; Chroma still wants a vector per record."""
ID_BYTES = 16
"""A new conversation id is 128 random bits (22 URL-safe characters)."""
MAX_ID_CHARS = 64
PURGE_EVERY = 3600.0
"""Seconds between two purges of expired conversations by one process."""
WRITE_DELAY = 0.2
"""Seconds the background writer waits after a turn is queued, to write those that follow in
the same call (a Chroma write costs about the same for one turn as for fifty)."""
MAX_PENDING = 64
"""With this many turns waiting, the writer writes them at once."""


@dataclass
class Turn:
    """One question of a conversation and what it was answered."""

    question: str
    searched: str
    """The standalone question actually searched (the question itself unless a follow-up)."""
    answer: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    time: float = 0.0
    """Unix time the turn was stored."""

    @classmethod
    def of(cls, question: str, answer: Answer) -> Turn:
        """A turn for `question`, whose answer was searched as `answer.question`."""
        return cls(question, answer.question, answer.answer, answer.answered, answer.citations)

    def as_answer(self) -> Answer:
        """The turn's answer, for the question searched."""
        return Answer(
            question=self.searched,
            answer=self.answer,
            answered=self.answered,
            citations=self.citations,
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["citations"] = [c.model_dump() for c in self.citations]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Turn:
        data = json.loads(text)
        data["citations"] = [Citation(**c) for c in data.get("citations", [])]
        return cls(**data)


@dataclass
class Queued:
    """A turn on its way to Chroma."""

    conversation_id: str
    record_id: str
    turn: Turn
    earlier: int | None


def new_id() -> str:
    """An unguessable conversation id."""
    return secrets.token_urlsafe(ID_BYTES)


def valid_id(conversation_id: str) -> bool:
    """Whether an id could be one this store made (anything else is simply not found)."""
    return 0 < len(conversation_id) <= MAX_ID_CHARS and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in conversation_id
    )


class ConversationStore:
    """Conversations in the `<collection>-conversations` collection of a Chroma client.

    A conversation expires `ttl_seconds` after its last turn and keeps its `max_turns` latest
    turns (older ones are dropped as new ones come)."""

    def __init__(
        self,
        client: Any,
        collection: str,
        ttl_seconds: float,
        max_turns: int,
        write_behind: bool = False,
    ) -> None:
        self.records = client.get_or_create_collection(
            f"{collection}-conversations", embedding_function=None
        )
        self.ttl_seconds = ttl_seconds
        self.max_turns = max_turns
        self.purged_at: float | None = None
        self.pending: dict[str, list[Queued]] = {}
        """Turns handed to the writer and not yet in Chroma, per conversation."""
        self.lock = threading.Condition()
        """Guards `pending`; notified when a batch has been written."""
        self.queued = threading.Event()
        self.hurry = threading.Event()
        self.closing = False
        self.writer: threading.Thread | None = None
        if write_behind:
            self.writer = threading.Thread(
                target=self._write_behind, name="conversation-writer", daemon=True
            )
            self.writer.start()

    def turns(self, conversation_id: str, now: float | None = None) -> list[Turn]:
        """The conversation's turns, oldest first; ConversationNotFound if it has none left."""
        now = time.time() if now is None else now
        found = self._read(conversation_id)
        if not found or found[-1][1].time + self.ttl_seconds < now:
            if found:  # expired: forget it now rather than at the next purge
                self.records.delete(ids=[record_id for record_id, _ in found])
            raise ConversationNotFound(
                f"no conversation {conversation_id!r}: it expired, was deleted or never "
                "existed; ask without a conversation id to start a new one"
            )
        return [turn for _, turn in found]

    def append(
        self, conversation_id: str, turn: Turn, now: float | None = None, earlier: int | None = None
    ) -> None:
        """Add a turn (stamped `now`), dropping the oldest beyond `max_turns`; `earlier`, the
        number of turns the conversation had when read, spares a read when it is small."""
        turn.time = time.time() if now is None else now
        record_id = f"{conversation_id}/{int(turn.time * 1e9):020d}-{secrets.token_hex(4)}"
        record = Queued(conversation_id, record_id, turn, earlier)
        if self.writer is None:
            self._write([record])
            return
        with self.lock:
            self.pending.setdefault(conversation_id, []).append(record)
            backlog = sum(len(queued) for queued in self.pending.values())
        self.queued.set()
        if backlog >= MAX_PENDING:
            self.hurry.set()

    def _write_behind(self) -> None:
        """The writer thread: once something is queued, wait WRITE_DELAY for more, then write
        all of it in one Chroma call; until `close`."""
        while True:
            self.queued.wait()
            self.hurry.wait(WRITE_DELAY)
            self.queued.clear()  # before the snapshot: a turn queued after it wakes us again
            self.hurry.clear()
            with self.lock:
                batch = [record for queued in self.pending.values() for record in queued]
            try:
                self._write(batch)
            except Exception:
                log.exception("could not store %d conversation turns", len(batch))
            with self.lock:
                written = {record.record_id for record in batch}
                for conversation_id in {record.conversation_id for record in batch}:
                    left = [r for r in self.pending[conversation_id] if r.record_id not in written]
                    if left:
                        self.pending[conversation_id] = left
                    else:
                        del self.pending[conversation_id]
                self.lock.notify_all()
                if self.closing and not self.pending:
                    return

    def _write(self, batch: list[Queued]) -> None:
        """Write turns in one call and drop each conversation's oldest beyond `max_turns`."""
        if not batch:
            return
        self.records.add(
            ids=[record.record_id for record in batch],
            metadatas=[
                {
                    "conversation": record.conversation_id,
                    "time": record.turn.time,
                    "turn": record.turn.to_json(),
                }
                for record in batch
            ],
            embeddings=[PLACEHOLDER_VECTOR] * len(batch),
        )
        long = {
            record.conversation_id
            for record in batch
            if record.earlier is None or record.earlier >= self.max_turns
        }
        for conversation_id in long:
            found = self._read(conversation_id)
            if len(found) > self.max_turns:
                self.records.delete(ids=[record_id for record_id, _ in found[: -self.max_turns]])

    def flush(self, conversation_id: str | None = None) -> None:
        """Wait until the queued turns (of one conversation, or all) are written."""
        if self.writer is None:
            return
        with self.lock:
            self.hurry.set()
            while self.writer.is_alive() and (
                self.pending.get(conversation_id) if conversation_id else self.pending
            ):
                self.lock.wait(1.0)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self.writer is None or not self.writer.is_alive():
            return
        with self.lock:
            self.closing = True
        self.queued.set()
        self.hurry.set()
        self.writer.join()
        self.writer = None  # turns appended from now on are written at once

    def delete(self, conversation_id: str) -> None:
        """Forget a conversation; ConversationNotFound if there is none."""
        self.flush(conversation_id)  # a turn written after the delete would bring it back
        self.turns(conversation_id)
        self.records.delete(where={"conversation": conversation_id})

    def purge_now_and_then(self) -> None:
        """Purge at a process's first new conversation and then every PURGE_EVERY seconds."""
        now = time.time()
        if self.purged_at is None or now - self.purged_at >= PURGE_EVERY:
            self.purged_at = now
            self.purge(now)

    def purge(self, now: float | None = None) -> int:
        """Delete the turns of expired conversations; how many turns went. A conversation
        with a recent turn keeps its older ones too (its expiry counts from its last turn)."""
        now = time.time() if now is None else now
        old = self.records.get(
            where={"time": {"$lt": now - self.ttl_seconds}}, include=["metadatas"]
        )
        stale = {meta["conversation"] for meta in old["metadatas"]}
        gone = 0
        for conversation_id in stale:
            found = self._read(conversation_id)
            if found and found[-1][1].time + self.ttl_seconds < now:
                self.records.delete(ids=[record_id for record_id, _ in found])
                gone += len(found)
        return gone

    def _read(self, conversation_id: str) -> list[tuple[str, Turn]]:
        """(record id, turn) of every stored turn, oldest first."""
        if not valid_id(conversation_id):
            return []
        with self.lock:  # taken before reading Chroma: a turn written meanwhile is in one or both
            queued = list(self.pending.get(conversation_id, []))
        found = self.records.get(where={"conversation": conversation_id}, include=["metadatas"])
        rows = [
            (record_id, Turn.from_json(str(meta["turn"])))
            for record_id, meta in zip(found["ids"], found["metadatas"], strict=True)
        ]
        stored = set(found["ids"])
        rows += [(r.record_id, r.turn) for r in queued if r.record_id not in stored]
        return sorted(rows, key=lambda row: (row[1].time, row[0]))
