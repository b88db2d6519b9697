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


LOCAL_SUMS = {
    "oslo-ferry.txt": (
        "Oslo harbour ferry fares set\n\nThe new electric ferry across Oslo harbour starts "
        "sailing in May. A single ticket on the Oslo harbour ferry costs NOK 340, the operator "
        "said. Boats will leave every twenty minutes from the city hall pier.",
        "How much does a single ticket on the Oslo harbour ferry cost?",
        "NOK 340",
    ),
    "mumbai-metro.txt": (
        "Mumbai metro line opens\n\nMumbai's newest metro line opened to passengers on Monday. "
        "A monthly pass for the line will cost ₹1,500, the transport authority said. The line "
        "links the airport with the business district.",
        "How much will a monthly pass for the new Mumbai metro line cost?",
        "₹1,500",
    ),
    "seoul-lanterns.txt": (
        "Seoul lantern festival returns\n\nThe lantern festival returns to the Cheonggyecheon "
        "stream in Seoul this autumn. Entry to the Seoul lantern festival costs ₩20,000 for "
        "adults. Organisers expect a million visitors over three weeks.",
        "How much does entry to the Seoul lantern festival cost for adults?",
        "₩20,000",
    ),
    "zurich-boats.txt": (
        "Zurich lake boats add routes\n\nZurich's lake boat company is adding two routes this "
        "summer. A day pass for the Zurich lake boats costs 45 CHF. The boats call at eleven "
        "villages along the shore.",
        "How much does a day pass for the Zurich lake boats cost?",
        "45 CHF",
    ),
    "warsaw-rail.txt": (
        "Polish rail fares cut\n\nPoland's state railway will cut fares next year. A ticket "
        "from Warsaw to Krakow will cost 89 zł under the new scheme. The railway carried 390 "
        "million passengers last year.",
        "How much will a ticket from Warsaw to Krakow cost?",
        "89 zł",
    ),
    "cape-town-concert.txt": (
        "Cape Town concert for flood victims\n\nA concert in Cape Town raised funds for flood "
        "victims. The Cape Town concert raised R2.3 million for flood victims, organisers said. "
        "Fifty artists performed.",
        "How much did the Cape Town concert raise for flood victims?",
        "R2.3 million",
    ),
}


def test_sums_in_local_currencies_are_answers(real_engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "local"
    folder.mkdir()
    for name, (text, _, _) in LOCAL_SUMS.items():
        (folder / name).write_text(text, encoding="utf-8")
    real_engine.sync([folder])
    for name, (_, question, sum_) in LOCAL_SUMS.items():
        answer = real_engine.ask(question)
        assert answer.answered, question
        assert cited_ids(answer)[0] == name
        assert sum_ in answer.answer, answer.answer
