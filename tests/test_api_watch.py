"""`serve --watch`: files that appear, change or disappear in the article folder are re-synced."""

from __future__ import annotations

from pathlib import Path

import pytest
from watchfiles import Change

from api.watch import ArticleFilter
from index.config import Settings
from tests.api_support import api_settings, running_app, wait_for

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
