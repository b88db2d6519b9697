"""Split article text into sentences with their character offsets (NLTK Punkt)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article: `text == article_text[start:end]`."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _punkt():  # type: ignore[no-untyped-def]
    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    shipped = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if shipped not in nltk.data.path:
        nltk.data.path.append(shipped)
    return PunktTokenizer("english")


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of a text, never crossing paragraph (line) breaks."""
    out: list[Sentence] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for start, end in _punkt().span_tokenize(line):
                piece = line[start:end]
                if piece.strip():
                    out.append(Sentence(piece, offset + start, offset + end))
        offset += len(line) + 1
    return out
