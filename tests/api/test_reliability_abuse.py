"""API abuse against a real uvicorn on loopback: every admin operation of the OpenAPI schema
refuses wrong, empty and prefix tokens (401); every POST refuses oversized bodies, declared or
streamed (413); the ask routes rate-limit per client (429 + Retry-After). Schemathesis over the
whole schema, with and without the token, is tests/api/test_schemathesis.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsdesk.index.config import Settings
from tests.support.api_support import TOKEN, api_settings, live_app
from tests.support.reliability_support import print_figures

pytestmark = pytest.mark.e2e

LIMIT = 1_000_000
BAD_TOKENS: list[str | None] = [
    None,  # no Authorization header
    "",
    "Bearer",  # an empty token ("Bearer " is the same header: trailing spaces are dropped)
    "Bearer \t" + TOKEN[:-1],
    "Bearer " + TOKEN[:1],
    "Bearer " + TOKEN[:16],
    "Bearer " + TOKEN[:-1],  # every prefix would do: compared in constant time, whole
    "Bearer " + TOKEN + "x",
    "Bearer x" + TOKEN,
    "Bearer " + TOKEN.upper(),
    "Bearer " + TOKEN + TOKEN,
    "Bearer " + TOKEN + "," + TOKEN,
    "Bearer " + TOKEN[:-1] + "\u00e9",  # not ASCII (sent as Latin-1 bytes)
    "Bearer " + "A" * 10_000,
    "Basic " + TOKEN,
    "Token " + TOKEN,
    TOKEN,
]


def admin_operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation documented as needing the token (a 401 response),
    with path parameters filled in."""
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "401" in operation.get("responses", {}):
                concrete = path.replace("{article_id}", "world/glacier.md").replace(
                    "{job_id}", "0123456789abcdef"
                )
                found.append((method.upper(), concrete))
    return found


def body_for(method: str, path: str) -> bytes | None:
    if method != "POST":
        return None
    return json.dumps({"title": "t", "text": "Some text."}).encode() if path == "/articles" else b""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import shutil

    from newsdesk.index.embeddings import TEST_MODEL

    root = tmp_path_factory.mktemp("abuse")
    corpus = shutil.copytree(Path(__file__).parents[1] / "fixtures" / "corpus", root / "corpus")
    base = Settings(data_dir=root / "data", embed_model=TEST_MODEL, _env_file=None)
    with live_app(api_settings(base, articles_dirs=[corpus])) as (url, _):
        yield url


def test_wrong_empty_and_prefix_tokens_are_401_on_every_admin_operation(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        operations = admin_operations(http.get("/openapi.json").json())
        assert len(operations) >= 5
        tried, wrong = 0, []
        for method, path in operations:
            for token in BAD_TOKENS:
                headers = [] if token is None else [(b"authorization", token.encode("latin-1"))]
                headers.append((b"content-type", b"application/json"))
                response = http.request(
                    method, path, content=body_for(method, path), headers=headers
                )
                tried += 1
                if response.status_code != 401 or "www-authenticate" not in response.headers:
                    wrong.append(f"{method} {path} {token!r:.40}: {response.status_code}")
            right = http.request(
                method,
                path,
                content=body_for(method, path),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert right.status_code not in (401, 403), (method, path, right.text)
    assert wrong == [], wrong
    print_figures(
        capsys,
        "API abuse: tokens",
        {
            "admin operations": len(operations),
            "bad tokens": len(BAD_TOKENS),
            "requests": tried,
            "401": tried - len(wrong),
            "failures": len(wrong),
        },
    )


def chunked(size: int) -> Iterator[bytes]:
    """A JSON body of about `size` bytes sent without Content-Length."""
    yield b'{"question": "'
    for _ in range(size // 65_536 + 1):
        yield b"q" * 65_536
    yield b'"}'


def test_oversized_bodies_are_413_on_every_post(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with httpx.Client(base_url=server, timeout=60) as http:
        schema = http.get("/openapi.json").json()
        posts = {
            path: "requestBody" in item["post"]
            for path, item in schema["paths"].items()
            if "post" in item
        }
        assert {"/ask", "/ask/stream", "/articles", "/feedback", "/reindex"} <= set(posts)
        tried, wrong = 0, []
        big = b'{"question": "' + b"q" * (LIMIT + 1) + b'"}'
        for path, reads_body in posts.items():
            # A declared oversize is refused up front; a streamed one as the route reads it
            # (a route without a body never reads it: POST /reindex).
            for auth in ({}, {"Authorization": f"Bearer {TOKEN}"}):
                json_type = {"Content-Type": "application/json", **auth}
                streamed = [chunked(LIMIT + 1), chunked(20 * LIMIT)] if reads_body else []
                for body in [big, *streamed]:
                    response = http.post(path, content=body, headers=json_type)
                    tried += 1
                    if response.status_code != 413:
                        wrong.append(f"POST {path} {auth and 'admin'}: {response.status_code}")
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # the web page's form
        for body in (b"question=" + b"q" * LIMIT, b"question=" + b"q" * (20 * LIMIT)):
            response = http.post("/", content=body, headers=form)
            tried += 1
            if response.status_code != 413:
                wrong.append(f"POST / (form): {response.status_code}")
    assert wrong == [], wrong
    print_figures(
        capsys,
        "API abuse: oversized bodies",
        {
            "POST operations": f"{len(posts)} + the web form",
            "requests": tried,
            "413": tried - len(wrong),
            "failures": len(wrong),
        },
    )


def test_rate_limit_is_429_with_retry_after_per_client(
    tmp_path: Path, fake_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    per_minute = 5
    settings = api_settings(fake_settings, ask_rate_limit=per_minute)
    question = {"question": "How much will the new harbour bridge cost?"}
    with live_app(settings) as (url, _), httpx.Client(base_url=url, timeout=60) as http:

        def ask(route: str) -> httpx.Response:
            return http.post(route, json=question)

        with ThreadPoolExecutor(8) as pool:  # a burst of 24, concurrent
            burst = list(pool.map(ask, ["/ask", "/ask/stream"] * 12))
        statuses = [r.status_code for r in burst]
        limited = [r for r in burst if r.status_code == 429]
        retry_after = sorted({int(r.headers["retry-after"]) for r in limited})
        others = [http.get(p).status_code for p in ("/health", "/ready", "/articles", "/stats")]
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        try:
            with httpx.Client(base_url=url, timeout=60, transport=transport) as elsewhere:
                other_client = elsewhere.post("/ask", json=question).status_code
        except httpx.ConnectError:  # no 127.0.0.2 on this host's loopback
            other_client = 200
    assert statuses.count(200) == per_minute and len(limited) == len(burst) - per_minute
    assert retry_after and all(1 <= s <= 60 for s in retry_after)
    assert all("a minute" in r.json()["detail"] for r in limited)
    assert others == [200, 200, 200, 200]  # only the ask routes are limited
    assert other_client == 200  # per client
    print_figures(
        capsys,
        "API abuse: rate limit",
        {
            "burst": f"{len(burst)} asks at {per_minute}/min",
            "200": statuses.count(200),
            "429 with Retry-After": len(limited),
            "Retry-After": f"{retry_after[0]}-{retry_after[-1]} s",
            "failures": 0,
        },
    )
