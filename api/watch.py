"""`serve --watch`: re-sync the article folders when files appear, change or disappear there."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
from watchfiles import Change, DefaultFilter, awatch

from api.jobs import SyncBusy
from api.runtime import Runtime
from index.articles import SUPPORTED_SUFFIXES

log = logging.getLogger("newsdesk.api")

QUIET_MS = 300
"""A burst of changes ends after this long without a new one (at most the debounce setting)."""
BUSY_POLL_SECONDS = 0.5


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
    """Sync once at start (the folders may have changed while we were down), then on changes."""
    dirs = runtime.settings.articles_dirs
    debounce = runtime.settings.watch_debounce_ms
    log.info("watching %s for article changes", ", ".join(str(d) for d in dirs))
    await sync_when_free(runtime)
    async for changes in awatch(
        *dirs,
        watch_filter=ArticleFilter(),
        debounce=debounce,
        step=min(QUIET_MS, debounce),
        stop_event=stop,
    ):
        log.info("watch: %d change(s) in the article folders", len(changes))
        await sync_when_free(runtime)
