"""The service around the routes: lifespan and readiness, the writer lock, an engine given by
the caller (the bot's in-process use), metrics, request ids and logs, client disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsdesk.api.app import create_app
from newsdesk.api.logs import JsonFormatter
from newsdesk.bot.api_client import open_engine
from newsdesk.index import embeddings
from newsdesk.index.answer.models import Answer
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from newsdesk.index.errors import IndexLocked
from newsdesk.index.store import writer_lock
from tests.support.api_support import (
    api_settings,
    live_app,
    newsdesk_command,
    running_app,
    wait_for,
)

BRIDGE = "How much will the new harbour bridge cost?"


def test_health_is_up_at_once_and_ready_only_once_loaded(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings)
    unloaded = TestClient(create_app(settings))  # no lifespan: the engine never loads
    assert unloaded.get("/health").json() == {"status": "ok"}
    not_ready = unloaded.get("/ready")
    assert not_ready.status_code == 503 and not_ready.headers["retry-after"]
    assert "loading" in not_ready.json()["detail"]
    with running_app(settings) as client:
        ready = client.get("/ready").json()
        assert ready["status"] == "ready" and ready["articles"] == 0


def test_the_model_loads_before_ready_not_in_the_first_question(
    fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings(fake_settings)
    Engine(settings).sync([corpus])  # an index exists: opening it alone needs no model
    loads: list[Settings] = []
    build = embeddings.build_embedder
    monkeypatch.setattr(embeddings, "build_embedder", lambda s: loads.append(s) or build(s))
    with running_app(settings):
        assert len(loads) == 1
    open_engine(settings).close()  # the bot's in-process API
    assert len(loads) == 2


def test_ready_is_503_when_the_store_cannot_be_reached(
    fake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_app(api_settings(fake_settings)) as client:
        store = client.app.state.runtime.engine._store  # type: ignore[attr-defined]

        def down() -> dict[str, int]:
            raise httpx.ConnectError("connection refused")

        monkeypatch.setattr(store, "counts", down)
        response = client.get("/ready")
        assert response.status_code == 503 and response.headers["retry-after"]
        assert response.json()["detail"] == "the store cannot be reached"


def test_the_server_owns_the_writer_lock_while_it_runs(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings)
    with running_app(settings), pytest.raises(IndexLocked), writer_lock(settings.data_dir):
        pass  # e.g. `newsdesk ingest` on the same data dir is refused
    with writer_lock(settings.data_dir):  # released at shutdown
        pass


def test_waits_for_a_busy_writer_then_becomes_ready(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings)
    with ExitStack() as other_process:
        other_process.enter_context(writer_lock(settings.data_dir))  # e.g. a running ingest
        with TestClient(create_app(settings)) as client:
            wait_for(
                lambda: "another Newsdesk process" in client.get("/ready").json()["detail"],
                "the lock to be reported",
            )
            assert client.post("/ask", json={"question": BRIDGE}).status_code == 503
            other_process.close()  # the other writer finishes
            wait_for(lambda: client.get("/ready").status_code == 200, "ready after release")


def test_a_model_that_cannot_load_is_reported_not_retried(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings, embed_model="/no/such/model")
    with TestClient(create_app(settings)) as client:

        def load_error() -> str | None:
            detail = client.get("/ready").json()["detail"]
            return None if "still loading" in detail else detail  # type: ignore[no-any-return]

        detail = wait_for(load_error, "the load error")
        assert "misconfigured" in detail and "/no/such/model" not in detail  # the log has it
        assert client.get("/health").status_code == 200
        ask = client.post("/ask", json={"question": BRIDGE})
        assert ask.status_code == 503 and ask.json()["detail"] == f"not ready: {detail}"


def test_an_engine_given_by_the_caller_answers_without_a_lifespan(
    fake_settings: Settings, corpus: Path
) -> None:
    settings = api_settings(fake_settings)
    engine = Engine(settings)
    engine.sync([corpus])

    async def ask_in_process() -> dict[str, object]:
        transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://newsdesk") as http:
            assert (await http.get("/ready")).status_code == 200
            response = await http.post("/ask", json={"question": BRIDGE})
            return response.json()  # type: ignore[no-any-return]

    answer = asyncio.run(ask_in_process())
    conversation = {"conversation_id": answer["conversation_id"], "searched": BRIDGE}
    assert answer == {**json.loads(engine.ask(BRIDGE).model_dump_json()), **conversation}
    with writer_lock(settings.data_dir):  # a given engine's lock stays the caller's business
        pass


def test_metrics_count_requests_answers_and_the_index(
    fake_settings: Settings, corpus: Path
) -> None:
    with running_app(api_settings(fake_settings)) as client:
        client.app.state.runtime.engine.sync([corpus])  # type: ignore[attr-defined]
        client.post("/ask", json={"question": BRIDGE})
        client.post("/ask", json={"question": BRIDGE})
        client.post("/ask", json={"question": "Who won the football World Cup in 1966?"})
        client.get("/articles/no/such/article")
        response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    ask = (("method", "POST"), ("route", "/ask"))
    assert samples[("newsdesk_http_requests_total", (*ask, ("status", "200")))] == 3
    assert samples[("newsdesk_http_request_duration_seconds_count", ask)] == 3
    assert samples[("newsdesk_answers_total", (("outcome", "answered"),))] == 2
    assert samples[("newsdesk_answers_total", (("outcome", "refused"),))] == 1
    assert samples[("newsdesk_articles", ())] == 6
    assert samples[("newsdesk_chunks", ())] >= 6
    assert samples[("newsdesk_ready", ())] == 1
    article = (("method", "GET"), ("route", "/articles/{article_id:path}"), ("status", "404"))
    assert samples[("newsdesk_http_requests_total", article)] == 1


def test_one_structured_log_line_per_request_with_its_id(
    fake_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with running_app(api_settings(fake_settings)) as client:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="newsdesk.access"):
            kept = client.get("/health", headers={"X-Request-ID": "bot-42.a"})
            made = client.get("/articles/missing", headers={"X-Request-ID": "bad id\x7f"})
    assert kept.headers["x-request-id"] == "bot-42.a"
    assert made.headers["x-request-id"] != "bad id\x7f" and len(made.headers["x-request-id"]) == 32
    lines = [r for r in caplog.records if r.name == "newsdesk.access"]
    assert [(r.method, r.path, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("GET", "/health", 200),
        ("GET", "/articles/missing", 404),
    ]
    assert lines[1].request_id == made.headers["x-request-id"]  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(lines[1]))
    assert line["status"] == 404 and line["latency_ms"] >= 0 and line["level"] == "info"
    assert line["request_id"] == made.headers["x-request-id"]


@pytest.mark.e2e
def test_a_client_that_disconnects_stops_the_stream(
    fake_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_app(api_settings(fake_settings)) as (url, app):
        runtime = app.state.runtime
        runtime.engine.sync([corpus])
        registry = runtime.metrics.registry
        answered = {"outcome": "answered"}
        entered, gate, left = threading.Event(), threading.Event(), threading.Event()
        original = runtime.engine.ask_stream

        def slow_ask(*args: object, **kwargs: object) -> Iterator[str | Answer]:
            entered.set()
            gate.wait(60)
            pieces = list(original(*args, **kwargs))  # type: ignore[arg-type]
            left.set()
            yield from pieces

        monkeypatch.setattr(runtime.engine, "ask_stream", slow_ask)
        with httpx.stream("POST", f"{url}/ask/stream", json={"question": BRIDGE}) as response:
            assert response.status_code == 200
            wait_for(entered.is_set, "the answer to be under way")
        # The client is gone: the server ends the request, then the answer becomes ready.
        labels = {"method": "POST", "route": "/ask/stream", "status": "200"}
        wait_for(
            lambda: registry.get_sample_value("newsdesk_http_requests_total", labels),
            "the server to end the request",
        )
        gate.set()
        wait_for(left.is_set, "the answer to finish")
        assert httpx.get(f"{url}/health").status_code == 200  # let the server's loop run
        assert registry.get_sample_value("newsdesk_answers_total", answered) is None

        # The same request read to the end is answered and counted.
        with httpx.stream("POST", f"{url}/ask/stream", json={"question": BRIDGE}) as response:
            assert "event: done" in response.read().decode()
        assert registry.get_sample_value("newsdesk_answers_total", answered) == 1


@pytest.mark.e2e
def test_serve_refuses_to_watch_without_folders(tmp_path: Path) -> None:
    result = subprocess.run(
        [*newsdesk_command(), "serve", "--watch"],
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # the code under test
            "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert "error: --watch needs article folders: set NEWSDESK_ARTICLES_DIRS=" in message


def test_a_log_record_stays_one_line_whatever_the_path_holds() -> None:
    path = "/feeds/a\u2028b\x85c\u2029d\ne"
    record = logging.makeLogRecord({"msg": "GET %s", "args": (path,), "levelname": "INFO"})
    text = JsonFormatter().format(record)
    assert len(text.splitlines()) == 1
    assert json.loads(text)["message"] == f"GET {path}"
