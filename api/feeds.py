"""Polling the feeds on a schedule: the configured ones (NEWSDESK_FEEDS) and those added with
POST /feeds, every `feed_interval` seconds, as a background sync job."""

from __future__ import annotations

import logging

import anyio

from newsdesk.api.jobs import SyncBusy
from newsdesk.api.runtime import Runtime

log = logging.getLogger("newsdesk.api")

BUSY_RETRY_SECONDS = 5.0
"""When another sync runs at poll time, try again this much later."""


def feed_urls(runtime: Runtime) -> list[str]:
    """Every URL to poll: the configured ones first, then those added through the API."""
    assert runtime.engine is not None
    known = runtime.engine.feed_book().urls()
    return list(dict.fromkeys([*runtime.settings.feeds, *known]))


def start_poll(runtime: Runtime) -> bool:
    """Start a background sync of every feed; False when a sync is running."""
    assert runtime.engine is not None
    urls = feed_urls(runtime)
    if not urls:
        return True
    try:
        runtime.jobs.start(runtime.engine, [], "feeds", urls)
    except SyncBusy:
        return False
    return True


async def poll_feeds(runtime: Runtime, stop: anyio.Event) -> None:
    """Poll the feeds now and then every `feed_interval` seconds until `stop` is set."""
    while not stop.is_set():
        delay = runtime.settings.feed_interval
        if not start_poll(runtime):
            log.info("feeds: a sync is running; polling in %gs", BUSY_RETRY_SECONDS)
            delay = BUSY_RETRY_SECONDS
        with anyio.move_on_after(delay):
            await stop.wait()
