"""The real bundled model and a real embedded Chroma: ingest, ask, change, re-sync, ask again."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsdesk.index.engine import Engine

pytestmark = pytest.mark.integration


def cited_ids(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.article_id for c in answer.citations]


def assert_quotes_verbatim(engine: Engine, answer) -> None:  # type: ignore[no-untyped-def]
    for citation in answer.citations:
        text, _ = engine.article(citation.article_id)
        assert citation.quote in text, citation


def test_ingest_ask_change_resync(real_engine: Engine, corpus: Path) -> None:
    engine = real_engine
    report = engine.sync([corpus])
    assert (report.added, report.updated, report.removed, report.unchanged) == (6, 0, 0, 0)
    assert sorted(s["path"] for s in report.skipped) == [
        "tech/chips.jsonl:3",
        "tech/chips.jsonl:4",
        "tech/logo.txt",
        "world/empty.txt",
    ]

    answer = engine.ask("How much will the new harbour bridge cost?")
    assert answer.answered
    assert cited_ids(answer)[0] == "world/harbour-bridge.txt"
    assert "84 million pounds" in answer.answer
    assert "[1]" in answer.answer
    assert_quotes_verbatim(engine, answer)

    answer = engine.ask("Why is Dustless recalling its robot vacuums?")
    assert cited_ids(answer)[0] == "tech/robot-vacuum.html"
    assert "battery" in answer.answer
    assert answer.citations[0].url == "https://example.org/dustless-recall"

    answer = engine.ask("Where will the Voltra 2nm chip be made?")
    assert cited_ids(answer)[0] == "chips-1"
    assert "Dresden" in answer.answer
    assert answer.citations[0].published_at == "2025-03-03"
    assert answer.citations[0].source == "Tech Wire"

    answer = engine.ask("How many jobs will the Lyon café expansion create?")
    assert cited_ids(answer)[0] == "world/cafe-latin1.txt"
    assert "150 jobs" in answer.answer

    # Edit one article, delete another, add a third; re-sync re-embeds exactly those.
    bridge = corpus / "world/harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("84 million", "97 million"))
    (corpus / "world/glacier.md").unlink()
    (corpus / "world/volcano.txt").write_text(
        "Volcano erupts near Grindavik\n\nA volcano erupted near the Icelandic town of "
        "Grindavik on Sunday, sending lava towards roads. Authorities evacuated 4,000 residents."
    )
    report = engine.sync([corpus])
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 4)

    answer = engine.ask("How much will the new harbour bridge cost?")
    assert "97 million pounds" in answer.answer and "84 million" not in answer.answer
    answer = engine.ask("How many residents were evacuated after the volcano erupted?")
    assert cited_ids(answer)[0] == "world/volcano.txt"
    assert "4,000" in answer.answer
    answer = engine.ask("How much ice thickness did the Rhone glacier lose this summer?")
    assert "world/glacier.md" not in cited_ids(answer)
    assert not answer.answered

    assert engine.sync([corpus]).unchanged == 6


def test_unrelated_question_is_refused(real_engine: Engine, corpus: Path) -> None:
    real_engine.sync([corpus])
    answer = real_engine.ask("Who won the football World Cup final in 1966?")
    assert not answer.answered
    assert answer.citations == []
    assert "could not find" in answer.answer.lower()


def test_seed_question_cites_seed_article(real_engine: Engine) -> None:
    report = real_engine.seed_if_empty()
    assert report is not None and report.added == 1
    answer = real_engine.ask("Why is OpenAI adding Google's cloud?")
    assert answer.answered
    assert cited_ids(answer) == ["openai-google-cloud.txt"]
    assert answer.citations[0].title == "OpenAI taps Google Cloud for extra computing power"
    assert "computing capacity" in answer.answer
    assert_quotes_verbatim(real_engine, answer)
    assert real_engine.seed_if_empty() is None  # not empty any more
