"""The answer shape shared by the CLI (`ask --json`), the API and the bot."""

from __future__ import annotations

from pydantic import BaseModel, Field, computed_field

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

    @computed_field(  # type: ignore[prop-decorator]
        description="The first and last publication day of the cited articles, when their "
        "sources span different days (else null)."
    )
    @property
    def date_range(self) -> list[str] | None:
        days = sorted({c.published_at[:10] for c in self.citations if c.published_at})
        return [days[0], days[-1]] if len(days) > 1 else None
