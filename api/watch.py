"""`serve --watch`: re-sync the article folders when files appear, change or disappear there."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
from watchfiles import Change, DefaultFilter, awatch

from newsdesk.api.jobs import SyncBusy
from newsdesk.api.runtime import Runtime
from newsdesk.index import SUPPORTED_SUFFIXES

log = logging.getLogger("newsdesk.api")

QUIET_MS = 300
"""A burst of changes ends after this long without a new one (at most the debounce setting)."""
BUSY_POLL_SECONDS = 0.5
RESTART_SECONDS = 1.0
"""Wait before restarting a stopped watcher; doubled at each stop in a row."""
MAX_RESTART_SECONDS = 60.0
"""The longest wait between restarts; a watcher that ran this long starts over at the first."""


class ArticleFilter(DefaultFilter):
    """Article files (and folders, whose removal matters); no hidden or editor files."""

    def __call__(self, change: Change, path: str) -> bool:
        name = Path(path).name
        if name.startswith(".") or not super().__call__(change, path):
            return False
        suffix = Path(name).suffix.lower()
        return suffix in SUPPORTED_SUFFIXES or not suffix


async def sync_when_free(runtime: Runtime) -> None:
    """Start a sync of the article folders, waiting for a running one to finish first."""
    assert runtime.engine is not None
    while True:
        try:
            job = runtime.jobs.start(runtime.engine, runtime.settings.articles_dirs, "watch")
        except SyncBusy:
            await anyio.sleep(BUSY_POLL_SECONDS)
        else:
            log.info("watch: reindex %s started", job.id)
            return


async def watch_articles(runtime: Runtime, stop: anyio.Event) -> None:
    """Watch the article folders until `stop`; restart watching whenever it stops.

    watchfiles stops for good at some events (a file name that is not UTF-8: "Unable to decode
    path"), so a stopped watcher is started anew after RESTART_SECONDS, doubling up to
    MAX_RESTART_SECONDS while it keeps stopping; meanwhile /ready and /metrics say so.
    """
    status = runtime.watcher
    delay = RESTART_SECONDS
    while not stop.is_set():
        started = anyio.current_time()
        try:
            await watch_once(runtime, stop)
        except Exception as exc:  # whatever stops watching, the API keeps serving
            if anyio.current_time() - started > MAX_RESTART_SECONDS:
                delay = RESTART_SECONDS  # it had been running well
            status.state = "degraded"
            status.detail = f"watching the article folders stopped ({type(exc).__name__}: {exc})"
            log.warning("%s; restarting in %g s", status.detail, delay)
            with anyio.move_on_after(delay):
                await stop.wait()
            if stop.is_set():
                return
            delay = min(delay * 2, MAX_RESTART_SECONDS)
            status.restarts += 1


async def watch_once(runtime: Runtime, stop: anyio.Event) -> None:
    """Sync once (the folders may have changed while nobody watched), then on every change."""
    dirs = runtime.settings.articles_dirs
    debounce = runtime.settings.watch_debounce_ms
    log.info("watching %s for article changes", ", ".join(str(d) for d in dirs))
    runtime.watcher.state, runtime.watcher.detail = "ok", None
    await sync_when_free(runtime)
    async for changes in awatch(
        *dirs,
        watch_filter=ArticleFilter(),
        debounce=debounce,
        step=min(QUIET_MS, debounce),
        stop_event=stop,
        ignore_permission_denied=True,
    ):
        log.info("watch: %d change(s) in the article folders", len(changes))
        await sync_when_free(runtime)
