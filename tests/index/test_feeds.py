"""Feeds and pages into the index, against a real HTTP server on loopback: entries appear,
change and vanish between polls; hostile feeds are skipped with a reason and lose nothing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from tests.support.feed_site import BODY, UNSIZED, Reply, Site, item, rss, running_site
from tests.support.reliability_support import print_figures


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture
def engine(fake_settings: Settings) -> Engine:
    settings = fake_settings.model_copy(
        update={"fetch_allow_private": True, "fetch_host_delay": 0.0, "fetch_timeout": 1.0}
    )
    return Engine(settings)


@pytest.mark.e2e
def test_entries_appear_change_and_stay_after_leaving_the_feed(site: Site, engine: Engine) -> None:
    url = f"{site.base}/feed.xml"
    site.serve(
        "/feed.xml",
        rss(item("a-1", "Bridge opens", BODY), item("a-2", "Port grows", BODY + " More.")),
        "application/rss+xml",
    )
    first = engine.sync_urls([url])
    assert (first.added, first.skipped) == (2, [])
    article = engine.article("a-1")[1]
    assert article["source"] == "Harbour News"
    assert article["published_at"].startswith("2026-11-02")

    unchanged = engine.sync_urls([url])
    assert (unchanged.added, unchanged.updated, unchanged.unchanged) == (0, 0, 2)
    assert site.requests[-1][1]["if-none-match"]  # a conditional GET, answered 304

    site.serve(
        "/feed.xml",
        rss(item("a-1", "Bridge opens late", BODY + " It opened late."), item("a-3", "New", BODY)),
        "application/rss+xml",
    )
    changed = engine.sync_urls([url])
    assert (changed.added, changed.updated, changed.unchanged) == (1, 1, 0)
    assert engine.counts()["articles"] == 3  # a-2 left the feed and stays

    state = engine.feed_book().get(url)
    assert state.title == "Harbour News" and state.last_error is None and state.articles == 2


@pytest.mark.e2e
def test_a_teaser_entry_is_read_from_its_page(site: Site, engine: Engine) -> None:
    page = (
        "<html><head><title>Bridge</title></head><body><article><h1>Bridge</h1>"
        f"<p>{BODY}</p></article></body></html>"
    )
    site.serve("/story.html", page, "text/html")
    site.serve(
        "/feed.xml",
        rss(item("t-1", "Bridge", "The bridge opened…", link=f"{site.base}/story.html")),
        "application/rss+xml",
    )
    report = engine.sync_urls([f"{site.base}/feed.xml"])
    assert report.added == 1, report.skipped
    text = engine.texts([f"{site.base}/story.html"])[f"{site.base}/story.html"]
    assert "Sentence 29 of the report" in text


@pytest.mark.e2e
def test_a_single_page_url_is_one_article(site: Site, engine: Engine) -> None:
    site.serve(
        "/page.html", f"<html><body><article><p>{BODY}</p></article></body></html>", "text/html"
    )
    report = engine.sync_urls([f"{site.base}/page.html"])
    assert report.added == 1
    assert f"{site.base}/page.html" in engine.texts([f"{site.base}/page.html"])


@pytest.mark.e2e
def test_duplicate_ids_and_missing_dates(site: Site, engine: Engine) -> None:
    site.serve(
        "/feed.xml",
        rss(
            item("d", "One", BODY),
            item("d", "Two", BODY + " x"),
            item("n", "Undated", BODY, date=None),
        ),
        "application/rss+xml",
    )
    report = engine.sync_urls([f"{site.base}/feed.xml"])
    assert report.added == 2
    assert [s["reason"] for s in report.skipped] == ["a second entry with the id d"]
    assert engine.article("n")[1].get("published_at") in (None, "")


def billion_laughs(levels: int = 9) -> str:
    """An XML entity-expansion bomb: 10**levels copies of "lol" once expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels + 1)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(entities)}]>'
        f'<rss version="2.0"><channel><title>&lol{levels};</title></channel></rss>'
    )


