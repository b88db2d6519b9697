"""Feeds in the API: polled on a schedule by `serve`, listed, added and removed by admins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsdesk.index.config import Settings
from newsdesk.index.feed_sync import feed_id
from tests.support.api_support import ADMIN, api_settings, live_app, running_app, wait_for
from tests.support.feed_site import BODY, Site, item, rss, running_site
from tests.support.reliability_support import print_figures

RSS = "application/rss+xml"
FERRY = (
    "The new ferry between Harwick and Lund carries 340 passengers. "
    "It was built in Gdansk and cost 41 million euros, the operator said on Monday."
)
QUESTION = "How many passengers does the new ferry between Harwick and Lund carry?"


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


def feed_settings(base: Settings, **changes: object) -> Settings:
    return api_settings(
        base, fetch_allow_private=True, fetch_host_delay=0.0, fetch_timeout=2.0, **changes
    )


@pytest.mark.e2e
def test_admins_list_add_and_remove_feeds(fake_settings: Settings, site: Site) -> None:
    configured = f"{site.base}/configured.xml"
    site.serve("/configured.xml", rss(item("c", "Configured", BODY)), RSS)
    site.serve("/added.xml", rss(item("a", "Added", BODY + " more")), RSS)
    settings = feed_settings(fake_settings, feeds=[configured], feed_interval=3600)
    with running_app(settings) as client:
        wait_for(lambda: client.get("/ready").json()["articles"] == 1, "the first poll")
        assert client.get("/feeds").status_code == 401
        added = client.post("/feeds", json={"url": f"{site.base}/added.xml"}, headers=ADMIN)
        assert added.status_code == 201 and added.json()["configured"] is False
        wait_for(lambda: client.get("/ready").json()["articles"] == 2, "the added feed's poll")
        feeds = {f["url"]: f for f in client.get("/feeds", headers=ADMIN).json()}
        assert feeds[configured]["configured"] and feeds[configured]["title"] == "Harbour News"
        assert feeds[configured]["last_report"]["added"] == 1
        metrics = client.get("/metrics").text
        assert f'newsdesk_feed_entries{{feed="{configured}"}} 1.0' in metrics

        bad = client.post("/feeds", json={"url": "file:///etc/passwd"}, headers=ADMIN)
        assert bad.status_code == 422
        gone = client.delete(f"/feeds/{added.json()['id']}", headers=ADMIN)
        assert gone.status_code == 204
        assert client.delete(f"/feeds/{added.json()['id']}", headers=ADMIN).status_code == 404
        assert client.delete(f"/feeds/{feed_id(configured)}", headers=ADMIN).status_code == 409
        assert client.get("/articles/a", headers=ADMIN).status_code == 200  # articles stay

        job = client.post("/reindex", headers=ADMIN).json()  # the feeds are part of a reindex
        assert job["sources"] == [configured]


@pytest.mark.e2e
@pytest.mark.integration
def test_serve_polls_a_feed_and_answers_a_new_entry_within_the_interval(
    tmp_path: object, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the real model and uvicorn: an entry added to a polled feed is answerable, cited
    with its date, within one poll interval; an unchanged feed's poll is a conditional GET
    that writes nothing."""
    url = f"{site.base}/news.xml"
    site.serve("/news.xml", rss(item("first", "Bridge opens", BODY)), RSS)
    base = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[operator]
    settings = feed_settings(base, feeds=[url], feed_interval=5)
    with live_app(settings) as (api, _), httpx.Client(base_url=api, timeout=30) as client:

        def state() -> dict[str, object]:
            return next(f for f in client.get("/feeds", headers=ADMIN).json() if f["url"] == url)

        wait_for(lambda: state()["polls"] == 1 and state()["last_success"], "the first poll")
        site.serve(
            "/news.xml",
            rss(
                item("first", "Bridge opens", BODY),
                item("ferry", "Ferry launched", FERRY, date="Tue, 10 Nov 2026 09:00:00 GMT"),
            ),
            RSS,
        )
        added = time.monotonic()

        def cited() -> dict[str, object] | None:
            answer = client.post("/ask", json={"question": QUESTION}).json()
            hits = [c for c in answer["citations"] if c["article_id"] == "ferry"]
            return hits[0] if hits and "340" in answer["answer"] else None

        citation = wait_for(cited, "the new entry to be answered", timeout=15)
        answerable = time.monotonic() - added
        assert answerable <= 5 + 3  # one interval, plus embedding one article
        assert citation["published_at"].startswith("2026-11-10")

        polls = state()["polls"]
        wait_for(lambda: state()["polls"] > polls, "an unchanged poll", timeout=15)
        assert state()["last_report"] == {
            "added": 0,
            "updated": 0,
            "unchanged": 2,
            "removed": 0,
            "skipped": 0,
        }
        last = [h for p, h in site.requests if p == "/news.xml"][-1]
        assert last.get("if-none-match") and last.get("if-modified-since")
    print_figures(
        capsys,
        "feeds: serve polls every 5 s",
        {"new entry answerable after": f"{answerable:.1f} s", "unchanged poll": "304, 0 written"},
    )


def test_sources_are_listed_for_autocompletion(fake_settings: Settings, corpus: Path) -> None:
    from fastapi.testclient import TestClient

    from newsdesk.api.app import create_app
    from newsdesk.index.engine import Engine

    engine = Engine(fake_settings)
    engine.sync([corpus])
    with TestClient(create_app(api_settings(fake_settings), engine=engine)) as client:
        everything = client.get("/sources").json()
        assert everything[0] == {"name": "Tech Wire", "articles": 2}
        assert {"name": "Alpine Times", "articles": 1} in everything
        assert client.get("/sources", params={"prefix": "alp"}).json() == [
            {"name": "Alpine Times", "articles": 1}
        ]


def test_a_feed_added_during_another_sync_is_polled_right_after_it() -> None:
    import threading

    from newsdesk.api.jobs import SyncJobs
    from newsdesk.index.sync import SyncReport

    class SlowEngine:  # the engine's two sync calls, the first one held until released
        def __init__(self) -> None:
            self.release = threading.Event()
            self.polled: list[list[str]] = []

        def sync(self, sources: list[Path], progress: object = None) -> SyncReport:
            self.release.wait(30)
            return SyncReport()

        def sync_urls(self, urls: list[str]) -> SyncReport:
            self.polled.append(urls)
            return SyncReport()

    engine = SlowEngine()
    jobs = SyncJobs()
    running = jobs.start(engine, [Path("articles")], "admin")  # type: ignore[arg-type]
    assert jobs.start_soon(engine, "feeds", ["https://a.example/rss"]) is None  # type: ignore[arg-type]
    assert jobs.start_soon(engine, "feeds", ["https://b.example/rss"]) is None  # type: ignore[arg-type]
    assert engine.polled == []
    engine.release.set()
    wait_for(lambda: engine.polled, "the queued feeds' poll", timeout=10)
    assert jobs.wait(10)
    assert engine.polled == [["https://a.example/rss", "https://b.example/rss"]]
    assert jobs.get(running.id).status == "succeeded"  # type: ignore[union-attr]
    started = jobs.start_soon(engine, "feeds", ["https://c.example/rss"])  # type: ignore[arg-type]
    assert started is not None and jobs.wait(10)
    assert engine.polled[-1] == ["https://c.example/rss"]
