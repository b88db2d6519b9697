"""Small JSON documents by key, kept where the index lives: a Chroma collection on the index's
own client (embedded in the data dir, or the Chroma server that API replicas share), as
conversations are. For settings that every replica must see (the Discord bot's per-server
settings)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsdesk.index.engine import Engine

PLACEHOLDER_VECTOR = [1.0]
"""Records are looked up by key only; Chroma still wants a vector per record."""


class JsonRecords:
    """JSON objects by key in the `<collection>-<name>` collection of `engine`'s Chroma client.
    A put replaces the whole object: the last writer wins."""

    def __init__(self, engine: Engine, name: str) -> None:
        collection = f"{engine.settings.collection}-{name}"
        self.records = engine.chroma_client.get_or_create_collection(
            collection, embedding_function=None
        )

    def get(self, key: str) -> dict[str, Any] | None:
        """The object stored under `key`, if any."""
        found = self.records.get(ids=[key], include=["metadatas"])
        if not found["ids"]:
            return None
        value = json.loads(str(found["metadatas"][0]["json"]))
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store `value` under `key`, replacing what was there."""
        self.records.upsert(
            ids=[key],
            metadatas=[{"json": json.dumps(value, sort_keys=True, ensure_ascii=False)}],
            embeddings=[PLACEHOLDER_VECTOR],
        )