@pytest.mark.e2e
def test_hostile_feeds_are_skipped_and_lose_nothing(
    site: Site, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site.serve("/good.xml", rss(item("g", "Good", BODY)), "application/rss+xml")
    assert engine.sync_urls([f"{site.base}/good.xml"]).added == 1
    site.serve("/bomb.xml", billion_laughs(), "application/rss+xml")
    external = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    )
    site.serve("/external.xml", external, "application/rss+xml")
    site.routes["/down.xml"] = lambda _: (500, {}, b"")
    site.routes["/loop.xml"] = lambda _: (302, {"Location": "/loop.xml"}, b"")
    site.routes["/meta.xml"] = lambda _: (302, {"Location": "http://169.254.169.254/"}, b"")
    site.routes["/huge.xml"] = lambda _: (200, {UNSIZED: "1"}, b"<rss>" + b" " * 50_000_000)

    def slow(_: dict[str, str]) -> Reply:
        time.sleep(3)
        return 200, {}, b"<rss/>"

    site.routes["/slow.xml"] = slow
    connected: list[str] = []
    connect = socket.create_connection

    def recording(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address[0])
        return connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", recording)
    names = ("bomb", "external", "down", "loop", "meta", "huge", "slow")
    started = time.monotonic()
    report = engine.sync_urls([f"{site.base}/{name}.xml" for name in names])
    seconds = time.monotonic() - started
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert set(reasons) == {f"{name}.xml" for name in names}, reasons
    assert "refused" in reasons["bomb.xml"] and "refused" in reasons["external.xml"]
    assert "HTTP 500" in reasons["down.xml"] and "loop" in reasons["loop.xml"]
    assert "metadata" in reasons["meta.xml"] and "over 10,000,000 bytes" in reasons["huge.xml"]
    assert "did not answer" in reasons["slow.xml"]
    assert connected and set(connected) == {"127.0.0.1"}  # never 169.254.169.254
    assert engine.counts()["articles"] == 1
    assert engine.feed_book().get(f"{site.base}/down.xml").failures == 1
    print_figures(
        capsys,
        "feeds: hostile",
        {
            "hostile URLs": len(names),
            "skipped with a reason": len(reasons),
            "connections to refused addresses": sum(a != "127.0.0.1" for a in connected),
            "articles kept": engine.counts()["articles"],
            "seconds": f"{seconds:.1f}",
        },
    )


@pytest.mark.e2e
def test_a_failed_page_keeps_the_feed_unvalidated_for_the_next_poll(
    site: Site, engine: Engine
) -> None:
    site.routes["/story.html"] = lambda _: (500, {}, b"")
    site.serve(
        "/feed.xml",
        rss(item("t", "Bridge", "Teaser…", link=f"{site.base}/story.html")),
        "application/rss+xml",
    )
    url = f"{site.base}/feed.xml"
    report = engine.sync_urls([url])
    assert report.added == 0 and "HTTP 500" in report.skipped[0]["reason"]
    assert engine.feed_book().get(url).etag is None  # the next poll reads the entry again
    site.serve(
        "/story.html", f"<html><body><article><p>{BODY}</p></article></body></html>", "text/html"
    )
    assert engine.sync_urls([url]).added == 1


@pytest.mark.e2e
def test_articles_older_than_the_maximum_age_are_pruned(site: Site, engine: Engine) -> None:
    url = f"{site.base}/feed.xml"
    recent = format_datetime(datetime.now(UTC) - timedelta(days=2), usegmt=True)
    site.serve(
        "/feed.xml",
        rss(
            item("new", "New", BODY, date=recent),
            item("old", "Old", BODY + " x", date="Mon, 02 Mar 2026 10:00:00 GMT"),
        ),
        "application/rss+xml",
    )
    assert engine.sync_urls([url]).added == 2  # no maximum age: both kept
    kept = engine.settings.model_copy(update={"feed_max_age_days": 30})
    pruning = Engine(kept)
    report = pruning.sync_urls([url])
    assert (report.removed, report.unchanged) == (1, 2)  # 304: the feed did not change
    assert [i for i, _ in pruning.list_articles(10)] == ["new"]


def test_the_feed_book_survives_concurrent_writers(tmp_path: Path) -> None:
    """Polls and admin requests write the book from several threads (and a second process may
    too): every write lands whole, none fails (it used to share one temp file: 500s)."""
    from concurrent.futures import ThreadPoolExecutor

    from newsdesk.index.feed_sync import FeedBook

    path = tmp_path / "feeds.json"
    shared, other = FeedBook(path), FeedBook(path)  # `other`: as if from another process
    urls = [f"https://example.org/{n}.rss" for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda u: (shared if u[-5] in "02468" else other).add(u), urls))
    assert set(shared.load()) <= set(urls) and len(shared.load()) >= 1
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(shared.add, urls))
    assert set(shared.load()) == set(urls)  # one book, one lock: no update lost
