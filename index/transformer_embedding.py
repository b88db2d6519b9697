"""The embedding model proper (sentence-transformers through LlamaIndex), imported only when
a real model is loaded: it brings torch."""

from __future__ import annotations

import numpy as np
from llama_index.embeddings.huggingface import HuggingFaceEmbedding

from index.sentence_vectors import Pooled, Spans, pool_spans


class SentenceTransformerEmbedding(HuggingFaceEmbedding):
    """LlamaIndex's sentence-transformers embedding, plus token vectors pooled per span."""

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    def embed_with_spans(
        self, texts: list[str], spans: list[Spans]
    ) -> tuple[list[list[float]], list[Pooled]]:
        """Each text's vector, as `get_text_embedding_batch` gives it, and its token vectors
        summed per character span (see index.sentence_vectors). Texts go longest first in
        batches of `embed_batch_size`, as sentence-transformers orders them itself."""
        model = self._model
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        pooled: list[Pooled] = [Pooled(np.zeros((0, 0)), np.zeros(0)) for _ in texts]
        for start in range(0, len(order), self.embed_batch_size):
            batch = order[start : start + self.embed_batch_size]
            batch_texts = [texts[i] for i in batch]
            outputs = model.encode(
                batch_texts, batch_size=len(batch), output_value=None, show_progress_bar=False
            )
            offsets = model.tokenizer(
                batch_texts,
                return_offsets_mapping=True,
                truncation=True,
                max_length=model.max_seq_length,
            )["offset_mapping"]
            for i, output, token_offsets in zip(batch, outputs, offsets, strict=True):
                tokens = output["token_embeddings"][: len(token_offsets)].float().numpy()
                vector = output["sentence_embedding"].float().numpy()
                vectors[i] = (vector / max(float(np.linalg.norm(vector)), 1e-12)).tolist()
                pooled[i] = pool_spans(tokens, token_offsets, spans[i])
        return vectors, pooled
