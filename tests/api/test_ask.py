"""POST /ask and /ask/stream over a real engine (test embedder): shape, filters, bad input,
body limit, rate limit, streaming, and failures turned into clean JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import httpx
import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.index.answer.models import NOT_FOUND, Answer
from newsdesk.index.config import Settings
from newsdesk.index.errors import StoreUnavailable
from tests.support.api_support import api_settings, running_app

BRIDGE = "How much will the new harbour bridge cost?"


@pytest.fixture
def client(fake_settings: Settings, corpus: Path) -> Iterator[TestClient]:
    """The app over the fixture corpus, loaded by its lifespan."""
    with running_app(api_settings(fake_settings)) as client:
        client.app.state.runtime.engine.sync([corpus])  # type: ignore[attr-defined]
        yield client


def sse_events(text: str) -> list[tuple[str, object]]:
    """(event, decoded data) pairs of a text/event-stream body."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_ask_answers_exactly_like_the_cli(client: TestClient) -> None:
    response = client.post("/ask", json={"question": BRIDGE})
    assert response.status_code == 200
    body = response.json()
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    # `newsdesk ask --json` prints engine.ask(...).model_dump_json(): the same JSON, plus the
    # conversation the question started and the question searched (itself: a first turn).
    conversation = {"conversation_id": body["conversation_id"], "searched": BRIDGE}
    assert body == {**json.loads(engine.ask(BRIDGE).model_dump_json()), **conversation}
    assert set(body) == {*Answer.model_fields, *Answer.model_computed_fields, *conversation}
    assert body["answered"] and "84 million pounds" in body["answer"]
    assert body["citations"][0]["article_id"] == "world/harbour-bridge.txt"
    assert set(body["citations"][0]) >= {"n", "article_id", "title", "url", "quote", "score"}


def test_top_k_and_filters_restrict_citations(client: TestClient) -> None:
    question = "Where will the Voltra 2nm chip be made?"
    one = client.post("/ask", json={"question": question, "top_k": 1}).json()
    assert [c["article_id"] for c in one["citations"]] == ["chips-1"]

    wire = client.post("/ask", json={"question": question, "filters": {"source": "Tech Wire"}})
    assert {c["source"] for c in wire.json()["citations"]} == {"Tech Wire"}

    # Dates use published_at; undated articles are excluded once a date filter is given.
    dated = client.post(
        "/ask", json={"question": BRIDGE, "filters": {"since": "2025-01-01", "until": "2025-12-31"}}
    ).json()
    cited = {c["article_id"] for c in dated["citations"]}
    assert "world/harbour-bridge.txt" not in cited
    assert all("2025-01-01" <= c["published_at"][:10] <= "2025-12-31" for c in dated["citations"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({}, "question"),
        ({"question": 42}, "question"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "top_k": 21}, "top_k"),
        ({"question": "q", "filters": {"since": "yesterday"}}, "since"),
        ({"question": "q", "filters": {"since": 0}}, "since"),
        ({"question": "q", "filters": {"since": "2025-02-01", "until": "2025-01-01"}}, "filters"),
        ({"question": "q", "filters": {"author": "x"}}, "author"),
        ({"question": "q", "stream": True}, "stream"),
    ],
)
def test_bad_questions_are_422_naming_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    for route in ("/ask", "/ask/stream"):
        response = client.post(route, json=body)
        assert response.status_code == 422, (route, response.text)
        error = response.json()
        assert error["error"] == "unprocessable_entity"
        assert field in error["detail"]
        assert any(field in map(str, e["loc"]) for e in error["errors"]) or field == "filters"
        assert error["request_id"] == response.headers["x-request-id"]


def test_malformed_bodies_are_422_with_a_clear_sentence(client: TestClient) -> None:
    json_type = {"Content-Type": "application/json"}
    broken = client.post("/ask", content=b'{"question": ', headers=json_type)
    assert broken.status_code == 422
    assert "JSON" in broken.json()["detail"]
    not_utf8 = client.post("/ask", content=b'{"question": "\xff\xfe"}', headers=json_type)
    assert not_utf8.status_code == 422
    assert "UTF-8" in not_utf8.json()["detail"]
    untyped = client.post("/ask", content=json.dumps({"question": BRIDGE}))
    assert untyped.status_code == 422
    assert "application/json" in untyped.json()["detail"]


