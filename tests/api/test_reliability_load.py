"""Load: a bounded asyncio + httpx generator drives `newsdesk serve` (real model, embedded
Chroma, loopback) for 60 s at a concurrency of 16 with a mix of asks, streamed asks and reads.
Zero errors other than the deliberate 429s of the per-client rate limit; requests/s and
latency percentiles are reported, never asserted."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.api_support import ADMIN, TOKEN, serving, wait_for
from tests.support.reliability_support import (
    PROJECTS,
    TOWNS,
    ms,
    percentile,
    print_figures,
    write_corpus,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]

DURATION = 60.0
CONCURRENCY = 16
REQUEST_TIMEOUT = 30.0
ARTICLES = 200
RATE_LIMIT = 120
"""The default per-client limit on the ask routes."""
NOISY = 4
"""Workers that share one client address and only ask, as fast as they can: the client the
rate limit is for (its 429s are deliberate). The others each have an address of their own and
a mix of asks and reads."""
NOISY_PAUSE = 0.5
"""Seconds a noisy worker waits after a 429 (it ignores Retry-After, but does not spin)."""
FIXED_QUESTIONS = [
    "How much will the new harbour bridge cost?",
    "Where will the Voltra 2nm chip be made?",
    "How fast is the glacier retreating?",
]


@dataclass
class Tally:
    """What the workers saw."""

    seconds: list[float] = field(default_factory=list)
    """Latency of every request answered 200."""
    ask_seconds: list[float] = field(default_factory=list)
    read_seconds: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    limited: Counter[str] = field(default_factory=Counter)
    """429s by client: `noisy` or `polite`."""
    errors: list[str] = field(default_factory=list)


def loopback_addresses() -> list[str]:
    """A source address per worker: the noisy ones share 127.0.0.1, the others have their own
    (127.0.0.2, ...); all 127.0.0.1 where the host cannot bind other loopback addresses."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return ["127.0.0.1"] * CONCURRENCY
    polite = [f"127.0.0.{2 + i}" for i in range(CONCURRENCY - NOISY)]
    return polite + ["127.0.0.1"] * NOISY


def questions() -> list[str]:
    asked = list(FIXED_QUESTIONS)
    for n in range(0, ARTICLES, 7):
        asked.append(f"What did the {TOWNS[n % len(TOWNS)]}-{n} council approve?")
        asked.append(f"How much will the {PROJECTS[n % len(PROJECTS)][0]} cost?")
    return asked


async def worker(
    n: int, url: str, address: str, deadline: float, article_ids: list[str], tally: Tally
) -> None:
    rng = random.Random(1000 + n)
    asked = questions()
    noisy = n >= CONCURRENCY - NOISY
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(
        base_url=url, transport=transport, timeout=REQUEST_TIMEOUT
    ) as http:
        while time.monotonic() < deadline:
            roll = 0.0 if noisy else rng.random()
            if roll < 0.5:
                kind, call = "ask", http.post("/ask", json={"question": rng.choice(asked)})
            elif roll < 0.6:
                kind, call = (
                    "stream",
                    http.post("/ask/stream", json={"question": rng.choice(asked)}),
                )
            elif roll < 0.75:
                kind, call = (
                    "list",
                    http.get("/articles", params={"limit": 5, "offset": rng.randrange(200)}),
                )
            elif roll < 0.85:
                kind, call = "article", http.get(f"/articles/{rng.choice(article_ids)}")
            else:
                kind, call = "probe", http.get(rng.choice(["/health", "/ready", "/stats"]))
            started = time.perf_counter()
            try:
                response = await call
            except httpx.HTTPError as exc:
                tally.errors.append(f"{kind}: {type(exc).__name__} {exc}")
                continue
            seconds = time.perf_counter() - started
            tally.statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                tally.seconds.append(seconds)
            if response.status_code == 429 and kind in ("ask", "stream"):
                tally.limited["noisy" if noisy else "polite"] += 1
                if not response.headers.get("retry-after"):
                    tally.errors.append(f"{kind}: 429 without Retry-After")
                await asyncio.sleep(NOISY_PAUSE)
            elif response.status_code != 200:
                tally.errors.append(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
            elif kind == "stream" and "event: error" in response.text:
                tally.errors.append(f"stream: an error event {response.text[:200]}")
            elif kind == "ask":
                tally.ask_seconds.append(seconds)
            elif kind in ("list", "article", "probe"):
                tally.read_seconds.append(seconds)


async def generate_load(url: str, article_ids: list[str]) -> tuple[Tally, float]:
    tally = Tally()
    addresses = loopback_addresses()
    started = time.monotonic()
    deadline = started + DURATION
    workers = [
        worker(n, url, addresses[n], deadline, article_ids, tally) for n in range(CONCURRENCY)
    ]
    await asyncio.wait_for(asyncio.gather(*workers), DURATION + REQUEST_TIMEOUT + 30)
    return tally, time.monotonic() - started


def test_sixty_seconds_at_concurrency_16(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "corpus", folder)
    write_corpus(folder, ARTICLES, prefix="council")
    env = {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_ADMIN_TOKEN": TOKEN,
        "NEWSDESK_ARTICLES_DIRS": str(folder),
        "NEWSDESK_ASK_RATE_LIMIT": str(RATE_LIMIT),
    }
    with serving(tmp_path, env) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        job = http.post("/reindex", headers=ADMIN).json()

        def finished() -> bool:
            return http.get(f"/reindex/{job['id']}", headers=ADMIN).json()["status"] != "running"

        wait_for(finished, "the corpus to be indexed", timeout=600)
        article_ids = [
            a["id"] for a in http.get("/articles", params={"limit": 200}).json()["items"]
        ]
        for question in FIXED_QUESTIONS:  # warm up
            assert http.post("/ask", json={"question": question}).status_code == 200
        tally, seconds = asyncio.run(generate_load(server.url, article_ids))
        assert http.get("/health").status_code == 200  # still up

    total = sum(tally.statuses.values()) + len(tally.errors)
    assert tally.errors == [], tally.errors[:10]
    assert set(tally.statuses) <= {"200", "429"}
    print_figures(
        capsys,
        "load",
        {
            "duration": f"{seconds:.0f} s at concurrency {CONCURRENCY}",
            "requests": total,
            "requests/s": f"{total / seconds:.1f} ({len(tally.seconds) / seconds:.1f} served 200)",
            "p50 / p95 / p99 (200s)": " / ".join(
                ms(percentile(tally.seconds, p)) for p in (50, 95, 99)
            ),
            "POST /ask (200) p50 / p95 / p99": " / ".join(
                ms(percentile(tally.ask_seconds, p)) for p in (50, 95, 99)
            ),
            "reads p50 / p95": " / ".join(ms(percentile(tally.read_seconds, p)) for p in (50, 95)),
            "statuses": dict(sorted(tally.statuses.items())),
            "429 by client": dict(tally.limited) or "none",
            "errors other than 429": len(tally.errors),
            "clients": len(set(loopback_addresses())),
        },
    )
