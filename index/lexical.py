"""Keyword search over chunks with bm25s, persisted per index generation and rebuilt when stale."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from newsdesk.index.store import Store

log = logging.getLogger(__name__)
WORD = re.compile(r"(?u)\b\w\w+\b")
RECHECK_SECONDS = 1.0
"""How long a keyword index is trusted before the store's generation is read again."""
TOKENIZER_VERSION = 3
"""Bump when `terms()` changes, so saved keyword indexes are rebuilt."""


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


FUNCTION_WORDS = frozenset(
    """
    why how what when where who whom whose which did does do done has had have its it's s
    much many according couldn wouldn shouldn didn doesn isn wasn weren aren hasn haven hadn
    won don can ll ve re between about after before over under up down out off into onto than
    also just only still even though although while during until against among through per
    via would could should might must get got make made take took really actually
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
"""Question words and other function words that say nothing about a topic."""


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's English stopwords plus FUNCTION_WORDS."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | FUNCTION_WORDS


def terms(text: str) -> list[str]:
    """Stemmed, lower-cased content words, as the keyword index sees them."""
    stop = stopwords()
    words = [w for w in WORD.findall(text.lower()) if w not in stop]
    return _stemmer().stemWords(words)


class KeywordIndex:
    """BM25 over chunk texts (with their article titles); knows each term's document frequency."""

    def __init__(self, chunk_ids: list[str], retriever: object, vocab: dict[str, int]) -> None:
        self.chunk_ids = chunk_ids
        self.retriever = retriever
        self.vocab = vocab
        scores = getattr(retriever, "scores", None)  # absent when the index holds no chunk
        df = np.diff(np.asarray(scores["indptr"])) if scores else np.zeros(0, dtype=int)
        self.df = {term: int(df[i]) for term, i in vocab.items() if i < len(df)}
        self.n_docs = max(len(chunk_ids), 1)

    @classmethod
    def build(cls, store: Store) -> KeywordIndex:
        """Index every chunk currently in the store."""
        import bm25s

        ids: list[str] = []
        corpus: list[list[str]] = []
        for page in store.chunk_texts():
            for cid, text, metadata in page:
                ids.append(cid)
                corpus.append(terms(f"{metadata.get('title', '')}\n{text}"))
        vocab: dict[str, int] = {}
        token_ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
        retriever = bm25s.BM25()
        if token_ids:
            retriever.index((token_ids, vocab), show_progress=False)
        return cls(ids, retriever, vocab)

    def idf(self, term: str) -> float:
        """Inverse document frequency; terms absent from the corpus get the highest value."""
        df = self.df.get(term, 0)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best chunks for a query as (chunk id, BM25 score), best first (ties in index
        order).

        Scores are bm25s's own; the top k are picked among the chunks that score at all.
        (bm25s's `retrieve` partitions the whole score array, mostly zeros, which numpy does
        slowly: 4 ms at 38k chunks; it also starts a thread pool per call.)"""
        query_ids = [self.vocab[t] for t in terms(query) if t in self.vocab]
        if not query_ids or not self.chunk_ids:
            return []
        scores = self.retriever.get_scores(query_ids)  # type: ignore[attr-defined]
        docs = np.flatnonzero(scores > 0)
        if len(docs) > k:
            docs = docs[np.argpartition(-scores[docs], k - 1)[:k]]
        docs = docs[np.lexsort((docs, -scores[docs]))]
        return [(self.chunk_ids[d], float(scores[d])) for d in docs]

    # ----------------------------------------------------------------- persistence

    def save(self, folder: Path) -> None:
        """Write the index to `folder` (replaced atomically)."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.retriever.save(str(tmp))  # type: ignore[attr-defined]
        (tmp / "newsdesk.json").write_text(
            json.dumps({"chunk_ids": self.chunk_ids, "vocab": self.vocab})
        )
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        meta = json.loads((folder / "newsdesk.json").read_text())
        retriever = bm25s.BM25.load(str(folder))
        return cls(meta["chunk_ids"], retriever, meta["vocab"])


class KeywordIndexCache:
    """Keeps the keyword index of the store's current generation loaded.

    When the store changes, queries go on with the previous index while a new one is built in
    the background (new articles are found by dense retrieval meanwhile); only a process with
    no index at all builds or loads one before answering. `rebuild()` brings it up to date at
    once, and saves it, for writers that can afford it (a sync).
    """

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self._index: KeywordIndex | None = None
        self._generation = -1
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None
        self._recheck_at = 0.0

    def changed(self) -> None:
        """This process wrote to the store: read its generation on the next `get`."""
        self._recheck_at = 0.0

    def get(self) -> KeywordIndex:
        """The index for the store's current generation, or the previous one while it builds.

        The generation is read from the store at most every RECHECK_SECONDS (another
        process's writes reach BM25 that much later; this process's own at once, see
        `changed`), not on every question."""
        if self._index is not None and time.monotonic() < self._recheck_at:
            return self._index
        generation = self.store.generation
        self._recheck_at = time.monotonic() + RECHECK_SECONDS
        if self._index is not None and generation == self._generation:
            return self._index
        if self._index is not None:
            self._refresh_in_background()
            return self._index
        return self.rebuild()

    def loaded(self) -> KeywordIndex:
        """The index in memory, without asking the store whether it is current (retrieval has
        just done so for this question)."""
        return self._index if self._index is not None else self.get()

    def rebuild(self) -> KeywordIndex:
        """Bring the index up to the store's current generation now."""
        with self._lock:
            generation = self.store.generation
            if self._index is None or generation != self._generation:
                self._index = self._load_or_build(generation)
                self._generation = generation
            return self._index

    def _refresh_in_background(self) -> None:
        if self._refreshing is None or not self._refreshing.is_alive():
            self._refreshing = threading.Thread(
                target=self.rebuild, name="keyword-index", daemon=True
            )
            self._refreshing.start()

    def wait(self) -> None:
        """Wait for a background rebuild to finish (tests, benchmarks)."""
        if self._refreshing is not None:
            self._refreshing.join()

    def _load_or_build(self, generation: int) -> KeywordIndex:
        folder = self.folder / f"v{TOKENIZER_VERSION}-gen-{generation}"
        if (folder / "newsdesk.json").exists():
            try:
                return KeywordIndex.load(folder)
            except Exception:  # a damaged cache is rebuilt, never trusted
                log.warning("keyword index in %s is unreadable; rebuilding", folder)
        index = KeywordIndex.build(self.store)
        if not index.chunk_ids:  # nothing to save (bm25s cannot save an empty index)
            return index
        try:
            index.save(folder)
            for old in self.folder.glob("*gen-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            log.warning("could not save the keyword index to %s", folder)
        return index
