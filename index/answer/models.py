"""The answer shape shared by the CLI (`ask --json`), the API and the bot."""

from __future__ import annotations

from pydantic import BaseModel, Field

NOT_FOUND = "I could not find this in the articles."


class Citation(BaseModel):
    """One cited article; `quote` occurs verbatim in the article's text."""

    n: int = Field(description="The number the answer uses for this source, as [n].")
    article_id: str
    title: str
    url: str | None = None
    published_at: str | None = None
    source: str | None = None
    quote: str
    score: float = Field(description="Retrieval relevance, higher is better (0..1).")
    copies: list[str] = Field(
        default_factory=list, description="Ids of other articles with the same text."
    )


class Answer(BaseModel):
    """A question's answer: text with [n] markers, and the citations they refer to."""

    question: str
    answer: str
    answered: bool
    citations: list[Citation] = Field(default_factory=list)
