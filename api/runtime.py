"""What one app holds for its lifetime: settings, the engine, jobs, feedback, metrics, limits."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

import anyio

from newsdesk.api.feedback import FeedbackStore
from newsdesk.api.jobs import SyncJobs
from newsdesk.api.metrics import Metrics, WatcherStatus
from newsdesk.api.ratelimit import RateLimit
from newsdesk.api.schemas import ReindexJob
from newsdesk.index import IndexLocked, NewsdeskError, Settings, StoreUnavailable

if TYPE_CHECKING:
    from newsdesk.api.discord_guilds import GuildStore
    from newsdesk.index import Conversations, Engine

log = logging.getLogger("newsdesk.api")

LOAD_RETRY_SECONDS = 2.0
"""Wait between attempts while the store is unreachable or another process holds the lock."""
SHUTDOWN_WAIT_SECONDS = 5.0
"""How long shutdown waits for a running sync (an interrupted sync is redone next time)."""


class Runtime:
    """The app's long-lived parts; `engine` is None until loaded (then /ready says so)."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.owns_engine = False
        self.load_error: str | None = None
        """Why the engine is not loaded, as clients may read it."""
        self._logged_failure: str | None = None
        self.watcher = WatcherStatus("starting" if settings.watch else "off")
        self.metrics = Metrics(lambda: self.engine, lambda: self.watcher)
        self.jobs = SyncJobs(on_finish=self._job_finished)
        self.feedback = FeedbackStore(
            settings.data_dir / "feedback.sqlite3", settings.feedback_max_bytes
        )
        self.discord_guilds: GuildStore | None = None
        """Where the Discord bot answers, per server (routes.guilds opens it once the engine
        loads)."""
        self.rate_limit = RateLimit(settings.ask_rate_limit)
        self.feedback_limit = RateLimit(settings.feedback_rate_limit)
        self.conversations: Conversations | None = None
        """The engine's conversations (api.services.ask makes them once the engine loads)."""

    def _job_finished(self, job: ReindexJob) -> None:
        self.metrics.reindex.labels(job.trigger, job.status).inc()

    async def load(self) -> None:
        """Load the engine once (model, index, keyword index), retrying while the store is
        unreachable or another process holds the writer lock.

        In embedded mode the engine claims the data dir's writer lock for the app's lifetime,
        so no other process writes behind its back.
        """
        from newsdesk.index import Engine

        open_engine = partial(Engine.open, self.settings, serving=True)
        while self.engine is None:
            try:
                engine = await anyio.to_thread.run_sync(open_engine, abandon_on_cancel=True)
                self.engine, self.owns_engine, self.load_error = engine, True, None
            except (StoreUnavailable, IndexLocked) as exc:
                self._failed(exc, retrying=True)
                await anyio.sleep(LOAD_RETRY_SECONDS)
            except NewsdeskError as exc:
                self._failed(exc, retrying=False)
                return
            except Exception as exc:  # a server that cannot load says why on /ready, not dies
                log.exception("cannot load the index")
                self.load_error = f"unexpected error while loading the index ({type(exc).__name__})"
                return
        log.info("index loaded: %s", self.engine.location)

    def _failed(self, exc: NewsdeskError, retrying: bool) -> None:
        """Log the full reason once; clients (/ready, 503s) see its public form."""
        if self._logged_failure != str(exc):
            then = f"; retrying every {LOAD_RETRY_SECONDS:g}s" if retrying else ""
            log.error("cannot load the index: %s%s", exc, then)
            self._logged_failure = str(exc)
        self.load_error = exc.for_clients()

    def close(self) -> None:
        """Let a running sync finish briefly, write the queued conversation turns, then release
        the engine's writer lock."""
        if not self.jobs.wait(SHUTDOWN_WAIT_SECONDS):
            log.warning("shutting down during a reindex; the next sync redoes what was left")
        if self.conversations is not None:
            self.conversations.close()
        if self.owns_engine and self.engine is not None:
            self.engine.close()
