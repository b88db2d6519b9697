"""Ratings of answers, kept in SQLite in the data dir for review (and future eval questions).

The store is bounded: after each rating, the oldest ones are dropped while the file's pages in
use exceed `max_bytes`, and the file gives freed pages back (auto_vacuum), so it cannot fill
the disk the index lives on.

A rating may name its answer (conversation and turn) and its rater (the user a front end vouches
for): the store then keeps one rating per rater and answer, so a Discord user cannot rate an
answer twice, whatever the bot remembers (e.g. across its restarts)."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from newsdesk.api.schemas import FeedbackIn, FeedbackOut

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    comment TEXT
)
"""
ADDED_COLUMNS = {"rater": "TEXT", "conversation_id": "TEXT", "turn": "INTEGER"}
"""Columns added since the first version of the table (added to an older file on opening)."""
ONE_PER_RATER = """
CREATE UNIQUE INDEX IF NOT EXISTS one_rating_per_rater
ON feedback (rater, conversation_id, turn)
"""
"""One rating per rater and answer; SQLite counts NULLs as distinct, so ratings without a
rater or an answer never clash."""
MAX_TRIMS = 64
"""Rounds of dropping old ratings after one insert, at most (each drops a share, so few run)."""


def create(db: sqlite3.Connection) -> None:
    """Create the table in a file that gives freed pages back; a file from before is rewritten
    once so that it does too (connection in autocommit mode: VACUUM needs it)."""
    db.execute("PRAGMA auto_vacuum = FULL")  # takes effect on a new, empty file
    db.execute(SCHEMA)
    present = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:
            db.execute(f"ALTER TABLE feedback ADD COLUMN {column} {kind}")
    db.execute(ONE_PER_RATER)
    if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
        db.execute("VACUUM")


def used_bytes(db: sqlite3.Connection) -> int:
    """Bytes of the file's pages in use (free pages are given back at commit)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])


class AlreadyRated(Exception):
    """The rater has rated this answer before."""


class FeedbackStore:
    """One SQLite file; a short-lived connection per call (safe from any thread)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(sqlite3.connect(self.path, isolation_level=None)) as db:
                    create(db)
                self._ready = True
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    def add(self, item: FeedbackIn, rater: str | None = None) -> FeedbackOut:
        """Store a rating by `rater` (None: anonymous), then drop the oldest ones while the file
        is over its bound; returns the rating with its id and time. AlreadyRated when `rater`
        rated the answer `item` names before."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        citations = json.dumps([c.model_dump() for c in item.citations], ensure_ascii=False)
        try:
            with self._connect() as db:
                cursor = db.execute(
                    "INSERT INTO feedback (created_at, rating, question, answer, citations,"
                    " comment, rater, conversation_id, turn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        created,
                        item.rating,
                        item.question,
                        item.answer,
                        citations,
                        item.comment,
                        rater,
                        item.conversation_id,
                        item.turn,
                    ),
                )
                row_id = cursor.lastrowid
        except sqlite3.IntegrityError:
            raise AlreadyRated from None
        assert row_id is not None
        self._trim(row_id)
        return FeedbackOut(**item.model_dump(), id=row_id, created_at=created)

    def _trim(self, newest: int) -> None:
        """Drop ratings older than `newest`, oldest first and a share at a time, while the
        file's pages in use exceed the bound."""
        for _ in range(MAX_TRIMS):
            with self._connect() as db:
                used = used_bytes(db)
                if used <= self.max_bytes:
                    return
                (older,) = db.execute(
                    "SELECT COUNT(*) FROM feedback WHERE id < ?", (newest,)
                ).fetchone()
                if older == 0:
                    return
                share = math.ceil(older * (used - self.max_bytes) / used)
                db.execute(
                    "DELETE FROM feedback WHERE id IN"
                    " (SELECT id FROM feedback WHERE id < ? ORDER BY id LIMIT ?)",
                    (newest, max(1, share)),
                )

    def recent(self, limit: int, offset: int, rating: str | None = None) -> list[FeedbackOut]:
        """Ratings, newest first, optionally only `up` or `down` ones."""
        where, args = ("WHERE rating = ?", [rating]) if rating else ("", [])
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM feedback {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [
            FeedbackOut(
                id=row["id"],
                created_at=row["created_at"],
                rating=row["rating"],
                question=row["question"],
                answer=row["answer"],
                citations=json.loads(row["citations"]),
                comment=row["comment"],
                conversation_id=row["conversation_id"],
                turn=row["turn"],
            )
            for row in rows
        ]
