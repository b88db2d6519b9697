"""`serve --watch`: files that appear, change or disappear in the article folder are re-synced."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import httpx
import pytest
from watchfiles import Change

from newsdesk.api.watch import ArticleFilter
from newsdesk.index.config import Settings
from tests.support.api_support import ADMIN, api_settings, live_app, running_app, wait_for
from tests.support.reliability_support import print_figures

VOLCANO = (
    "Volcano erupts near Grindavik\n\nA volcano erupted near the Icelandic town of Grindavik on "
    "Sunday, sending lava towards roads. Authorities evacuated 4,000 residents.\n"
)
QUESTION = "How many residents were evacuated after the volcano erupted near Grindavik?"


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/a/world/new.txt", True),
        ("/a/world/new.MD", True),
        ("/a/feed.jsonl", True),
        ("/a/world", True),  # a folder: its removal matters
        ("/a/world/.new.txt.swp", False),
        ("/a/world/.hidden.txt", False),
        ("/a/world/new.txt~", False),
        ("/a/.git/index", False),
        ("/a/world/photo.jpg", False),
    ],
)
def test_the_watch_filter_keeps_article_files_only(path: str, wanted: bool) -> None:
    assert ArticleFilter()(Change.added, path) is wanted


def test_watch_makes_dropped_articles_answerable_and_removes_deleted_ones(
    fake_settings: Settings, corpus: Path
) -> None:
    settings = api_settings(
        fake_settings, articles_dirs=[corpus], watch=True, watch_debounce_ms=200
    )
    with running_app(settings) as client:

        def articles() -> int:
            return int(client.get("/ready").json()["articles"])

        wait_for(lambda: articles() == 6, "the start-up sync of the folder")

        (corpus / "world/volcano.txt").write_text(VOLCANO)
        wait_for(lambda: client.get("/articles/world/volcano.txt").status_code == 200, "the add")
        answer = client.post("/ask", json={"question": QUESTION}).json()
        assert answer["citations"][0]["article_id"] == "world/volcano.txt"
        assert "4,000" in answer["answer"]

        bridge = corpus / "world/harbour-bridge.txt"
        bridge.write_text(bridge.read_text().replace("84 million", "97 million"))
        wait_for(
            lambda: "97 million" in client.get("/articles/world/harbour-bridge.txt").json()["text"],
            "the change",
        )

        (corpus / "world/volcano.txt").unlink()
        wait_for(lambda: client.get("/articles/world/volcano.txt").status_code == 404, "the delete")
        assert articles() == 6
        registry = client.app.state.runtime.metrics.registry  # type: ignore[attr-defined]
        succeeded = {"trigger": "watch", "status": "succeeded"}
        wait_for(  # start-up, add, change, delete (bursts may add more, never fewer)
            lambda: registry.get_sample_value("newsdesk_reindex_jobs_total", succeeded) >= 4,
            "the watch syncs to be counted",
        )


@pytest.mark.e2e
@pytest.mark.integration
def test_watching_survives_a_file_name_that_is_not_utf8(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """watchfiles stops for good at an event for a name that is not UTF-8; it used to stop
    the watcher until the server restarted (and after a restart, reading the file stopped it
    again), /ready saying nothing. Now: restarted, the file skipped and never opened."""
    base = Settings(data_dir=tmp_path / "data", _env_file=None)  # the real model
    settings = api_settings(base, articles_dirs=[corpus], watch=True, watch_debounce_ms=200)
    with live_app(settings) as (url, app), httpx.Client(base_url=url, timeout=30) as client:
        registry = app.state.runtime.metrics.registry

        def ready() -> dict[str, object]:
            return client.get("/ready").json()  # type: ignore[no-any-return]

        wait_for(lambda: ready()["articles"] == 6 and ready()["watcher"] == "ok", "start-up")
        assert registry.get_sample_value("newsdesk_watcher_up") == 1
        with open(os.fsencode(corpus) + b"/world/latin1-\xe9\xff.txt", "w") as file:
            file.write("Latin-1 name\n\nA file whose name is not UTF-8.\n")
        (corpus / "world/two\nlines.txt").write_text("Newline name\n\nA name with a newline.\n")
        wait_for(lambda: registry.get_sample_value("newsdesk_watcher_restarts_total"), "a stop")

        dropped = time.monotonic()
        (corpus / "world/volcano.txt").write_text(VOLCANO)
        wait_for(
            lambda: "4,000" in client.post("/ask", json={"question": QUESTION}).json()["answer"],
            "the next file to be answerable",
            timeout=15,
        )
        answerable = time.monotonic() - dropped
        wait_for(lambda: ready()["watcher"] == "ok", "the watcher to run again", timeout=15)
        assert ready()["detail"] is None and registry.get_sample_value("newsdesk_watcher_up") == 1

        job = client.post("/reindex", headers=ADMIN).json()  # reads the folder: no new stop
        report = wait_for(
            lambda: client.get(f"/reindex/{job['id']}", headers=ADMIN).json().get("report"),
            "the reindex",
        )
        skipped = {s["path"]: s["reason"] for s in report["skipped"]}
        assert "file name is not valid UTF-8" in skipped["world/latin1-\ufffd\ufffd.txt"]
        assert "control characters" in skipped["world/two\nlines.txt"]
        assert report["added"] == 0 and ready()["articles"] == 7
        time.sleep(1)
        restarts = registry.get_sample_value("newsdesk_watcher_restarts_total")
        assert restarts == 1 and ready()["watcher"] == "ok"
    print_figures(
        capsys,
        "watch: name not UTF-8",
        {"next file answerable after": f"{answerable:.1f} s", "watcher restarts": int(restarts)},
    )


def test_a_watcher_that_keeps_stopping_restarts_ever_later_and_says_so(
    fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from newsdesk.api import watch
    from newsdesk.api.runtime import Runtime

    runtime = Runtime(api_settings(fake_settings, articles_dirs=[corpus], watch=True))
    starts: list[float] = []

    async def stops_at_once(runtime: Runtime, stop: anyio.Event) -> None:
        starts.append(anyio.current_time())
        if len(starts) == 5:
            stop.set()
        raise RuntimeError("Unable to decode path")

    monkeypatch.setattr(watch, "watch_once", stops_at_once)
    monkeypatch.setattr(watch, "RESTART_SECONDS", 0.05)
    monkeypatch.setattr(watch, "MAX_RESTART_SECONDS", 0.2)
    anyio.run(watch.watch_articles, runtime, anyio.Event())

    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= want for g, want in zip(gaps, [0.05, 0.1, 0.2, 0.2], strict=True)), gaps
    assert runtime.watcher.state == "degraded" and runtime.watcher.restarts == 4
    assert "RuntimeError: Unable to decode path" in (runtime.watcher.detail or "")
    scrape = runtime.metrics.registry.get_sample_value
    assert scrape("newsdesk_watcher_up") == 0
    assert scrape("newsdesk_watcher_restarts_total") == 4
