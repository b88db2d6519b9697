"""Background syncs of the article folders and feeds: one at a time, in a worker thread, with
progress."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from newsdesk.api.schemas import ReindexJob
from newsdesk.index import NewsdeskError

if TYPE_CHECKING:
    from newsdesk.index import Engine

log = logging.getLogger("newsdesk.api")

KEEP_JOBS = 50
"""Finished jobs remembered for GET /reindex/{id}."""

Trigger = Literal["admin", "watch", "feeds"]


class SyncBusy(Exception):
    """A sync is already running."""

    def __init__(self, job: ReindexJob) -> None:
        super().__init__(f"reindex job {job.id} is already running")
        self.job = job


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SyncJobs:
    """Starts syncs in a thread (queries keep working meanwhile) and remembers how they went."""

    def __init__(self, on_finish: Callable[[ReindexJob], None] | None = None) -> None:
        self._jobs: OrderedDict[str, ReindexJob] = OrderedDict()
        self._lock = threading.Lock()
        self._running: ReindexJob | None = None
        self._thread: threading.Thread | None = None
        self._on_finish = on_finish
        self._queued: tuple[Engine, Trigger, list[str]] | None = None
        """URLs to sync as soon as the running sync ends (start_soon)."""

    def start(
        self, engine: Engine, sources: list[Path], trigger: Trigger, urls: Sequence[str] = ()
    ) -> ReindexJob:
        """Start syncing `sources` (folders) and `urls` (feeds, pages); raises SyncBusy when a
        sync is already running."""
        with self._lock:
            if self._running is not None:
                raise SyncBusy(self._running.model_copy())
            return self._start(engine, sources, trigger, urls)

    def start_soon(
        self, engine: Engine, trigger: Trigger, urls: Sequence[str]
    ) -> ReindexJob | None:
        """Start syncing `urls` now, or as soon as the running sync ends (then None): a feed
        added during another sync is polled right after it, not at the next poll."""
        with self._lock:
            if self._running is None:
                return self._start(engine, [], trigger, urls)
            queued = self._queued[2] if self._queued else []
            self._queued = (engine, trigger, list(dict.fromkeys([*queued, *urls])))
            return None

    def _start(
        self, engine: Engine, sources: list[Path], trigger: Trigger, urls: Sequence[str]
    ) -> ReindexJob:
        """Start a sync thread (the lock is held and no sync runs)."""
        job = ReindexJob(
            id=uuid.uuid4().hex,
            trigger=trigger,
            status="running",
            sources=[*map(str, sources), *urls],
            started_at=now(),
        )
        self._running = job
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP_JOBS:
            self._jobs.popitem(last=False)
        self._thread = threading.Thread(
            target=self._run, args=(job, engine, sources, list(urls)), name="sync", daemon=True
        )
        self._thread.start()
        return job.model_copy()

    def get(self, job_id: str) -> ReindexJob | None:
        """A snapshot of a job, or None when unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy() if job else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running sync (if any) to end; False if it is still running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self, job: ReindexJob, engine: Engine, sources: list[Path], urls: list[str]) -> None:
        base = 0

        def progress(done: int, total: int) -> None:
            nonlocal base
            with self._lock:
                if done == 0 and job.done:  # the next folder starts
                    base = job.done
                job.done, job.total = base + done, base + total

        log.info("reindex %s (%s) started: %s", job.id, job.trigger, job.sources)
        try:
            report = engine.sync(sources, progress)
            if urls:
                report.merge(engine.sync_urls(urls))
        except NewsdeskError as exc:
            outcome: dict[str, object] = {"status": "failed", "error": str(exc)}
            log.error("reindex %s failed: %s", job.id, exc)
        except Exception:
            outcome = {"status": "failed", "error": "unexpected error; see the server log"}
            log.exception("reindex %s failed", job.id)
        else:
            outcome = {"status": "succeeded", "report": report.to_dict()}
            log.info(
                "reindex %s finished: %d added, %d updated, %d removed, %d unchanged, %d skipped",
                job.id,
                report.added,
                report.updated,
                report.removed,
                report.unchanged,
                len(report.skipped),
            )
        with self._lock:
            for key, value in outcome.items():
                setattr(job, key, value)
            job.finished_at = now()
            self._running = None
            finished = job.model_copy()
            if self._queued is not None:
                engine, trigger, queued = self._queued
                self._queued = None
                self._start(engine, [], trigger, queued)
        if self._on_finish:
            self._on_finish(finished)
