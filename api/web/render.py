"""What the web page shows, as plain data: answer text split at its [n] markers, sources,
article paragraphs with the cited quote marked. The templates escape every string in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote as url_quote
from urllib.parse import urlencode, urlsplit

from newsdesk.index import Answer, Citation, Turn

MARKER = re.compile(r"\[(\d{1,3})\]")
"""A citation marker in answer text: [1], [2], …"""
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Part:
    """A piece of answer text; `n` is set when it is a marker that links to source n."""

    text: str
    n: int | None = None


@dataclass(frozen=True)
class SourceView:
    """One numbered source under the answer."""

    n: int
    title: str
    href: str
    url: str | None
    date_iso: str | None
    date_text: str | None
    source: str | None
    quote: str
    copies: int


@dataclass(frozen=True)
class AnswerView:
    """An answer as the page shows it (`state` is `answered` or `not-found`)."""

    state: str
    parts: list[Part]
    sources: list[SourceView] = field(default_factory=list)
    dates: str | None = None
    """Said when the sources are from different days."""


@dataclass(frozen=True)
class Segment:
    """A run of paragraph text; `marked` when it is (part of) the cited quote."""

    text: str
    marked: bool = False


def answer_parts(text: str, numbers: set[int]) -> list[Part]:
    """Split answer text at its [n] markers; only markers of a known source become links."""
    parts: list[Part] = []
    last = 0
    for match in MARKER.finditer(text):
        n = int(match.group(1))
        if n not in numbers:
            continue
        if match.start() > last:
            parts.append(Part(text[last : match.start()]))
        parts.append(Part(match.group(0), n))
        last = match.end()
    if last < len(text):
        parts.append(Part(text[last:]))
    return parts


def format_date(value: str | None) -> str | None:
    """`2025-05-02…` as `2 May 2025`; other text as it is; None stays None."""
    if not value:
        return None
    match = ISO_DATE.match(value)
    if not match:
        return value
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return value
    return f"{day} {MONTHS[month - 1]} {year}"


def iso_day(value: str | None) -> str | None:
    """The `YYYY-MM-DD` a date or date-time starts with, for `<time datetime=…>`."""
    match = ISO_DATE.match(value or "")
    return match.group(0) if match else None


def safe_url(url: str | None) -> str | None:
    """An article's own url, only when it is http(s): never a `javascript:` link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def read_href(article_id: str, quote: str | None = None, base: str = "") -> str:
    """Link to an article's reading page, scrolled to (and marking) the cited quote."""
    href = f"{base}/read/" + url_quote(article_id, safe="/")
    if quote:
        href += "?" + urlencode({"quote": quote}) + "#quote"
    return href


def source_view(citation: Citation, base: str = "") -> SourceView:
    """A citation as a numbered source (`base`: the app's root path, if any)."""
    return SourceView(
        n=citation.n,
        title=citation.title or citation.article_id,
        href=read_href(citation.article_id, citation.quote, base),
        url=safe_url(citation.url),
        date_iso=iso_day(citation.published_at),
        date_text=format_date(citation.published_at),
        source=citation.source,
        quote=citation.quote,
        copies=len(citation.copies),
    )


def answer_view(answer: Answer, base: str = "") -> AnswerView:
    """An answer with its markers linked and its sources numbered."""
    numbers = {c.n for c in answer.citations}
    return AnswerView(
        state="answered" if answer.answered else "not-found",
        parts=answer_parts(answer.answer, numbers),
        sources=[source_view(c, base) for c in answer.citations],
        dates=dates_note(answer),
    )


def dates_note(answer: Answer) -> str | None:
    """ "The sources are from different days: …" when they are (static/newsdesk.js says the
    same for a streamed answer)."""
    if not answer.date_range:
        return None
    first, last = (format_date(day) for day in answer.date_range)
    return f"The sources are from different days: {first} to {last}."


def paragraphs(text: str, quote: str | None = None) -> list[list[Segment]]:
    """The article's non-blank lines as paragraphs, with the first occurrence of `quote`
    marked (across paragraph breaks when it spans them)."""
    start = text.find(quote) if quote else -1
    end = start + len(quote) if quote and start >= 0 else -1
    out: list[list[Segment]] = []
    for line in re.finditer(r"[^\r\n]+", text):
        if not line.group(0).strip():
            continue
        lo, hi = line.start(), line.end()
        if end <= lo or start >= hi or start < 0:
            out.append([Segment(line.group(0))])
            continue
        cut_lo, cut_hi = max(lo, start), min(hi, end)
        segments = [
            Segment(text[lo:cut_lo]),
            Segment(text[cut_lo:cut_hi], marked=True),
            Segment(text[cut_hi:hi]),
        ]
        out.append([s for s in segments if s.text])
    return out


@dataclass(frozen=True)
class TurnView:
    """An earlier turn of the conversation shown above the latest answer (`k` from 1)."""

    k: int
    question: str
    searched: str
    answer: AnswerView


def turn_views(turns: list[Turn], base: str = "") -> list[TurnView]:
    """Earlier turns, numbered from 1, each with its answer and sources."""
    return [
        TurnView(k, t.question, t.searched, answer_view(t.as_answer(), base))
        for k, t in enumerate(turns, start=1)
    ]
