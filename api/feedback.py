"""Ratings of answers, kept in SQLite in the data dir for review (and future eval questions).

The store is bounded: its file stays under `max_bytes`, so it cannot fill the disk the index
lives on. Ratings (text as UTF-8) are kept within CONTENT_SHARE of that, the oldest dropped to
make room; SQLite's pages take the rest (measured: 1.09-1.25 times the text), and the file gives
freed pages back (auto_vacuum)."""

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
    comment TEXT,
    size INTEGER NOT NULL DEFAULT 0
)
"""
CONTENT_SHARE = 0.75
"""Share of the file's bound the ratings' own bytes may fill."""
ROW_OVERHEAD = 64
"""Bytes counted per rating besides its text (ids, time, rating, SQLite's record header)."""
MEASURE_OLD_ROWS = f"""
UPDATE feedback SET size = {ROW_OVERHEAD} + length(CAST(question AS BLOB))
    + length(CAST(answer AS BLOB)) + length(CAST(citations AS BLOB))
    + COALESCE(length(CAST(comment AS BLOB)), 0)
"""


def create(db: sqlite3.Connection) -> None:
    """Create the table, or give one from before the size bound its `size` column."""
    db.execute("PRAGMA auto_vacuum = FULL")  # takes effect on a new file
    db.execute(SCHEMA)
    if "size" not in {row[1] for row in db.execute("PRAGMA table_info(feedback)")}:
        db.execute("ALTER TABLE feedback ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
        db.execute(MEASURE_OLD_ROWS)


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
                with closing(sqlite3.connect(self.path)) as db, db:
                    create(db)
                self._ready = True
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    def add(self, item: FeedbackIn) -> FeedbackOut:
        """Store a rating, dropping the oldest ones while the store would exceed its bound;
        returns the rating with its id and time."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        citations = json.dumps([c.model_dump() for c in item.citations], ensure_ascii=False)
        texts = (item.question, item.answer, citations, item.comment or "")
        size = ROW_OVERHEAD + sum(len(text.encode("utf-8", "surrogatepass")) for text in texts)
        with self._connect() as db:
            self._make_room(db, size)
            cursor = db.execute(
                "INSERT INTO feedback"
                " (created_at, rating, question, answer, citations, comment, size)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (created, item.rating, item.question, item.answer, citations, item.comment, size),
            )
            row_id = cursor.lastrowid
        assert row_id is not None
        return FeedbackOut(**item.model_dump(), id=row_id, created_at=created)

    def _make_room(self, db: sqlite3.Connection, size: int) -> None:
        """Delete the oldest ratings until `size` more bytes fit within the ratings' share."""
        (stored,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM feedback").fetchone()
        excess = stored + size - int(self.max_bytes * CONTENT_SHARE)
        if excess <= 0:
            return
        row = db.execute(
            "SELECT id FROM (SELECT id, SUM(size) OVER (ORDER BY id) AS freed FROM feedback)"
            " WHERE freed >= ? ORDER BY id LIMIT 1",
            (excess,),
        ).fetchone()
        if row is None:
            db.execute("DELETE FROM feedback")
        else:
            db.execute("DELETE FROM feedback WHERE id <= ?", (row[0],))

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
