"""Time in questions: read with dateparser, used as a preference among the top articles."""

from __future__ import annotations

from datetime import date

import pytest

from newsdesk.index.when import TimeAsk, prefer, read_time

REFERENCE = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("question", "start", "end", "latest"),
    [
        ("What is the latest unemployment figure?", None, None, True),
        ("What was the figure in October 2026?", date(2026, 10, 1), date(2026, 10, 31), False),
        ("What did the bank say last month?", date(2026, 10, 1), date(2026, 10, 31), False),
        ("Which deals were signed in 2004?", date(2004, 1, 1), date(2004, 12, 31), False),
        ("What has happened since March?", date(2026, 3, 1), None, False),
        ("What was agreed before 5 May?", None, date(2026, 5, 31), False),
        (
            "What is the most recent figure for sales in 2025?",
            date(2025, 1, 1),
            date(2025, 12, 31),
            True,
        ),
        # dateparser reads these as dates; they name no month, year or span
        ("What did we say a second time?", None, None, False),
        ("Who runs the Sun newspaper?", None, None, False),
        ("How much did it cost?", None, None, False),
    ],
)
def test_time_read_from_questions(
    question: str, start: date | None, end: date | None, latest: bool
) -> None:
    assert read_time(question, REFERENCE) == TimeAsk(start, end, latest)


def test_a_period_the_articles_name_is_theirs_not_their_dates() -> None:
    asked = read_time("What net profit did the bank report for 1986?", REFERENCE)
    assert asked.dated_by_articles(["Net profit in 1986 was 5 mln dlrs."], True) == TimeAsk()
    assert asked.dated_by_articles(["Net profit rose to 5 mln dlrs."], True) == asked
    assert asked.dated_by_articles(["Net profit rose to 5 mln dlrs."], False) == TimeAsk()
    relative = read_time("What did the bank say last month?", REFERENCE)
    assert relative.dated_by_articles(["Last month the bank said no."], True) == relative


@pytest.mark.parametrize(
    ("question", "without"),
    [
        ("What was the rate in October 2026?", "What was the rate?"),
        ("What has the bank said since March?", "What has the bank said?"),
        ("In 2004, which deals were signed?", "which deals were signed?"),
        ("Who is the latest winner?", "Who is the latest winner?"),
    ],
)
def test_the_words_naming_a_period_leave_the_question(question: str, without: str) -> None:
    assert read_time(question, REFERENCE).without_words(question) == without


def test_preference_reorders_the_top_articles_only() -> None:
    days = {"a": date(2026, 10, 2), "b": date(2026, 11, 3), "c": None, "d": date(2026, 11, 30)}
    hits = ["a", "b", "c", "d"]
    assert prefer(hits, TimeAsk(latest=True), days.get) == ["b", "a", "c", "d"]  # d is 4th
    october = TimeAsk(date(2026, 10, 1), date(2026, 10, 31))
    assert prefer(["b", "a", "c", "d"], october, days.get) == ["a", "b", "c", "d"]
    assert prefer(hits, TimeAsk(), days.get) == hits


@pytest.mark.integration
def test_latest_cites_the_newer_report_and_a_month_cites_its_own(real_engine) -> None:  # type: ignore[no-untyped-def]
    """Two reports on the same figure a month apart (real model and Chroma)."""
    from newsdesk.index.articles import Article

    reports = {"jobs-oct": ("2026-10-02", "4.1"), "jobs-nov": ("2026-11-03", "4.6")}
    for article_id, (day, rate) in reports.items():
        real_engine.upsert(
            Article(
                id=article_id,
                title="Freedonia unemployment rate changes",
                text=(
                    f"Freedonia's unemployment rate is {rate} per cent, the national statistics "
                    "office said. Economists had expected little change. The office publishes "
                    "the figure at the start of every month."
                ),
                published_at=day,
            )
        )
    latest = real_engine.ask("What is the latest unemployment rate in Freedonia?")
    assert latest.citations[0].article_id == "jobs-nov" and "4.6" in latest.answer
    earlier = real_engine.ask("What was Freedonia's unemployment rate in October 2026?")
    assert earlier.citations[0].article_id == "jobs-oct" and "4.1" in earlier.answer
    for answer in (latest, earlier):
        assert all(c.published_at for c in answer.citations)
        if len(answer.citations) > 1:  # both reports cited: the answer says they differ
            assert answer.date_range == ["2026-10-02", "2026-11-03"]
