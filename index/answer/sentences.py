"""Split article text into sentences with their character offsets (NLTK Punkt)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

SCAN_CHARS = 2000
"""Punkt reads a text at most this many characters at a time. NLTK stops each of its regex
scans after 5 s of wall-clock time (`nltk.redos`) and raises `TimeoutError`; a paragraph of
80,000 one-word sentences takes over 2 s on an idle core, so on a loaded machine it failed.
A window of 2,000 characters takes milliseconds whatever it holds."""


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article: `text == article_text[start:end]`."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _punkt() -> PunktSentenceTokenizer:
    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    shipped = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if shipped not in nltk.data.path:
        nltk.data.path.append(shipped)
    return PunktTokenizer("english")


def punkt_spans(
    text: str, tokenizer: PunktSentenceTokenizer | None = None
) -> Iterator[tuple[int, int]]:
    """Punkt's sentence spans of `text`, read in windows of at most `SCAN_CHARS`.

    A window's last sentence may go on past it, so the next window starts there; a window that
    holds no sentence end is cut at its last space. Text shorter than a window is read whole,
    exactly as Punkt alone would.
    """
    punkt = tokenizer or _punkt()
    start = 0
    while len(text) - start > SCAN_CHARS:
        window = text[start : start + SCAN_CHARS]
        spans = list(punkt.span_tokenize(window))
        if len(spans) > 1:
            yield from ((start + a, start + b) for a, b in spans[:-1])
            start += spans[-1][0]
            continue
        cut = max(window.rfind(" "), window.rfind("\t"), window.rfind("\n"))
        if not spans or cut <= spans[0][0]:
            cut = len(window)
        if spans and (end := len(window[:cut].rstrip())) > spans[0][0]:
            yield start + spans[0][0], start + end
        start += cut
    yield from ((start + a, start + b) for a, b in punkt.span_tokenize(text[start:]))


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of a text, never crossing paragraph (line) breaks."""
    out: list[Sentence] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for start, end in punkt_spans(line):
                piece = line[start:end]
                if piece.strip():
                    out.append(Sentence(piece, offset + start, offset + end))
        offset += len(line) + 1
    return out
