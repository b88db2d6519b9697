"""Time in questions: "the latest …", "last month", "in March 2026", "since May".

dateparser finds and resolves the expressions, relative to a reference day: the newest
article's publication day in the index (a corpus of 1987 news asked about "last month" means
the month before its newest report; for a live feed that day is today or close to it). Only
expressions that name a month, a year or a relative span (this week, last month, yesterday,
two weeks ago) count: dateparser also reads "we", "a second" or "Sun" as dates.

What a question says about time is a preference among the articles retrieval found most
relevant, never a filter: a question that mentions "1986" is usually about what happened in
1986, reported later; and a reading that is wrong must not hide the answer."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from dateparser.date import DateDataParser
from dateparser.search import search_dates

H = TypeVar("H")
NEAR = 3
"""Time reorders the top NEAR articles only; the rest keep retrieval's order."""
SPANS = {"week", "month", "year"}
RELATIVE = re.compile(r"\b(yesterday|today|ago|last|this|past|previous)\b", re.IGNORECASE)
YEAR = re.compile(r"\b(1[89]|20)\d\d\b")
BOUND = re.compile(
    r"\b(since|after|from|before|until|till|by)\s+(\d{1,2}(st|nd|rd|th)?\s+)?$", re.IGNORECASE
)
LATEST = re.compile(r"\b(latest|newest|most recent|most recently|currently)\b", re.IGNORECASE)
"""Asking for the latest state of a story (superlatives of time; "now" and "recent" alone are
too common in questions about one report to count)."""


@dataclass(frozen=True)
class TimeAsk:
    """What a question says about time: a period it is about (and the words that name it), and
    whether it wants the latest."""

    start: date | None = None
    end: date | None = None
    latest: bool = False
    words: str | None = field(default=None, compare=False)

    def dated_by_articles(self, texts: Iterable[str], dated: bool) -> TimeAsk:
        """The period kept only when it is about the articles' dates: they must have dates
        (`dated`), and a month or year the articles themselves name is the time of what they
        report ("profit in 1986"), not of their publication."""
        if self.words is None:
            return self
        if not dated:
            return TimeAsk(latest=self.latest)
        named = {w.lower() for w in re.findall(r"[A-Za-z]+|\d{4}", self.words)}
        named &= month_names() | {w for w in named if YEAR.fullmatch(w)}
        if named and any(named & set(re.findall(r"[a-z]+|\d{4}", t.lower())) for t in texts):
            return TimeAsk(latest=self.latest)
        return self

    def without_words(self, question: str) -> str:
        """The question without the words that name its period (they are answered by the
        articles' dates, not their text)."""
        if self.words is None or (self.start is None and self.end is None):
            return question
        before, _, after = question.partition(self.words)
        before = BOUND.sub("", before).rstrip()
        before = re.sub(r"\b(in|on|during|of|for)$", "", before, flags=re.IGNORECASE).rstrip()
        joined = f"{before} {after.lstrip()}" if after.strip(" ?.!") else before + after
        return joined.strip().lstrip(",;: ")

    def __bool__(self) -> bool:
        return self.latest or self.start is not None or self.end is not None

    def distance(self, day: date | None) -> int:
        """Days between a publication day and the period (0 inside it; undated: far)."""
        if day is None:
            return 1_000_000
        if self.start and day < self.start:
            return (self.start - day).days
        if self.end and day > self.end:
            return (day - self.end).days
        return 0


@lru_cache(maxsize=1)
def month_names() -> frozenset[str]:
    names = [*calendar.month_name[1:], *calendar.month_abbr[1:]]
    return frozenset(n.lower() for n in names if n)


def names_time(text: str) -> bool:
    """Whether a found expression really names a time: a month, a year or a relative span."""
    words = {w.lower().strip(".") for w in re.findall(r"[A-Za-z.]+", text)}
    return bool(words & month_names() or YEAR.search(text) or RELATIVE.search(text))


def read_time(question: str, reference: date) -> TimeAsk:
    """The period a question asks about (from its first time expression), and whether it asks
    for the latest state."""
    latest = bool(LATEST.search(question))
    if not names_time(question):  # nothing dateparser finds could count: skip its search
        return TimeAsk(latest=latest)
    base = datetime.combine(reference, datetime.min.time())
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    found = search_dates(question, languages=["en"], settings=settings) or []  # type: ignore[arg-type]
    for text, _ in found:
        if not names_time(text):
            continue
        data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)  # type: ignore[arg-type]
        if data.date_obj is None:
            continue
        start, end = span(data.date_obj.date(), data.period or "day")
        before = question[: question.find(text)]
        bound = BOUND.search(before)
        if bound and bound.group(1).lower() in {"since", "after", "from"}:
            end = None
        elif bound:
            start = None
        return TimeAsk(start, end, latest, text)
    return TimeAsk(latest=latest)


def span(day: date, period: str) -> tuple[date, date]:
    """The first and last day of the period `day` stands for."""
    if period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if period == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return date(day.year, day.month, 1), date(day.year, day.month, last)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    return day, day


def prefer(hits: list[H], ask: TimeAsk, day_of: Callable[[H], date | None]) -> list[H]:
    """Retrieval's hits with the top NEAR reordered by the question's time: nearest to its
    period first, then (when it asks for the latest) newest first; ties keep their order."""
    if not ask:
        return hits
    head, tail = hits[:NEAR], hits[NEAR:]

    def key(hit: H) -> tuple[int, int]:
        day = day_of(hit)
        newest = -(day.toordinal() if day else 0) if ask.latest else 0
        return ask.distance(day) if (ask.start or ask.end) else 0, newest

    return sorted(head, key=key) + tail


def day_of_iso(value: str | None) -> date | None:
    """The day of an ISO-8601 time, or None."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


class Hit(Protocol):
    """What time needs of a retrieved article (retrieval's ArticleHit has it)."""

    article_id: str

    @property
    def metadata(self) -> dict[str, Any]: ...


A = TypeVar("A", bound=Hit)


class TimePreference:
    """Applies what a question says about time to retrieval's articles (see the module)."""

    def __init__(self, newest: Callable[[], date | None]) -> None:
        self.newest = newest
        """The newest article's publication day (None when no article is dated)."""

    def apply(self, question: str, hits: list[A], texts: dict[str, str]) -> tuple[list[A], TimeAsk]:
        """The hits reordered (`prefer`), and the question's time as the articles bear it out."""
        when = read_time(question, self.newest() or date.today())
        if not when:
            return hits, when
        top = hits[:NEAR]
        dated = any(h.metadata.get("published_at") for h in top)
        when = when.dated_by_articles((texts.get(h.article_id, "") for h in top), dated)
        return prefer(hits, when, lambda h: day_of_iso(h.metadata.get("published_at"))), when
