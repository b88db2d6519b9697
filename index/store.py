"""Chroma, embedded or server: the chunk collection, the article registry, and the writer lock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from newsdesk.index.config import Settings
from newsdesk.index.errors import (
    ArticleNotFound,
    ConfigError,
    IndexLocked,
    ModelMismatch,
    StoreUnavailable,
)
from newsdesk.index.sentence_vectors import SentenceVectors

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

SCHEMA_VERSION = 1
PLACEHOLDER_VECTOR = [1.0]
"""The article registry is looked up by id only; Chroma still wants a vector per record."""
PAGE = 5000
CHUNK_KEYS = {"_node_content", "_node_type", "article_id", "source", "published_ts"}
"""What a chunk keeps as Chroma metadata keys: LlamaIndex's node JSON (text included) and the
keys filters and deletes match on. Chroma writes a row per key and full-text-indexes
documents, which Newsdesk never searches, so chunks have no document and few keys."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a Chroma server's heartbeat (chromadb's own client never times out)."""


@dataclass(frozen=True)
class Entry:
    """What a sync needs to know of an indexed article: where it came from, which text and
    layout it was indexed from, and how many chunks it has."""

    origin: str
    content_hash: str
    layout: int
    n_chunks: int

    def to_metadata(self) -> dict[str, str]:
        """One string key: Chroma writes a key a row, and full-text-indexes documents."""
        return {"entry": json.dumps([self.origin, self.content_hash, self.layout, self.n_chunks])}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Entry:
        origin, content_hash, layout, n_chunks = json.loads(metadata["entry"])
        return cls(origin, content_hash, int(layout), int(n_chunks))

    @classmethod
    def from_record(cls, metadata: dict[str, Any]) -> Entry:
        return cls(
            str(metadata.get("origin", "")),
            str(metadata.get("content_hash", "")),
            int(metadata.get("layout", 0) or 0),
            int(metadata.get("n_chunks", 0) or 0),
        )


def server_url(raw: str) -> str:
    """NEWSDESK_CHROMA_URL as scheme://host:port[/path]; port 8000 (443 for https) if none given."""
    url = urlparse(raw.strip())
    try:
        port = url.port
    except ValueError:  # not a number, or out of range
        port = -1
    if url.scheme not in ("http", "https") or not url.hostname or port == -1:
        raise ConfigError(f"NEWSDESK_CHROMA_URL must look like http://host:port, got {raw!r}")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    port = port or (443 if url.scheme == "https" else 8000)
    path = url.path.rstrip("/").removesuffix("/api/v2")  # the client adds the API prefix
    return f"{url.scheme}://{host}:{port}{path}"


def connect(settings: Settings) -> Any:
    """A Chroma client: HttpClient when a server URL is set, else a PersistentClient."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        import httpx

        base = server_url(settings.chroma_url)
        try:  # a bounded probe first: an unresponsive host would hang chromadb's client
            status = httpx.get(f"{base}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT).status_code
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_url} "
                f"({type(exc).__name__}); is it running?"
            ) from exc
        if status != 200:
            raise StoreUnavailable(
                f"{settings.chroma_url} answered HTTP {status} to a Chroma heartbeat; "
                "is it a Chroma server (version 1.x)?"
            )
        try:
            # A full URL as host keeps any path prefix (a reverse proxy) and IPv6 brackets.
            client = chromadb.HttpClient(
                host=base, ssl=base.startswith("https:"), settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises several transport errors
            raise StoreUnavailable(
                f"cannot open the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
        bound_requests(client, settings.chroma_timeout)
        return client
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def bound_requests(client: Any, seconds: float) -> None:
    """Give the HttpClient's requests a timeout: chromadb builds its httpx session with none
    and has no setting for one (chroma-core/chroma#5805), so a server that stops answering
    would hang every caller. A timeout raises httpx.TimeoutException (the API answers 503)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))


