"""Limits a client cannot talk its way around, against a real uvicorn on loopback configured as
`newsdesk serve` configures it: the feedback route's rate limit, field caps and bounded store;
X-Forwarded-For believed only from trusted proxies; per-user limits for a front end holding the
service token; printable article ids; client errors that name no path or process id; /docs
from shipped files; a bound on request headers; /metrics behind the admin token on request."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from newsdesk.api.feedback import FeedbackStore
from newsdesk.api.schemas import FeedbackIn
from newsdesk.index.articles import iter_source
from newsdesk.index.config import Settings
from tests.support.api_support import TOKEN, api_settings, live_app, wait_for
from tests.support.reliability_support import print_figures

QUESTION = {"question": "How much will the new harbour bridge cost?"}
SERVICE_TOKEN = "service-token-for-the-tests-0123"
DEFAULT_FEEDBACK_LIMIT = Settings.model_fields["feedback_rate_limit"].default


def rating(quote: str = "The bridge will cost 84 million pounds.") -> dict[str, object]:
    citation = {"n": 1, "article_id": "world/harbour-bridge.txt", "title": "Harbour bridge"}
    return {
        "rating": "down",
        "question": QUESTION["question"],
        "answer": "It will cost 84 million pounds. [1]",
        "citations": [{**citation, "quote": quote, "score": 0.9}],
    }


# ----------------------------------------------------------------- feedback


@pytest.mark.e2e
def test_feedback_is_rate_limited_and_its_fields_capped(
    fake_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = api_settings(fake_settings, feedback_rate_limit=DEFAULT_FEEDBACK_LIMIT)
    with live_app(settings) as (url, app), httpx.Client(base_url=url, timeout=60) as http:
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: http.post("/feedback", json=rating()).status_code,
                                     range(500)))  # fmt: skip
        seconds = time.monotonic() - started
        huge = http.post("/feedback", json=rating("x" * 900_000))
        stored = app.state.runtime.feedback.recent(limit=1000, offset=0)
    assert seconds < 60
    assert statuses.count(201) == DEFAULT_FEEDBACK_LIMIT
    assert statuses.count(429) == 500 - DEFAULT_FEEDBACK_LIMIT
    assert huge.status_code in (422, 429)  # field cap, or the limit (checked alone below)
    assert len(stored) == DEFAULT_FEEDBACK_LIMIT
    print_figures(
        capsys,
        "feedback flood",
        {
            "posts": f"500 in {seconds:.1f} s",
            "201": statuses.count(201),
            "429": statuses.count(429),
            "rows kept": len(stored),
        },
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quote", "x" * 900_000),
        ("quote", "x" * 5001),
        ("title", "t" * 1001),
        ("article_id", "a" * 513),
    ],
)
def test_feedback_fields_over_their_cap_are_422(
    fake_settings: Settings, field: str, value: str
) -> None:
    body = rating()
    body["citations"][0][field] = value  # type: ignore[index]
    with live_app(api_settings(fake_settings)) as (url, app):
        response = httpx.post(f"{url}/feedback", json=body, timeout=60)
        assert response.status_code == 422 and field in response.json()["detail"]
        assert app.state.runtime.feedback.recent(limit=10, offset=0) == []


@pytest.mark.parametrize("quote_chars", [10, 400, 4900])
def test_the_feedback_store_file_stays_under_its_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], quote_chars: int
) -> None:
    cap = 100_000  # the smallest the setting allows
    store = FeedbackStore(tmp_path / "feedback.sqlite3", max_bytes=cap)
    count = 300_000 // (quote_chars + 400)  # ~0.3 MB offered, 3 times the cap
    for i in range(count):
        store.add(FeedbackIn.model_validate(rating(f"{i:05d} " + "q" * quote_chars)))
    kept = store.recent(limit=10_000, offset=0)
    file_size = store.path.stat().st_size
    assert file_size <= cap
    assert kept[0].citations[0].quote.startswith(f"{count - 1:05d} ")  # the newest is kept …
    assert [r.id for r in kept] == list(range(kept[0].id, kept[0].id - len(kept), -1))
    assert len(kept) * (quote_chars + 300) > cap / 2  # … with the ones just before it
    print_figures(
        capsys,
        f"feedback store, {quote_chars}-character quotes",
        {"offered": f"{count} ratings", "kept": len(kept), "file": f"{file_size:,} B of {cap:,}"},
    )


def test_a_feedback_store_from_before_the_cap_is_trimmed_too(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as db:  # the schema of before: no auto_vacuum
        db.execute(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,"
            " rating TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,"
            " citations TEXT NOT NULL, comment TEXT)"
        )
        for _ in range(10):
            db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, citations)"
                " VALUES ('2025-01-01', 'up', 'q', ?, '[]')",
                ("a" * 20_000,),
            )
    assert path.stat().st_size > 200_000
    store = FeedbackStore(path, max_bytes=100_000)
    store.add(FeedbackIn.model_validate(rating()))
    kept = store.recent(limit=100, offset=0)
    assert path.stat().st_size <= 100_000
    assert kept[0].answer == rating()["answer"] and 1 < len(kept) < 6  # the newest old ones


# ----------------------------------------------------------------- whom a limit counts


def asks(url: str, count: int, headers: list[dict[str, str]] | None = None) -> list[int]:
    with httpx.Client(base_url=url, timeout=60) as http:
        return [
            http.post("/ask", json=QUESTION, headers=(headers or [{}] * count)[i]).status_code
            for i in range(count)
        ]


def forged(count: int) -> list[dict[str, str]]:
    return [{"X-Forwarded-For": f"203.0.113.{i + 1}"} for i in range(count)]


@pytest.mark.e2e
def test_x_forwarded_for_does_not_change_whom_the_limit_counts(
    fake_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_app(api_settings(fake_settings, ask_rate_limit=3)) as (url, _):
        own = asks(url, 3)
        rotated = asks(url, 10, forged(10))
    assert own == [200, 200, 200]
    assert rotated == [429] * 10
    print_figures(capsys, "X-Forwarded-For, default settings", {"forged addresses let through": 0})


@pytest.mark.e2e
def test_x_forwarded_for_is_believed_from_a_trusted_proxy(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings, ask_rate_limit=3, trusted_proxies=["127.0.0.0/8"])
    with live_app(settings) as (url, _):
        same = asks(url, 4, [{"X-Forwarded-For": "203.0.113.7"}] * 4)
        others = asks(url, 5, forged(5))
    assert same == [200, 200, 200, 429]  # one client behind the proxy
    assert others == [200] * 5  # each its own client


@pytest.mark.e2e
def test_the_service_token_gives_each_user_their_own_limit(fake_settings: Settings) -> None:
    settings = api_settings(fake_settings, ask_rate_limit=2, service_token=SERVICE_TOKEN)
    bearer = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

    def user(name: str) -> dict[str, str]:
        return {**bearer, "X-Newsdesk-User": name}

    with live_app(settings) as (url, _):
        alice = asks(url, 3, [user("discord:1")] * 3)
        bob = asks(url, 2, [user("discord:2")] * 2)
        wrong = asks(url, 1, [{"Authorization": f"Bearer {TOKEN}", "X-Newsdesk-User": "x"}])
        no_token = asks(url, 1, [{"X-Newsdesk-User": "discord:3"}])
        bad_name = asks(url, 1, [user("discord 4")])
        plain = asks(url, 3, [{"Authorization": "Bearer whatever"}] * 3)  # counted by address
    assert alice == [200, 200, 429] and bob == [200, 200]
    assert wrong == [401] and no_token == [401] and bad_name == [422]
    assert plain == [200, 200, 429]


# ----------------------------------------------------------------- ids


CONTROL_IDS = ["wire/\x00", "wire/\x1b[31mred", "wire/\x7f", "wire/\x85x", "wire/a\u2028b", " "]


@pytest.mark.e2e
def test_article_ids_with_control_characters_are_refused(fake_settings: Settings) -> None:
    with live_app(api_settings(fake_settings)) as (url, _):
        admin = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, timeout=60, headers=admin) as http:
            before = http.get("/articles", params={"limit": 100}).json()["items"]
            statuses = [
                http.post(
                    "/articles", json={"id": i, "title": "T", "text": "Some text."}
                ).status_code
                for i in CONTROL_IDS
            ]
            after = http.get("/articles", params={"limit": 100}).json()["items"]
    assert statuses == [422] * len(CONTROL_IDS)
    assert after == before


def test_jsonl_records_with_control_character_ids_are_skipped(tmp_path: Path) -> None:
    import json

    feed = tmp_path / "feed.jsonl"
    lines = [{"id": i, "title": "T", "text": "Some text."} for i in [*CONTROL_IDS, "wire/ok"]]
    feed.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    read = list(iter_source(feed, 1_000_000))
    articles = [item for item in read if hasattr(item, "text")]
    skipped = [item for item in read if not hasattr(item, "text")]
    assert [a.id for a in articles] == ["wire/ok"]
    assert len(skipped) == len(CONTROL_IDS)
    assert all("control characters" in s.reason or "blank" in s.reason for s in skipped)


# ----------------------------------------------------------------- what clients are told


@pytest.fixture
def locked_data_dir(fake_settings: Settings) -> Iterator[Path]:
    """The data dir, its writer lock held by another process."""
    code = (
        "import sys, time; from pathlib import Path; from index.store import writer_lock\n"
        "with writer_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(fake_settings.data_dir)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        yield fake_settings.data_dir
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.e2e
def test_client_errors_name_no_path_or_process_id(
    fake_settings: Settings, locked_data_dir: Path
) -> None:
    served = live_app(api_settings(fake_settings), wait_ready=False)
    with served as (url, _), httpx.Client(base_url=url, timeout=60) as http:

        def locked_ready() -> httpx.Response | None:
            ready = http.get("/ready")
            return ready if "another Newsdesk process" in ready.text else None

        ready = wait_for(locked_ready, "/ready to report the lock")
        ask = http.post("/ask", json=QUESTION)
        page = http.post("/", data={"question": QUESTION["question"]})
    holder_pid = (locked_data_dir / "writer.pid").read_text().strip()
    for response in (ready, ask, page):
        assert response.status_code == 503
        assert str(locked_data_dir) not in response.text
        assert not re.search(rf"\b{holder_pid}\b", response.text)
        assert "pid" not in response.text.lower()


# ----------------------------------------------------------------- /docs, headers, /metrics


@pytest.mark.e2e
def test_docs_are_served_from_shipped_files_with_a_csp(fake_settings: Settings) -> None:
    with live_app(api_settings(fake_settings)) as (url, _), httpx.Client(base_url=url) as http:
        page = http.get("/docs")
        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = {link: http.get(link) for link in linked}
        redoc = http.get("/redoc").status_code
    csp = page.headers["content-security-policy"]
    assert page.status_code == 200 and "default-src 'none'" in csp and "script-src 'self'" in csp
    assert linked and all(urlsplit(link).netloc == "" for link in linked)  # nothing elsewhere
    assert all(r.status_code == 200 for r in assets.values()), {
        k: r.status_code for k, r in assets.items()
    }
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    assert redoc == 404


@pytest.mark.e2e
def test_docs_can_be_turned_off(fake_settings: Settings) -> None:
    with live_app(api_settings(fake_settings, api_docs=False)) as (url, _):
        assert httpx.get(f"{url}/docs").status_code == 404
        assert httpx.get(f"{url}/openapi.json").status_code == 200


def raw_request(url: str, header_bytes: int) -> bytes:
    """Send GET /health with one header of `header_bytes`; what comes back before close."""
    parts = urlsplit(url)
    head = f"GET /health HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Big: ".encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for _ in range(header_bytes // 65536):
                sock.sendall(b"a" * 65536)
            sock.sendall(b"a" * (header_bytes % 65536) + b"\r\nConnection: close\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: that is the bound at work
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


@pytest.mark.e2e
def test_request_headers_are_bounded(
    fake_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_app(api_settings(fake_settings)) as (url, _):
        small = raw_request(url, 1_000)
        big = raw_request(url, 200_000)
        started = time.monotonic()
        huge = raw_request(url, 32_000_000)
        seconds = time.monotonic() - started
    assert small.startswith(b"HTTP/1.1 200")
    assert big.startswith(b"HTTP/1.1 400") and huge.startswith(b"HTTP/1.1 400")
    print_figures(capsys, "header bound", {"32 MB header": f"400 in {seconds * 1000:.0f} ms"})


@pytest.mark.e2e
def test_metrics_can_require_the_admin_token(fake_settings: Settings) -> None:
    with live_app(api_settings(fake_settings, metrics_auth=True)) as (url, _):
        anonymous = httpx.get(f"{url}/metrics").status_code
        admin = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with live_app(api_settings(fake_settings)) as (url, _):
        public = httpx.get(f"{url}/metrics").status_code
    assert anonymous == 401 and admin.status_code == 200 and "newsdesk_" in admin.text
    assert public == 200