def test_bodies_over_one_megabyte_are_413(client: TestClient) -> None:
    big = json.dumps({"question": "q" * 1_000_000}).encode()
    for route in ("/ask", "/ask/stream", "/feedback"):
        response = client.post(route, content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, route
        assert "1,000,000-byte" in response.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(20):
            yield b"q" * 60_000
        yield b'"}'

    response = client.post("/ask", content=chunked(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    # Just under the limit is read, and judged on its content instead.
    near = json.dumps({"question": "q" * 990_000})
    response = client.post("/ask", content=near, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_rate_limit_answers_429_with_retry_after(fake_settings: Settings) -> None:
    with running_app(api_settings(fake_settings, ask_rate_limit=2)) as client:
        assert client.post("/ask", json={"question": BRIDGE}).status_code == 200
        assert client.post("/ask/stream", json={"question": BRIDGE}).status_code == 200
        limited = client.post("/ask", json={"question": BRIDGE})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "2 a minute" in limited.json()["detail"]
        assert client.post("/ask/stream", json={"question": BRIDGE}).status_code == 429
        assert client.get("/health").status_code == 200  # only the ask routes are limited


def test_stream_sends_citations_then_answer_then_done(client: TestClient) -> None:
    whole = client.post("/ask", json={"question": BRIDGE}).json()
    response = client.post("/ask/stream", json={"question": BRIDGE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    n = len(whole["citations"])
    assert n and kinds[:n] == ["citation"] * n
    assert kinds[-1] == "done" and set(kinds[n:-1]) == {"answer"}
    assert [data for kind, data in events if kind == "citation"] == whole["citations"]
    assert "".join(d["text"] for k, d in events if k == "answer") == whole["answer"]  # type: ignore[index]
    conversation = {"conversation_id": events[-1][1]["conversation_id"], "searched": BRIDGE}  # type: ignore[index]
    assert events[-1][1] == {"answered": True, **conversation}


def test_stream_of_a_refused_question(client: TestClient) -> None:
    events = sse_events(client.post("/ask/stream", json={"question": "Who won in 1966?"}).text)
    done = {"answered": False, "searched": "Who won in 1966?"}
    assert events[:-1] == [("answer", {"text": NOT_FOUND})]
    assert events[-1][0] == "done" and events[-1][1] == {**done, "conversation_id": ANY}


def test_unexpected_error_is_500_with_request_id_and_no_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]

    def broken(*args: object, **kwargs: object) -> Answer:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(engine, "ask", broken)
    monkeypatch.setattr(engine, "ask_stream", broken)
    with caplog.at_level(logging.ERROR, logger="newsdesk.api"):
        response = client.post("/ask", json={"question": BRIDGE})
    assert response.status_code == 500
    body = response.json()
    rid = response.headers["x-request-id"]
    assert body["error"] == "internal_server_error" and body["request_id"] == rid
    assert "secret" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if rid in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback goes to the log

    events = sse_events(client.post("/ask/stream", json={"question": BRIDGE}).text)
    assert [kind for kind, _ in events] == ["error"]
    assert events[0][1]["error"] == "internal_server_error"  # type: ignore[index]
    assert "secret" not in json.dumps(events)


@pytest.mark.parametrize(
    ("failure", "detail"),
    [
        (StoreUnavailable("cannot reach the Chroma server at http://chroma:8000"), "be reached"),
        (httpx.ConnectError("connection refused"), "cannot be reached"),  # went away mid-run
    ],
)
def test_unreachable_store_is_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, failure: Exception, detail: str
) -> None:
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]

    def unreachable(*args: object, **kwargs: object) -> Answer:
        raise failure

    monkeypatch.setattr(engine, "ask", unreachable)
    monkeypatch.setattr(engine, "ask_stream", unreachable)
    response = client.post("/ask", json={"question": BRIDGE})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert detail in response.json()["detail"]
    assert "chroma:8000" not in response.text  # the server's address is for the log only
    events = sse_events(client.post("/ask/stream", json={"question": BRIDGE}).text)
    assert events[0][0] == "error" and events[0][1]["error"] == "service_unavailable"  # type: ignore[index]


def test_before_the_engine_is_loaded_ask_is_503(fake_settings: Settings) -> None:
    client = TestClient(create_app(api_settings(fake_settings)))  # no lifespan: nothing loads
    response = client.post("/ask", json={"question": BRIDGE})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "loading" in response.json()["detail"]