class Store:
    """The Chroma collections Newsdesk owns.

    `chunks` holds the embedded chunks (queried through LlamaIndex's ChromaVectorStore);
    `articles` holds one record per article: its metadata and bookkeeping (content hash,
    number of chunks, origin); `sentences` its full text and sentence vectors
    (index.sentence_vectors), read together when answering; `ledger` the bookkeeping again,
    one short string per article and nothing else, so a sync reads 21k articles' state in a
    fraction of the time full records take.
    The chunk collection records the embedding model that built it.
    """

    def __init__(self, settings: Settings, model_name: str, dim: Callable[[], int]) -> None:
        """Open (or create) the collections. `dim` gives the model's vector size, recorded by
        a new chunk collection: it is called only then (it may load the model)."""
        from chromadb.errors import NotFoundError

        self.settings = settings
        self.client = connect(settings)
        try:
            chunks = self.client.get_collection(settings.collection, embedding_function=None)
        except NotFoundError:  # a new index: it records the model that builds it
            chunks = None
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the Chroma collection: {exc}") from exc
        if chunks is None:  # `dim()` out of the try below: a model fails with its own error
            wanted = {"embed_model": model_name, "dim": dim(), "schema": SCHEMA_VERSION}
        try:
            if chunks is None:
                chunks = self.client.get_or_create_collection(
                    settings.collection,
                    embedding_function=None,
                    metadata=wanted,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            self.chunks = chunks
            self.articles = self.client.get_or_create_collection(
                f"{settings.collection}-articles", embedding_function=None
            )
            self.meta = self.client.get_or_create_collection(
                f"{settings.collection}-meta", embedding_function=None
            )
            self.sentences = self.client.get_or_create_collection(
                f"{settings.collection}-sentences", embedding_function=None
            )
            self.ledger = self.client.get_or_create_collection(
                f"{settings.collection}-ledger", embedding_function=None
            )
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the Chroma collection: {exc}") from exc
        built_with = (self.chunks.metadata or {}).get("embed_model")
        if built_with != model_name:
            raise ModelMismatch(
                f"the index in {self.location} was built with embedding model {built_with!r}, "
                f"not {model_name!r}: set NEWSDESK_EMBED_MODEL={built_with} or use a new "
                "NEWSDESK_DATA_DIR / NEWSDESK_COLLECTION"
            )

    @cached_property
    def vector_store(self) -> ChromaVectorStore:
        """The chunk collection as LlamaIndex's vector store (for retrieval)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    @property
    def location(self) -> str:
        """Where the index lives, for messages and `stats`."""
        return self.settings.chroma_url or str(self.settings.data_dir / "chroma")

    def stats(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """Articles, chunks, sources, model and where the index lives; `summary` (the sources
        and the last sync time) is read from the records unless given."""
        summary = self.summary() if summary is None else summary
        return {
            **self.counts(),
            "sources": summary["sources"],
            "last_sync": summary["last_sync"],
            "model": self.settings.embed_model,
            "index": self.location,
            "data_dir": str(self.settings.data_dir),
        }

    def summary(self) -> dict[str, Any]:
        """Articles per origin and per `source` field (publishers), the last sync time and the
        newest article's publication time: a read of every record."""
        records = self.records()
        origins: dict[str, int] = {}
        for meta in records.values():
            origins[meta.get("origin", "?")] = origins.get(meta.get("origin", "?"), 0) + 1
        last = max((m.get("indexed_at", "") for m in records.values()), default="") or None
        newest = max((m.get("published_at", "") for m in records.values()), default="") or None
        publishers: dict[str, int] = {}
        for meta in records.values():
            if name := meta.get("source"):
                publishers[name] = publishers.get(name, 0) + 1
        return {"sources": origins, "last_sync": last, "newest": newest, "publishers": publishers}

    # ----------------------------------------------------------------- article registry

    def records(self, origin: str | None = None) -> dict[str, dict[str, Any]]:
        """Bookkeeping metadata of every article (of one origin), keyed by article id."""
        where = {"origin": origin} if origin else None
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self.articles.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
            out.update(zip(page["ids"], page["metadatas"], strict=True))
            if len(page["ids"]) < PAGE:
                return out
            offset += PAGE

    def records_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Bookkeeping metadata of the given articles that are indexed."""
        found = self.articles.get(ids=ids, include=["metadatas"])
        return dict(zip(found["ids"], found["metadatas"], strict=True))

    def put_records(self, records: dict[str, dict[str, Any]]) -> None:
        """Write article records (metadata by article id), then their ledger entries."""
        if not records:
            return
        self.articles.upsert(
            ids=list(records),
            metadatas=list(records.values()),
            embeddings=[PLACEHOLDER_VECTOR] * len(records),
        )
        self.put_ledger({i: Entry.from_record(m) for i, m in records.items()})

    def delete_records(self, ids: list[str]) -> None:
        """Forget article records (their chunks must be deleted first), then ledger entries."""
        if ids:
            self.articles.delete(ids=ids)
            self.delete_ledger(ids)

    # ----------------------------------------------------------------- ledger

    def entries(self) -> dict[str, Entry]:
        """The ledger entry of every indexed article, keyed by article id."""
        out: dict[str, Entry] = {}
        offset = 0
        while True:
            page = self.ledger.get(include=["metadatas"], limit=PAGE, offset=offset)
            out.update(
                (i, Entry.from_metadata(m))
                for i, m in zip(page["ids"], page["metadatas"], strict=True)
            )
            if len(page["ids"]) < PAGE:
                return out
            offset += PAGE

    def entry(self, article_id: str) -> Entry | None:
        """One article's ledger entry, if it is indexed."""
        found = self.ledger.get(ids=[article_id], include=["metadatas"])
        return Entry.from_metadata(found["metadatas"][0]) if found["ids"] else None

    def put_ledger(self, entries: dict[str, Entry]) -> None:
        """Write ledger entries: an article's entry is written after its record."""
        for start in range(0, len(entries), PAGE):
            ids = list(entries)[start : start + PAGE]
            self.ledger.upsert(
                ids=ids,
                metadatas=[entries[i].to_metadata() for i in ids],
                embeddings=[PLACEHOLDER_VECTOR] * len(ids),
            )

    def delete_ledger(self, ids: list[str]) -> None:
        """Forget ledger entries (after the articles' records)."""
        if ids:
            self.ledger.delete(ids=ids)

    def reconcile_ledger(self) -> bool:
        """Make the ledger agree with the records when their counts differ (an index made
        before the ledger existed, or a writer that died between the two); True if it had to.
        The records are the authority; this reads every one of them."""
        if self.ledger.count() == self.articles.count():
            return False
        records = self.records()
        self.delete_ledger(sorted(set(self.entries()) - set(records)))
        self.put_ledger({i: Entry.from_record(m) for i, m in records.items()})
        return True

    def article(self, article_id: str) -> tuple[str, dict[str, Any]]:
        """One article's full text and metadata."""
        found = self.records_by_id([article_id])
        if article_id not in found:
            raise ArticleNotFound(f"no article with id {article_id!r} is indexed")
        return self.texts([article_id]).get(article_id, ""), found[article_id]

    def texts(self, article_ids: list[str]) -> dict[str, str]:
        """Full texts of several articles, keyed by id. (Indexes of layout 2 and before kept
        them as the records' documents; an article not yet redone is read from there.)"""
        ids = list(dict.fromkeys(article_ids))
        found = self.sentences.get(ids=ids, include=["metadatas"])
        out = {
            i: meta["text"]
            for i, meta in zip(found["ids"], found["metadatas"], strict=True)
            if "text" in meta
        }
        if older := [i for i in ids if i not in out]:
            found = self.articles.get(ids=older, include=["documents"])
            out.update((i, d) for i, d in zip(found["ids"], found["documents"], strict=True) if d)
        return out

    def list_articles(
        self, limit: int, offset: int, source: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """A page of article records (id, metadata), optionally of one `source`."""
        where = {"source": source} if source else None
        page = self.articles.get(where=where, include=["metadatas"], limit=limit, offset=offset)
        return list(zip(page["ids"], page["metadatas"], strict=True))

    # ----------------------------------------------------------------- chunks

    def delete_chunks(self, article_ids: list[str]) -> None:
        """Delete every chunk of these articles, whatever their number, and their sentences."""
        for start in range(0, len(article_ids), 500):
            batch = article_ids[start : start + 500]
            self.chunks.delete(where={"article_id": {"$in": batch}})
            self.sentences.delete(ids=batch)

    def put_texts(self, texts: dict[str, tuple[str, SentenceVectors]]) -> None:
        """Store articles' full texts with their sentence vectors, keyed by article id."""
        if texts:
            self.sentences.upsert(
                ids=list(texts),
                metadatas=[{"text": text, **v.to_metadata()} for text, v in texts.values()],
                embeddings=[PLACEHOLDER_VECTOR] * len(texts),
            )

    def put_chunks(self, nodes: list[TextNode]) -> None:
        """Add embedded chunks as LlamaIndex's ChromaVectorStore reads them back: the node as
        JSON with its text (`node_to_metadata_dict`), plus the keys in CHUNK_KEYS."""
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        metadatas = [
            {
                key: value
                for key, value in node_to_metadata_dict(node, remove_text=False).items()
                if key in CHUNK_KEYS
            }
            for node in nodes
        ]
        self.chunks.add(
            ids=[node.node_id for node in nodes],
            embeddings=[node.get_embedding() for node in nodes],
            metadatas=metadatas,
        )

    def sentence_vectors(self, article_ids: list[str]) -> dict[str, SentenceVectors]:
        """The stored sentence vectors of these articles (an index built before they were
        stored has none)."""
        found = self.sentences.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
        return {
            i: SentenceVectors.from_metadata(meta)
            for i, meta in zip(found["ids"], found["metadatas"], strict=True)
        }

    def chunk_article_ids(self) -> set[str]:
        """Ids of every article that has chunks (a full scan, for recovery after a crash)."""
        found: set[str] = set()
        offset = 0
        while True:
            page = self.chunks.get(include=["metadatas"], limit=PAGE, offset=offset)
            found.update(str(meta.get("article_id")) for meta in page["metadatas"])
            if len(page["ids"]) < PAGE:
                return found
            offset += PAGE

    def chunk_texts(self) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
        """Every chunk as (id, text, metadata), a page at a time (to build the keyword index)."""
        offset = 0
        while True:
            page = self.chunks.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            if page["ids"]:
                yield chunk_rows(page)
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def nearest_chunks(self, vector: list[float], n: int) -> list[str]:
        """Ids of the `n` chunks nearest a vector, straight from Chroma."""
        found = self.chunks.query(query_embeddings=[vector], n_results=n)
        return list(found["ids"][0])

    def chunks_by_id(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Chunk texts and metadata for the given ids."""
        if not ids:
            return {}
        found = self.chunks.get(ids=ids, include=["documents", "metadatas"])
        return {i: (text, meta) for i, text, meta in chunk_rows(found)}

    # ----------------------------------------------------------------- generation

    @property
    def generation(self) -> int:
        """A counter bumped by every write, so readers know when derived indexes are stale."""
        found = self.meta.get(ids=["generation"], include=["metadatas"])
        return int(found["metadatas"][0]["value"]) if found["ids"] else 0

    def bump_generation(self) -> int:
        """Mark the index as changed (and a write as finished); returns the new generation."""
        value = self.generation + 1
        self.meta.upsert(
            ids=["generation"], metadatas=[{"value": value}], embeddings=[PLACEHOLDER_VECTOR]
        )
        self.meta.delete(ids=["writing"])
        return value

    def begin_write(self) -> None:
        """Note that a write is under way, until `bump_generation`: a writer that dies in
        between leaves the note for the next one to recover from (Indexer._recover)."""
        self.meta.upsert(ids=["writing"], metadatas=[{"value": 1}], embeddings=[PLACEHOLDER_VECTOR])

    def write_interrupted(self) -> bool:
        """True when a write began and never finished (the writer died)."""
        return bool(self.meta.get(ids=["writing"], include=[])["ids"])

    def counts(self) -> dict[str, int]:
        """Number of articles and chunks indexed."""
        return {"articles": self.articles.count(), "chunks": self.chunks.count()}


def chunk_rows(found: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) of chunks as Chroma returns them, read as LlamaIndex does: from
    the node JSON, its text kept there (layout 2 and before kept it as the document)."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    rows = []
    for i, document, meta in zip(found["ids"], found["documents"], found["metadatas"], strict=True):
        node = metadata_dict_to_node(meta, text=document)
        rows.append((i, node.get_content(), dict(node.metadata)))
    return rows


def extra_json(extra: dict[str, Any]) -> str:
    """Extra article fields, stored as one JSON string in flat Chroma metadata."""
    return json.dumps(extra, ensure_ascii=False, sort_keys=True)


def read_stats(settings: Settings) -> dict[str, Any]:
    """`newsdesk stats` without the engine (nor LlamaIndex): the index opened alone. A new
    index records its model's vector size: only then is the model loaded."""

    def dimension() -> int:
        from newsdesk.index.embeddings import build_embedder, vector_size

        return vector_size(build_embedder(settings))

    return Store(settings, settings.embed_model, dimension).stats()


@contextmanager
def writer_lock(data_dir: Path) -> Iterator[None]:
    """Hold the single-writer lock of a data dir, or raise IndexLocked at once."""
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "writer.lock"
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        pid_file = data_dir / "writer.pid"
        holder = pid_file.read_text().strip() if pid_file.exists() else "?"
        raise IndexLocked(
            f"another Newsdesk process (pid {holder}) is writing to {data_dir}; wait for it to "
            "finish, or send changes to the running server (POST /articles, POST /reindex)"
        ) from None
    try:
        (data_dir / "writer.pid").write_text(str(os.getpid()))
        yield
    finally:
        lock.release()
