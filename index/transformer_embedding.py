"""The embedding model proper (sentence-transformers through LlamaIndex), imported only when
a real model is loaded: it brings torch."""

from __future__ import annotations

import numpy as np
import torch
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import batch_to_device

from newsdesk.index.sentence_vectors import Pooled, Spans, pool_spans


class SentenceTransformerEmbedding(HuggingFaceEmbedding):
    """LlamaIndex's sentence-transformers embedding, plus token vectors pooled per span."""

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def sentence_model(self) -> SentenceTransformer:
        """The sentence-transformers model itself (benchmarks time its bare `encode`)."""
        return self._model

    def embed_queries(self, queries: list[str]) -> list[list[float]]:
        """Query embeddings (the model's query prompt, if any) of several texts in one batch."""
        return self._embed(list(queries), prompt_name="query")

    def embed_with_spans(
        self, texts: list[str], spans: list[Spans]
    ) -> tuple[list[list[float]], list[Pooled]]:
        """Each text's vector, as `get_text_embedding_batch` gives it, and its token vectors
        summed per character span (see index.sentence_vectors). Texts go longest first in
        batches of `embed_batch_size`, as sentence-transformers' `encode` orders them, and
        each batch is tokenised once (with character offsets) and run through the model."""
        model = self._model
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        pooled: list[Pooled] = [Pooled(np.zeros((0, 0)), np.zeros(0)) for _ in texts]
        model.eval()
        for start in range(0, len(order), self.embed_batch_size):
            batch = order[start : start + self.embed_batch_size]
            features = model.preprocess(
                [texts[i] for i in batch],
                processing_kwargs={"text": {"return_offsets_mapping": True}},
            )
            offsets = features.pop("offset_mapping").tolist()
            with torch.inference_mode():
                output = model(batch_to_device(features, model.device))
            tokens = output["token_embeddings"].float().cpu().numpy()
            unit = torch.nn.functional.normalize(output["sentence_embedding"].float(), dim=1)
            for row, (i, vector) in enumerate(zip(batch, unit.cpu().tolist(), strict=True)):
                vectors[i] = vector
                pooled[i] = pool_spans(tokens[row], offsets[row], spans[i])
        return vectors, pooled
