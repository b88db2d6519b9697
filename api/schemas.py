"""Request and response bodies of the HTTP API (the answer itself is `index.answer.models`)."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newsdesk.index import (
    KNOWN_KEYS,
    MAX_QUESTION_CHARS,
    Citation,
    Filters,
    id_problem,
    normalise_date,
)

MAX_ID_CHARS = 512
MAX_FEEDBACK_ANSWER_CHARS = 8000


class ErrorBody(BaseModel):
    """Every error answer: a machine code, one sentence for people, and the request id."""

    error: str = Field(examples=["not_found"])
    detail: str = Field(examples=["no article with id 'business/999.txt' is indexed"])
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For 422: each invalid field (loc, msg, type)."
    )


# --------------------------------------------------------------------------- ask


class FiltersIn(BaseModel):
    """Restrict retrieval to one source and/or a publication date range (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, min_length=1, max_length=200, examples=["Tech Wire"])
    since: date | None = Field(None, examples=["2025-01-01"])
    until: date | None = Field(None, examples=["2025-12-31"])

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | date):
            raise ValueError("must be a date such as 2025-03-03")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FiltersIn:
        if self.since and self.until and self.since > self.until:
            raise ValueError("'since' must not be after 'until'")
        return self

    def to_engine(self) -> Filters:
        return Filters(source=self.source, since=self.since, until=self.until)


