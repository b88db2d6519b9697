"""Prometheus metrics of one app, in a registry of its own (so several apps can coexist)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from newsdesk.index import Engine

log = logging.getLogger("newsdesk.api")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class WatcherStatus:
    """How `serve --watch` is doing: `off` without --watch, `starting` until the index is loaded,
    `ok` while watching, `degraded` while stopped and waiting to restart (`detail` says why)."""

    state: Literal["off", "starting", "ok", "degraded"] = "off"
    detail: str | None = None
    restarts: int = 0


class IndexCollector(Collector):
    """Articles and chunks indexed, read from the store at scrape time."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine()
        counts = None
        if engine is not None:
            try:
                counts = engine.counts()
            except Exception as exc:  # a scrape must not fail because the store is down
                log.warning("metrics: cannot count the index: %s", exc)
        yield GaugeMetricFamily(
            "newsdesk_ready", "1 when the index is open and answering", value=int(bool(counts))
        )
        if counts:
            yield GaugeMetricFamily("newsdesk_articles", "Articles indexed", counts["articles"])
            yield GaugeMetricFamily("newsdesk_chunks", "Chunks indexed", counts["chunks"])


class WatcherCollector(Collector):
    """Whether `serve --watch` is watching, and how often it restarted (only with --watch)."""

    def __init__(self, status: Callable[[], WatcherStatus]) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        status = self.status()
        if status.state == "off":
            return
        yield GaugeMetricFamily(
            "newsdesk_watcher_up",
            "1 while the article folders are watched, 0 while watching is down",
            value=int(status.state == "ok"),
        )
        yield CounterMetricFamily(
            "newsdesk_watcher_restarts",
            "Restarts of the folder watcher after it stopped",
            value=status.restarts,
        )


class FeedCollector(Collector):
    """Per-feed polls, failures and entries, read from the feeds' state at scrape time."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        engine = self.engine()
        if engine is None:
            return
        try:
            states = engine.feed_book().load()
        except (OSError, ValueError) as exc:
            log.warning("metrics: cannot read the feeds' state: %s", exc)
            return
        polls = CounterMetricFamily("newsdesk_feed_polls", "Polls of a feed", labels=["feed"])
        failures = CounterMetricFamily(
            "newsdesk_feed_failures", "Polls of a feed that failed", labels=["feed"]
        )
        entries = GaugeMetricFamily(
            "newsdesk_feed_entries", "Entries read at a feed's last poll", labels=["feed"]
        )
        up = GaugeMetricFamily(
            "newsdesk_feed_up", "1 when a feed's last poll worked", labels=["feed"]
        )
        for url, state in states.items():
            polls.add_metric([url], state.polls)
            failures.add_metric([url], state.failures)
            entries.add_metric([url], state.articles)
            up.add_metric([url], int(state.last_error is None and state.polls > 0))
        yield from (polls, failures, entries, up)


class Metrics:
    """Request counts and latency, answered/refused answers, reindex jobs, index size."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self, engine: Callable[[], Engine | None], watcher: Callable[[], WatcherStatus]
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "newsdesk_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsdesk_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "newsdesk_answers",
            "Answers given (answered) or refused for lack of evidence",
            ["outcome"],
            registry=self.registry,
        )
        self.reindex = Counter(
            "newsdesk_reindex_jobs",
            "Finished reindex jobs by trigger and status",
            ["trigger", "status"],
            registry=self.registry,
        )
        self.registry.register(IndexCollector(engine))
        self.registry.register(WatcherCollector(watcher))
        self.registry.register(FeedCollector(engine))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def answer(self, answered: bool) -> None:
        self.answers.labels("answered" if answered else "refused").inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)
