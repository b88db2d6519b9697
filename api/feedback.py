"""Ratings of answers, kept in SQLite in the data dir for review (and future eval questions)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from api.schemas import FeedbackIn, FeedbackOut

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


class FeedbackStore:
    """One SQLite file; a short-lived connection per call (safe from any thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(sqlite3.connect(self.path)) as db, db:
                    db.execute(SCHEMA)
                self._ready = True
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    def add(self, item: FeedbackIn) -> FeedbackOut:
        """Store a rating; returns it with its id and time."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        citations = json.dumps([c.model_dump() for c in item.citations], ensure_ascii=False)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, citations, comment)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (created, item.rating, item.question, item.answer, citations, item.comment),
            )
            row_id = cursor.lastrowid
        assert row_id is not None
        return FeedbackOut(**item.model_dump(), id=row_id, created_at=created)

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
            )
            for row in rows
        ]
