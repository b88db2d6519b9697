"""Serving during a sync: POST /reindex of a few hundred articles (real model, embedded Chroma,
uvicorn in this process) while a client asks without pause: no errors, and answers about the
articles indexed before keep coming. Latency before and during is reported, never asserted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL
from newsdesk.index.engine import Engine
from newsdesk.index.store import Store
from tests.support.api_support import ADMIN, api_settings, live_app
from tests.support.reliability_support import (
    TOWNS,
    ms,
    percentile,
    print_figures,
    write_article,
    write_corpus,
)

KNOWN = [
    (
        "wire/kerlaz-lighthouse.txt",
        "Kerlaz lighthouse to be restored",
        "The regional council of Finistere approved the restoration of the Kerlaz lighthouse on "
        "Friday. Restoring the lighthouse will cost 3.4 million euros, paid by the region and "
        "the state.\nWork starts in May and the lamp will shine again in the summer of 2027.",
        "How much will restoring the Kerlaz lighthouse cost?",
        "3.4 million euros",
    ),
    (
        "wire/orchard-robots.txt",
        "Robots pick apples in Vellmar orchards",
        "Fruit growers in Vellmar tested apple-picking robots this autumn. The robots picked "
        "1,200 apples an hour, about as many as four seasonal workers.\nThe growers' "
        "cooperative plans to buy twelve of them next year.",
        "How many apples an hour did the robots in Vellmar pick?",
        "1,200 apples an hour",
    ),
    (
        "wire/glass-museum.txt",
        "Glass museum reopens in Lauscha",
        "The glass museum in Lauscha reopened on Sunday after a two-year renovation. The new "
        "roof and climate control cost 6.1 million euros.\nVisitors can watch glassblowers at "
        "work every afternoon.",
        "How much did the renovation of the Lauscha glass museum cost?",
        "6.1 million euros",
    ),
]
SYNC_ARTICLES = 300
SYNC_DEADLINE = 600.0
"""Seconds the full sync may take before the test gives up (a bound, not a speed check)."""


def finished_job(http: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = http.get(f"/reindex/{job_id}", headers=ADMIN).json()
    return None if job["status"] == "running" else job


def ask(http: httpx.Client, n: int) -> tuple[float, str | None]:
    """One question about an already indexed article: (seconds, problem or None)."""
    _, _, _, question, phrase = KNOWN[n % len(KNOWN)]
    started = time.perf_counter()
    try:
        response = http.post("/ask", json={"question": question})
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return seconds, f"HTTP {response.status_code}: {response.text[:200]}"
    answer = response.json()
    if not answer["answered"] or phrase not in answer["answer"]:
        return seconds, f"not answered from the indexed article: {answer['answer'][:200]}"
    return seconds, None


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.integration
def test_questions_are_answered_while_a_full_sync_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "articles"
    for article_id, title, text, _, _ in KNOWN:
        write_article(folder / article_id, title, text)
    base = Settings(data_dir=tmp_path / "data", _env_file=None)
    settings = api_settings(base, articles_dirs=[folder])
    with live_app(settings) as (url, _), httpx.Client(base_url=url, timeout=120) as http:
        first = http.post("/reindex", headers=ADMIN).json()
        done = wait(lambda: finished_job(http, first["id"]), 300)
        assert done["status"] == "succeeded", done

        before = [ask(http, n) for n in range(30)]
        write_corpus(folder, SYNC_ARTICLES, prefix="council")
        started = time.monotonic()
        job = http.post("/reindex", headers=ADMIN)
        assert job.status_code == 202, job.text
        during: list[tuple[float, str | None]] = []
        result = None
        while result is None:
            during.append(ask(http, len(during)))
            result = finished_job(http, job.json()["id"])
            assert time.monotonic() - started < SYNC_DEADLINE, "the sync did not finish"
        sync_seconds = time.monotonic() - started
        after = [ask(http, n) for n in range(len(KNOWN))]
        stats = http.get("/stats").json()

    problems = [p for _, p in before + during + after if p]
    assert result["status"] == "succeeded", result
    assert result["report"]["added"] == SYNC_ARTICLES
    assert stats["articles"] == SYNC_ARTICLES + len(KNOWN)
    assert len(during) >= 3, "too few questions overlapped the sync to say anything"
    assert problems == [], problems[:5]
    print_figures(
        capsys,
        "serving during sync",
        {
            "sync": f"{SYNC_ARTICLES} articles in {sync_seconds:.1f} s",
            "requests": f"{len(before)} before, {len(during)} during",
            "errors": len(problems),
            "answered from the earlier articles": f"{len(during)}/{len(during)} during",
            "p95 before": ms(percentile([s for s, _ in before], 95)),
            "p95 during": ms(percentile([s for s, _ in during], 95)),
            "p50 before / during": f"{ms(percentile([s for s, _ in before], 50))} / "
            f"{ms(percentile([s for s, _ in during], 50))}",
        },
    )


def wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return result


def test_a_question_between_a_batchs_chunks_and_its_texts_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window a concurrent reader can hit: chunks of new articles are in Chroma, their
    full texts not yet. Asked right there, the engine answers (no KeyError -> 500)."""
    folder = tmp_path / "articles"
    write_corpus(folder, 5, prefix="council")
    engine = Engine(Settings(data_dir=tmp_path / "data", embed_model=TEST_MODEL, _env_file=None))
    question = f"What did the {TOWNS[0]}-0 council approve?"
    answers = []
    put_texts = Store.put_texts

    def ask_first(store: Store, texts: dict[str, Any]) -> None:
        answers.append(engine.ask(question))
        put_texts(store, texts)

    monkeypatch.setattr(Store, "put_texts", ask_first)
    engine.sync([folder])
    assert answers and answers[0].answered is False  # no text yet: nothing to quote
    monkeypatch.undo()
    answer = engine.ask(question)
    assert answer.answered and answer.citations[0].article_id == "council/0000.txt"