class AskRequest(BaseModel):
    """A question; the answer has exactly the shape of `newsdesk ask --json`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "How much will the new harbour bridge cost?"},
                {
                    "question": "Where will the Voltra 2nm chip be made?",
                    "top_k": 3,
                    "filters": {"source": "Tech Wire", "since": "2025-01-01"},
                },
                {"question": "When will it open?", "conversation_id": "kP3x9vQm2TQe1rWq0aZ8Yw"},
            ]
        },
    )

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int | None = Field(None, ge=1, le=20, description="Cite at most this many articles.")
    filters: FiltersIn | None = None
    conversation_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Continue this conversation (a follow-up may refer to its earlier turns); "
        "a new one is started when omitted.",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value


# --------------------------------------------------------------------------- articles


class ArticleIn(BaseModel):
    """One article to add, or to replace when its id is already indexed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "wire/2025-03-03-voltra",
                    "title": "Voltra to build 2nm chip plant in Dresden",
                    "text": "Voltra said on Monday it will make its 2nm chip in Dresden.",
                    "url": "https://example.org/voltra-dresden",
                    "published_at": "2025-03-03",
                    "authors": ["Ana Ruiz"],
                    "source": "Tech Wire",
                }
            ]
        },
    )

    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Stable id of printable characters; derived from the url (else the title "
        "and text) when omitted.",
    )
    title: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1)
    url: str | None = Field(None, max_length=2000)
    published_at: str | None = Field(
        None,
        max_length=64,
        pattern=r"^\d{4}-\d{2}-\d{2}",
        description="ISO 8601 date or date-time.",
        examples=["2025-03-03"],
    )
    authors: list[str] = Field(default_factory=list, max_length=100)
    source: str | None = Field(None, max_length=200)
    extra: dict[str, str | int | float | bool] = Field(
        default_factory=dict, max_length=50, description="Other metadata kept with the article."
    )

    @field_validator("title", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str | None) -> str | None:
        if value is not None and (problem := id_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("published_at")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value and normalise_date(value) is None:
            raise ValueError("must be an ISO 8601 date or date-time, e.g. 2025-03-03")
        return value

    @field_validator("extra")
    @classmethod
    def _plain_extra(cls, value: dict[str, str | int | float | bool]) -> dict[str, Any]:
        if clash := sorted(set(value) & (KNOWN_KEYS | {"date"})):
            raise ValueError(f"{', '.join(clash)}: give these as article fields, not extra")
        if any(isinstance(v, float) and not math.isfinite(v) for v in value.values()):
            raise ValueError("numbers must be finite")
        return value

    def record(self) -> dict[str, Any]:
        """The article as a JSON record for `index.articles.from_record`."""
        return {**self.extra, **self.model_dump(exclude={"extra"}, exclude_none=True)}


class ArticleSummary(BaseModel):
    """An indexed article's metadata."""

    id: str
    title: str
    url: str | None = None
    published_at: str | None = None
    source: str | None = None
    authors: list[str] = Field(default_factory=list)
    n_chunks: int = 0
    indexed_at: str | None = None

    @classmethod
    def from_record(cls, article_id: str, meta: dict[str, Any]) -> ArticleSummary:
        """From the store's flat metadata (empty strings mean "none")."""
        authors = meta.get("authors") or ""
        return cls(
            id=article_id,
            title=meta.get("title") or "",
            url=meta.get("url") or None,
            published_at=meta.get("published_at") or None,
            source=meta.get("source") or None,
            authors=[a for a in authors.split(", ") if a],
            n_chunks=int(meta.get("n_chunks") or 0),
            indexed_at=meta.get("indexed_at") or None,
        )


class ArticleDetail(ArticleSummary):
    """An article's metadata and full text."""

    text: str
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_stored(cls, article_id: str, text: str, meta: dict[str, Any]) -> ArticleDetail:
        summary = ArticleSummary.from_record(article_id, meta)
        return cls(**summary.model_dump(), text=text, extra=json.loads(meta.get("extra") or "{}"))


class ArticlePage(BaseModel):
    """A page of articles; `next_offset` is null on the last page."""

    items: list[ArticleSummary]
    limit: int
    offset: int
    next_offset: int | None


class ArticleWritten(BaseModel):
    """What POST /articles did."""

    id: str
    status: Literal["added", "updated", "unchanged"]
    chunks: int = Field(description="Chunks the article is indexed as.")
    seconds: float


# --------------------------------------------------------------------------- reindex


class ReindexJob(BaseModel):
    """A background sync of the configured article folders and feeds."""

    id: str
    trigger: Literal["admin", "watch", "feeds"]
    status: Literal["running", "succeeded", "failed"]
    sources: list[str]
    started_at: str
    finished_at: str | None = None
    done: int = Field(0, description="Articles embedded so far.")
    total: int = Field(0, description="Articles to embed (grows as each folder is scanned).")
    report: dict[str, Any] | None = Field(None, description="The sync report, when finished.")
    error: str | None = None


# --------------------------------------------------------------------------- feeds


class Source(BaseModel):
    """A source articles come from, as their `source` field names it (a publisher, a feed)."""

    name: str
    articles: int


class FeedIn(BaseModel):
    """A feed (RSS 2.0, Atom 1.0) or article page to poll."""

    url: str = Field(min_length=8, max_length=2000, pattern=r"^[hH][tT][tT][pP][sS]?://\S+$")


class Feed(BaseModel):
    """A polled URL and how its polls went."""

    id: str
    url: str
    title: str | None = None
    configured: bool = Field(description="Listed in NEWSDESK_FEEDS (comes back at restart).")
    last_success: str | None = None
    last_error: str | None = None
    articles: int = Field(description="Entries read at the last successful poll.")
    polls: int = 0
    failures: int = 0
    last_report: dict[str, int] | None = Field(
        None, description="The last successful poll: added, updated, unchanged, removed, skipped."
    )


# --------------------------------------------------------------------------- feedback


MAX_QUOTE_CHARS = 5000
"""Longest citation quote a rating may carry (the answerer quotes sentences)."""


class RatedCitation(Citation):
    """A citation as sent back with a rating: every field bounded."""

    article_id: str = Field(max_length=MAX_ID_CHARS)
    title: str = Field(max_length=1000)
    url: str | None = Field(None, max_length=2000)
    published_at: str | None = Field(None, max_length=64)
    source: str | None = Field(None, max_length=200)
    quote: str = Field(max_length=MAX_QUOTE_CHARS)
    copies: list[Annotated[str, Field(max_length=MAX_ID_CHARS)]] = Field(
        default_factory=list, max_length=20
    )


class FeedbackIn(BaseModel):
    """A rating of one answer, with what was asked and cited."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rating": "down",
                    "question": "How much will the new harbour bridge cost?",
                    "answer": "I could not find this in the articles.",
                    "citations": [],
                    "comment": "The bridge article says 84 million pounds.",
                }
            ]
        },
    )

    rating: Literal["up", "down"]
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str = Field(max_length=MAX_FEEDBACK_ANSWER_CHARS)
    citations: list[RatedCitation] = Field(default_factory=list, max_length=20)
    comment: str | None = Field(None, max_length=2000)
    conversation_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The rated answer's conversation (with `turn`): a front end that names its "
        "user in X-Newsdesk-User gets one rating per user and answer (409 for a second one).",
    )
    turn: int | None = Field(None, ge=0, le=9999, description="The rated answer's turn.")

    @field_validator("citations")
    @classmethod
    def _finite_scores(cls, value: list[RatedCitation]) -> list[RatedCitation]:
        if any(not math.isfinite(c.score) for c in value):
            raise ValueError("citation scores must be finite numbers")
        return value


class FeedbackOut(BaseModel):
    """A stored rating (as sent; ratings stored before the field caps may exceed them)."""

    id: int
    created_at: str
    rating: Literal["up", "down"]
    question: str
    answer: str
    citations: list[Citation]
    comment: str | None = None
    conversation_id: str | None = None
    turn: int | None = None


class FeedbackPage(BaseModel):
    """A page of ratings, newest first."""

    items: list[FeedbackOut]
    limit: int
    offset: int
    next_offset: int | None


# --------------------------------------------------------------------------- conversations


class TurnOut(BaseModel):
    """One turn of a conversation."""

    question: str = Field(description="As asked.")
    searched: str = Field(description="The standalone question actually searched.")
    answer: str
    answered: bool
    citations: list[Citation]
    time: str = Field(description="When it was asked (ISO 8601, UTC).")


class ConversationOut(BaseModel):
    """A conversation's turns, oldest first."""

    id: str
    turns: list[TurnOut]
    max_turns: int = Field(
        description="Turns a conversation keeps: beyond, each new turn drops the oldest."
    )
