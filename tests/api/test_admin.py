"""Admin auth (none configured / wrong / right), background reindex jobs, and feedback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from newsdesk.api.routes import articles as articles_routes
from newsdesk.index.config import Settings
from newsdesk.index.errors import SourceNotFound
from tests.support.api_support import ADMIN, TOKEN, api_settings, running_app, wait_for

ADMIN_ROUTES = [
    ("POST", "/articles", {"title": "t", "text": "some text"}),
    ("DELETE", "/articles/world/glacier.md", None),
    ("POST", "/reindex", None),
    ("GET", "/reindex/0123456789abcdef", None),
    ("GET", "/feedback", None),
]
FEEDBACK = {
    "rating": "down",
    "question": "How much will the new harbour bridge cost?",
    "answer": "I could not find this in the articles.",
    "citations": [],
    "comment": "The bridge article says 84 million pounds.",
}


@pytest.fixture
def settings(fake_settings: Settings, corpus: Path) -> Settings:
    return api_settings(fake_settings, articles_dirs=[corpus])


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with running_app(settings) as client:
        yield client


def finished(client: TestClient, job_id: str) -> dict[str, Any]:
    """The reindex job once it is no longer running."""

    def check() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/reindex/{job_id}", headers=ADMIN).json()
        return None if job["status"] == "running" else job

    return wait_for(check, f"reindex job {job_id} to finish")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_are_403_while_no_token_is_configured(
    fake_settings: Settings, method: str, path: str, body: Any
) -> None:
    with running_app(api_settings(fake_settings, admin_token=None)) as client:
        for headers in ({}, ADMIN):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403
            assert "set NEWSDESK_ADMIN_TOKEN" in response.json()["detail"]
        assert client.get("/articles").status_code == 200  # public routes still work


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_the_right_token(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    for authorization in (None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", TOKEN):
        headers = {"Authorization": authorization} if authorization else {}
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, authorization
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["detail"]
    response = client.request(method, path, json=body, headers=ADMIN)
    assert response.status_code not in (401, 403)


def test_admin_tokens_shorter_than_16_characters_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(admin_token="letmein", _env_file=None)
    assert Settings(admin_token="", _env_file=None).admin_token is None


def test_reindex_runs_in_the_background_while_questions_are_answered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    inside, release = threading.Event(), threading.Event()
    sync_one_source = engine._indexer.sync

    def gated(*args: Any, **kwargs: Any) -> Any:  # runs under the engine's writer lock
        inside.set()
        release.wait(60)
        return sync_one_source(*args, **kwargs)

    monkeypatch.setattr(engine._indexer, "sync", gated)
    started = client.post("/reindex", headers=ADMIN)
    assert started.status_code == 202
    job = started.json()
    assert (job["status"], job["trigger"]) == ("running", "admin")
    wait_for(inside.is_set, "the sync to hold the writer lock")

    second = client.post("/reindex", headers=ADMIN)
    assert second.status_code == 409
    assert job["id"] in second.json()["detail"]
    ask = client.post("/ask", json={"question": "How much will the new harbour bridge cost?"})
    assert ask.status_code == 200  # queries keep working during the sync
    assert client.get(f"/reindex/{job['id']}", headers=ADMIN).json()["status"] == "running"
    monkeypatch.setattr(articles_routes, "WRITE_WAIT_SECONDS", 0.2)
    write = client.post("/articles", json={"title": "t", "text": "Some text."}, headers=ADMIN)
    assert write.status_code == 409 and write.headers["retry-after"]  # refused, not hanging
    assert client.delete("/articles/chips-1", headers=ADMIN).status_code == 409

    release.set()
    done = finished(client, job["id"])
    assert done["status"] == "succeeded" and done["finished_at"]
    assert (done["done"], done["total"]) == (6, 6)
    assert done["report"]["added"] == 6 and len(done["report"]["skipped"]) == 4
    answer = client.post("/ask", json={"question": "How much will the new harbour bridge cost?"})
    assert answer.json()["citations"][0]["article_id"] == "world/harbour-bridge.txt"

    again = client.post("/reindex", headers=ADMIN).json()  # no longer busy; nothing changed
    final = finished(client, again["id"])
    assert final["report"]["unchanged"] == 6 and final["report"]["added"] == 0


def test_a_failed_reindex_reports_why(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]

    def vanished(*args: Any, **kwargs: Any) -> Any:
        raise SourceNotFound("no such file or folder: /articles")

    monkeypatch.setattr(engine, "sync", vanished)
    job = client.post("/reindex", headers=ADMIN).json()
    failed = finished(client, job["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "no such file or folder: /articles"
    assert client.post("/reindex", headers=ADMIN).status_code == 202  # not stuck busy


def test_reindex_needs_existing_configured_folders(fake_settings: Settings, tmp_path: Path) -> None:
    with running_app(api_settings(fake_settings)) as client:
        response = client.post("/reindex", headers=ADMIN)
        assert response.status_code == 409
        assert "NEWSDESK_ARTICLES_DIRS" in response.json()["detail"]
    gone = tmp_path / "gone"
    with running_app(api_settings(fake_settings, articles_dirs=[gone])) as client:
        response = client.post("/reindex", headers=ADMIN)
        assert response.status_code == 409 and str(gone) in response.json()["detail"]
        assert client.get("/reindex/unknown", headers=ADMIN).status_code == 404


def test_feedback_is_kept_in_the_data_dir_for_review(
    client: TestClient, settings: Settings
) -> None:
    answer = client.post("/ask", json={"question": FEEDBACK["question"]}).json()
    up = {"rating": "up", "question": answer["question"], "answer": answer["answer"]}
    first = client.post("/feedback", json={**up, "citations": answer["citations"]})
    assert first.status_code == 201
    second = client.post("/feedback", json=FEEDBACK)
    assert second.status_code == 201 and second.json()["id"] > first.json()["id"]
    for bad in (
        {**FEEDBACK, "rating": "meh"},
        {**FEEDBACK, "question": ""},
        {**FEEDBACK, "comment": "x" * 2001},
        {k: v for k, v in FEEDBACK.items() if k != "rating"},
    ):
        assert client.post("/feedback", json=bad).status_code == 422

    listed = client.get("/feedback", headers=ADMIN).json()
    assert [item["rating"] for item in listed["items"]] == ["down", "up"]  # newest first
    assert listed["items"][1]["citations"] == answer["citations"]
    downs = client.get("/feedback", params={"rating": "down"}, headers=ADMIN).json()
    assert [item["comment"] for item in downs["items"]] == [FEEDBACK["comment"]]
    page = client.get("/feedback", params={"limit": 1}, headers=ADMIN).json()
    assert len(page["items"]) == 1 and page["next_offset"] == 1
