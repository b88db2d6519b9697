"""Article routes: list and open what was cited; add, replace and delete one article (admin)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from llama_index.core.utils import get_tokenizer

from newsdesk.index.config import Settings
from tests.index.test_sync import tripping_punkt
from tests.support.api_support import ADMIN, api_settings, running_app

FIXTURE_IDS = {
    "chips-1",
    "chips-2",
    "tech/robot-vacuum.html",
    "world/cafe-latin1.txt",
    "world/glacier.md",
    "world/harbour-bridge.txt",
}
LIGHTHOUSE = {
    "id": "wire/kerlaz-lighthouse",
    "title": "Kerlaz lighthouse to be restored",
    "text": "The regional council said on Friday that restoring the Kerlaz lighthouse will "
    "cost 3.4 million euros. Work starts in May and the lamp will shine again in 2027.",
    "url": "https://example.org/kerlaz",
    "published_at": "2025-05-02",
    "authors": ["Anne Le Goff"],
    "source": "Ouest Wire",
    "extra": {"section": "regions"},
}
QUESTION = "How much will restoring the Kerlaz lighthouse cost?"


@pytest.fixture
def client(fake_settings: Settings, corpus: Path) -> Iterator[TestClient]:
    with running_app(api_settings(fake_settings, articles_dirs=[corpus])) as client:
        client.app.state.runtime.engine.sync([corpus])  # type: ignore[attr-defined]
        yield client


def count(client: TestClient) -> int:
    return int(client.get("/ready").json()["articles"])


def cited(client: TestClient, question: str) -> list[str]:
    answer = client.post("/ask", json={"question": question}).json()
    return [c["article_id"] for c in answer["citations"]]


def test_pages_cover_every_article_once(client: TestClient) -> None:
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/articles", params={"limit": 4, "offset": offset}).json()
        assert len(page["items"]) <= 4
        seen += [item["id"] for item in page["items"]]
        offset = page["next_offset"]
    assert sorted(seen) == sorted(FIXTURE_IDS)

    wire = client.get("/articles", params={"source": "Tech Wire"}).json()
    assert {item["id"] for item in wire["items"]} == {"chips-1", "chips-2"}
    assert wire["items"][0]["authors"] == ["Lena Vogt"]
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"source": ""}):
        assert client.get("/articles", params=bad).status_code == 422


def test_an_article_with_slashes_in_its_id_opens_with_its_cited_quote(client: TestClient) -> None:
    answer = client.post("/ask", json={"question": "How much will the harbour bridge cost?"})
    citation = answer.json()["citations"][0]
    assert citation["article_id"] == "world/harbour-bridge.txt"
    article = client.get(f"/articles/{citation['article_id']}").json()
    assert article["id"] == "world/harbour-bridge.txt"
    assert article["title"] == "Council approves new harbour bridge"
    assert citation["quote"] in article["text"]
    assert client.get("/articles/world%2Fharbour-bridge.txt").json()["id"] == article["id"]
    missing = client.get("/articles/world/nope.txt")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no article with id 'world/nope.txt' is indexed"


def test_post_makes_an_article_answerable_then_replace_then_delete(client: TestClient) -> None:
    added = client.post("/articles", json=LIGHTHOUSE, headers=ADMIN)
    assert added.status_code == 201
    assert added.json()["status"] == "added" and added.json()["chunks"] >= 1
    assert cited(client, QUESTION)[0] == LIGHTHOUSE["id"]  # answerable on return
    stored = client.get(f"/articles/{LIGHTHOUSE['id']}").json()
    assert stored["source"] == "Ouest Wire" and stored["extra"] == {"section": "regions"}
    assert stored["published_at"] == "2025-05-02" and stored["authors"] == ["Anne Le Goff"]

    again = client.post("/articles", json=LIGHTHOUSE, headers=ADMIN)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"

    changed = {**LIGHTHOUSE, "text": LIGHTHOUSE["text"].replace("3.4 million", "5.1 million")}
    updated = client.post("/articles", json=changed, headers=ADMIN)
    assert updated.status_code == 200 and updated.json()["status"] == "updated"
    answer = client.post("/ask", json={"question": QUESTION}).json()
    assert "5.1 million" in answer["answer"] and "3.4 million" not in answer["answer"]

    assert client.delete(f"/articles/{LIGHTHOUSE['id']}", headers=ADMIN).status_code == 204
    assert client.get(f"/articles/{LIGHTHOUSE['id']}").status_code == 404
    assert LIGHTHOUSE["id"] not in cited(client, QUESTION)
    assert client.delete(f"/articles/{LIGHTHOUSE['id']}", headers=ADMIN).status_code == 404
    assert count(client) == len(FIXTURE_IDS)


def test_an_article_without_id_gets_a_stable_one_from_its_url(client: TestClient) -> None:
    body = {k: v for k, v in LIGHTHOUSE.items() if k != "id"}
    first = client.post("/articles", json=body, headers=ADMIN).json()
    assert first["id"].startswith("api/")
    edited = {**body, "title": "Kerlaz lighthouse restoration approved"}
    second = client.post("/articles", json=edited, headers=ADMIN).json()
    assert (second["id"], second["status"]) == (first["id"], "updated")
    assert count(client) == len(FIXTURE_IDS) + 1


def test_folder_articles_are_not_replaced_through_the_api(client: TestClient) -> None:
    before = client.get("/articles/world/glacier.md").json()
    response = client.post(
        "/articles", json={**LIGHTHOUSE, "id": "world/glacier.md"}, headers=ADMIN
    )
    assert response.status_code == 409
    assert "article folder" in response.json()["detail"]
    assert client.get("/articles/world/glacier.md").json() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "  \n "}, "text"),
        ({"text": "Source link"}, "no text"),  # only boilerplate: empty once cleaned
        ({"title": ""}, "title"),
        ({"published_at": "2025-13-45"}, "published_at"),
        ({"published_at": "next Tuesday"}, "published_at"),
        ({"id": "   "}, "id"),
        ({"id": "a\nb"}, "id"),
        ({"authors": "Anne"}, "authors"),
        ({"extra": {"title": "x"}}, "extra"),
        ({"extra": {"nested": {"a": 1}}}, "extra"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_articles_are_422_and_change_nothing(
    client: TestClient, change: dict[str, object], field: str
) -> None:
    response = client.post("/articles", json={**LIGHTHOUSE, **change}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert count(client) == len(FIXTURE_IDS)


def test_non_finite_numbers_are_refused(client: TestClient) -> None:
    body = b'{"title": "t", "text": "some text", "extra": {"ratio": NaN}}'
    response = client.post(
        "/articles", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert count(client) == len(FIXTURE_IDS)


def test_a_headline_longer_than_a_chunk_is_still_indexed(client: TestClient) -> None:
    title = "Kerlaz " * 140  # 980 characters, over 400 tokens: more than a whole chunk
    assert len(get_tokenizer()(title)) > client.app.state.runtime.settings.chunk_size  # type: ignore[attr-defined]
    response = client.post("/articles", json={**LIGHTHOUSE, "title": title}, headers=ADMIN)
    assert response.status_code == 201
    assert cited(client, QUESTION)[0] == LIGHTHOUSE["id"]


def test_an_article_the_sentence_splitter_fails_on_is_422_not_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tripping_punkt(monkeypatch, "Sardines.")
    body = {**LIGHTHOUSE, "id": "wire/sardines", "text": "Sardines. " * 50}
    response = client.post("/articles", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "cannot be split into sentences (TimeoutError" in response.json()["detail"]
    assert count(client) == len(FIXTURE_IDS)


@pytest.mark.slow
def test_a_megabyte_of_one_word_sentences_is_indexed_under_a_tight_regex_guard(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'Sardines. ' * 99,990 gave a 500 after 5.5 s (NLTK's 5 s regex guard); a 1 s guard
    stands for a machine five times slower than an idle one."""
    import nltk.redos

    monkeypatch.setattr(nltk.redos, "DEFAULT_TIMEOUT", 1.0)
    body = {"id": "wire/sardines", "title": "Sardines", "text": "Sardines. " * 99_990}
    response = client.post("/articles", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert client.get("/articles/wire/sardines").json()["text"] == body["text"].strip()
