"""Syncing feeds and article URLs into the index, with each URL's state kept in the data dir.

The state of a URL (its validators for conditional GET, last success, last error, counts) is
one entry of `feeds.json`, replaced atomically. A feed that answers 304 writes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsdesk.index.articles import Article
from newsdesk.index.errors import InvalidArticle
from newsdesk.index.feeds import read_url
from newsdesk.index.fetch import Fetcher, FetchPolicy, FetchRefused
from newsdesk.index.sync import SyncReport

Upsert = Callable[[Iterable[Article], str], SyncReport]
"""Adds or replaces articles of one origin (Engine.upsert_all)."""
Prune = Callable[[str, str], int]
"""Removes an origin's articles published before an ISO time (Engine.prune); how many."""


@dataclass
class FeedState:
    """What Newsdesk remembers of one feed or page URL."""

    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    articles: int = 0
    polls: int = 0
    failures: int = 0
    last_report: dict[str, int] | None = None
    """The last successful poll's counts: added, updated, unchanged, removed, skipped."""


def feed_id(url: str) -> str:
    """A short, stable id for a URL (for GET/DELETE /feeds/{id})."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def is_url(source: str) -> bool:
    """Whether a source given on the command line is a web address rather than a path."""
    return source.lower().startswith(("http://", "https://"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedBook:
    """The URLs' states, in one JSON file written atomically; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def load(self) -> dict[str, FeedState]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text(encoding="utf-8"))
        return {url: FeedState(**state) for url, state in raw.items()}

    def get(self, url: str) -> FeedState:
        with self.lock:
            return self.load().get(url) or FeedState(url)

    def urls(self) -> list[str]:
        with self.lock:
            return list(self.load())

    def add(self, url: str) -> FeedState:
        """Remember a URL to poll (its state is kept when it is known already)."""
        with self.lock:
            states = self.load()
            state = states.setdefault(url, FeedState(url))
            self.write(states)
            return state

    def put(self, state: FeedState) -> None:
        with self.lock:
            states = self.load()
            states[state.url] = state
            self.write(states)

    def remove(self, url: str) -> bool:
        with self.lock:
            states = self.load()
            found = states.pop(url, None) is not None
            self.write(states)
            return found

    def write(self, states: dict[str, FeedState]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {url: asdict(state) for url, state in sorted(states.items())}
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path.parent, suffix=".tmp", delete=False
        ) as tmp:  # a name of its own: another process may be writing the file too
            json.dump(payload, tmp, indent=1, ensure_ascii=False)
        os.replace(tmp.name, self.path)


class FeedSync:
    """Reads URLs (feeds or pages) and hands their articles to the index."""

    def __init__(
        self,
        book: FeedBook,
        policy: FetchPolicy,
        upsert: Upsert,
        prune: Prune | None = None,
        max_age_days: float = 0,
    ) -> None:
        self.book = book
        self.fetcher = Fetcher(policy)
        self.upsert = upsert
        self.prune = prune
        self.max_age_days = max_age_days

    def close(self) -> None:
        self.fetcher.close()

    def too_old(self, article: Article, cutoff: str) -> bool:
        """Whether an entry is older than the articles kept (when a maximum age is set)."""
        return bool(self.prune and article.published_at and article.published_at < cutoff)

    def sync(self, urls: Iterable[str]) -> SyncReport:
        """Sync each URL in turn; one report for all."""
        report = SyncReport()
        for url in urls:
            report.merge(self.sync_one(url))
        return report

    def sync_one(self, url: str) -> SyncReport:
        """Fetch one URL conditionally and upsert what changed; a failure is a skipped entry
        and changes nothing already indexed."""
        state = self.book.get(url)
        state.polls += 1
        try:
            read, fetched = read_url(url, self.fetcher, state.etag, state.last_modified)
        except (FetchRefused, InvalidArticle) as exc:
            state.failures += 1
            state.last_error = str(exc)
            self.book.put(state)
            return SyncReport(skipped=[{"path": url, "reason": str(exc)}])
        cutoff = (datetime.now(UTC) - timedelta(days=self.max_age_days)).isoformat()
        if read.not_modified:
            report = SyncReport(unchanged=state.articles)
        else:
            fresh = [a for a in read.articles if not self.too_old(a, cutoff)]
            report = self.upsert(fresh, url)
            report.skipped.extend({"path": s.path, "reason": s.reason} for s in read.skipped)
            state.title = read.title or state.title
            state.articles = len(read.articles)
            keep = read.complete  # else the next poll must read every entry again
            state.etag = fetched.etag if keep else None
            state.last_modified = fetched.last_modified if keep else None
        if self.prune is not None:
            report.removed += self.prune(url, cutoff)
        state.last_report = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "skipped": len(report.skipped),
        }
        state.last_success, state.last_error = now(), None
        self.book.put(state)
        return report
