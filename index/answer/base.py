"""What every answerer offers the engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from newsdesk.index.answer.models import Answer
from newsdesk.index.retrieval import ArticleHit


@dataclass(frozen=True)
class Asked:
    """A follow-up's own words and their embedding, when the question answered is its
    standalone form rewritten from the conversation."""

    text: str
    vector: Sequence[float] | None = None


class Answerer(Protocol):
    """Turns retrieved articles into an Answer with numbered, verbatim citations."""

    def assess(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
        asked: Asked | None = None,
    ) -> tuple[Answer, float | None]:
        """The answer from articles `hits` (full `texts` given), citing at most `top_k`, and
        the confidence (0..1) that they answer the question (None: the answerer cannot tell);
        `asked`: the follow-up `question` was rewritten from."""
        ...

    def stream(
        self,
        question: str,
        hits: list[ArticleHit],
        texts: dict[str, str],
        top_k: int,
        query_vector: Sequence[float] | None = None,
        asked: Asked | None = None,
    ) -> Iterator[str | Answer]:
        """Draft text as it is written (unverified; an answerer that copies sentences writes
        none), then the Answer, which is the one to keep."""
        ...
