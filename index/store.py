"""Chroma, embedded or server: the chunk, article and sentence collections, and the writer lock."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from newsdesk.index.config import Settings
from newsdesk.index.errors import (
    ArticleNotFound,
    ConfigError,
    IndexLocked,
    ModelMismatch,
    StoreUnavailable,
)
from newsdesk.index.sentence_vectors import SentenceVectors, unit

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

RECENT_ROWS = 64
"""Sentence rows kept from the last `texts` reads: an answer reads its articles' texts, then
the sentence vectors of the same rows."""
LAYOUT = 4
"""How an index is stored: its chunk collection records it. Layout 4 keeps each article's
record in three metadata keys and the generation in the chunk collection's metadata; layouts
1-3 (per-article `layout` keys, a ledger and a meta collection) are not read: re-ingest."""
PLACEHOLDER_VECTOR = [1.0]
"""Articles and sentences are looked up by id only; Chroma still wants a vector per record."""
PAGE = 5000
CHUNK_KEYS = {"_node_content", "_node_type", "article_id", "source", "published_ts"}
"""What a chunk keeps as Chroma metadata keys: LlamaIndex's node JSON (text included) and the
keys filters and deletes match on. Chroma writes a row per key and full-text-indexes
documents, which Newsdesk never searches, so chunks have no document and few keys."""
RECORD_KEYS = ("origin", "source")
"""The keys of an article record that Chroma filters on; the rest is one JSON string."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a Chroma server's heartbeat (chromadb's own client never times out)."""
MAX_PENDING_CALLS = 32
"""Chroma server calls that may be waiting on the server at once (see `Bounded`)."""


@dataclass(frozen=True)
class Entry:
    """What a sync needs to know of an indexed article: where it came from, which text it was
    indexed from, and how many chunks it has."""

    origin: str
    content_hash: str
    n_chunks: int

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Entry:
        return cls(str(record["origin"]), str(record["content_hash"]), int(record["n_chunks"]))


def pack(record: dict[str, Any]) -> dict[str, Any]:
    """An article record as Chroma metadata: the keys filters match on, the rest as JSON (Chroma
    writes a row per key: 3 keys read 4.5x faster than 11, see `Store`)."""
    rest = {k: v for k, v in record.items() if k not in RECORD_KEYS}
    return {**{k: record[k] for k in RECORD_KEYS}, "record": json.dumps(rest, ensure_ascii=False)}


def unpack(metadata: dict[str, Any]) -> dict[str, Any]:
    """An article record from its Chroma metadata (`pack` undone)."""
    return {**json.loads(metadata["record"]), **{k: metadata[k] for k in RECORD_KEYS}}


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
    """A Chroma client: HttpClient when a server URL is set (each call bounded by
    NEWSDESK_CHROMA_TIMEOUT, see `Bounded`), else a PersistentClient."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    base = server_url(settings.chroma_url)
    probe(base, settings.chroma_url)
    bounded = Bounded(chromadb, settings.chroma_timeout, threading.Semaphore(MAX_PENDING_CALLS))
    try:
        # A full URL as host keeps any path prefix (a reverse proxy) and IPv6 brackets.
        return bounded.HttpClient(
            host=base, ssl=base.startswith("https:"), settings=chroma_settings
        )
    except StoreUnavailable:
        raise
    except Exception as exc:  # chromadb raises several transport errors
        raise StoreUnavailable(
            f"cannot open the Chroma server at {settings.chroma_url}: {exc}"
        ) from exc


def probe(base: str, url: str) -> None:
    """StoreUnavailable unless a Chroma server answers its heartbeat at `base` in time."""
    import httpx

    try:
        status = httpx.get(f"{base}/api/v2/heartbeat", timeout=CONNECT_TIMEOUT).status_code
    except httpx.HTTPError as exc:
        raise StoreUnavailable(
            f"cannot reach the Chroma server at {url} ({type(exc).__name__}); is it running?"
        ) from exc
    if status != 200:
        raise StoreUnavailable(
            f"{url} answered HTTP {status} to a Chroma heartbeat; "
            "is it a Chroma server (version 1.x)?"
        )


class Bounded:
    """A Chroma client, collection or module whose calls give up after `seconds`: the caller
    gets StoreUnavailable (the API answers 503) instead of waiting on a silent server.

    Upstream: chromadb's HttpClient (1.5.9, the newest release) sends every request through an
    httpx session made with `timeout=None`; neither `chromadb.config.Settings` (its only
    timeouts are server-side) nor `HttpClient()` takes a client timeout (chroma-core/chroma#1227
    asks for one). Rather than patch the client's private session, each call runs in a daemon
    thread and is waited for at most `seconds`. A call the server never answers keeps its thread
    until the connection drops; at most MAX_PENDING_CALLS wait at once (`slots`), and a call
    finding none free fails as a timeout does.
    """

    def __init__(self, target: Any, seconds: float, slots: threading.Semaphore) -> None:
        self._target = target
        self._seconds = seconds
        self._slots = slots

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._call(value, args, kwargs)

    def _call(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
        from chromadb.api import ClientAPI
        from chromadb.api.models.Collection import Collection

        if not self._slots.acquire(timeout=self._seconds):
            raise StoreUnavailable(f"the Chroma server has not answered for {self._seconds:g} s")
        outcome: Future[Any] = Future()

        def work() -> None:
            try:
                outcome.set_result(function(*args, **kwargs))
            except BaseException as exc:  # re-raised in the caller's thread
                outcome.set_exception(exc)
            finally:
                self._slots.release()

        threading.Thread(target=work, name="newsdesk-chroma", daemon=True).start()
        try:
            value = outcome.result(timeout=self._seconds)
        except TimeoutError:
            raise StoreUnavailable(
                f"the Chroma server did not answer within {self._seconds:g} s"
            ) from None
        if isinstance(value, Collection | ClientAPI):
            return Bounded(value, self._seconds, self._slots)
        return value


class Store:
    """The Chroma collections Newsdesk owns, named after NEWSDESK_COLLECTION (`newsdesk`):

    - `newsdesk`: the embedded chunks (LlamaIndex's node JSON, text included). Its collection
      metadata records the embedding model, the vector size, the layout (LAYOUT), the
      generation (bumped by every write, so every process knows when derived indexes such as
      the keyword index are stale) and `writing` while a write is under way (crash recovery:
      Indexer._recover);
    - `newsdesk-articles`: one record per article (its metadata and bookkeeping: origin,
      content hash, number of chunks), packed into three keys (`pack`);
    - `newsdesk-sentences`: each article's full text, sentence offsets and sentence vectors,
      read together when answering and kept apart from the records, which syncs and `stats`
      read in bulk.

    No ledger: a sync reads the records themselves. Chroma stores a row per metadata key, so
    the 11-key records of layout 3 took 3.7 s to read at 21.6k articles against 0.4 s for the
    one-key ledger that duplicated them; packed into 3 keys they take 0.8 s. On BBC (2,225
    articles) a sync's read costs 50-90 ms more than the ledger's, lost in the noise of a no-op
    `newsdesk ingest`, and `stats`, which read the full records anyway, reads them in 0.1 s
    instead of 0.3-0.6 s.
    """

    def __init__(self, settings: Settings, model_name: str, dim: Callable[[], int]) -> None:
        """Open (or create) the collections. `dim` gives the model's vector size, recorded by
        a new chunk collection: it is called only then (it may load the model)."""
        from chromadb.errors import NotFoundError

        self.settings = settings
        self.client = connect(settings)
        self._read: OrderedDict[str, dict[str, Any]] = OrderedDict()
        """The sentence rows `texts` read last (RECENT_ROWS at most), for `vectors_of`."""
        self._read_lock = threading.Lock()
        try:
            chunks = self.client.get_collection(settings.collection, embedding_function=None)
        except NotFoundError:  # a new index: it records the model that builds it
            chunks = None
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the Chroma collection: {exc}") from exc
        if chunks is not None:
            self._check_layout(chunks.metadata or {})
        else:  # `dim()` out of the try below: a model fails with its own error
            wanted = {"embed_model": model_name, "dim": dim(), "layout": LAYOUT, "generation": 0}
        try:
            if chunks is None:
                chunks = self.client.get_or_create_collection(
                    settings.collection,
                    embedding_function=None,
                    metadata=wanted,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            self.chunks = chunks
            self.articles = self._collection("articles")
            self.sentences = self._collection("sentences")
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the Chroma collection: {exc}") from exc
        built_with = (self.chunks.metadata or {}).get("embed_model")
        if built_with != model_name:
            raise ModelMismatch(
                f"the index in {self.location} was built with embedding model {built_with!r}, "
                f"not {model_name!r}: set NEWSDESK_EMBED_MODEL={built_with} or use a new "
                "NEWSDESK_DATA_DIR / NEWSDESK_COLLECTION"
            )

    def _collection(self, kind: str) -> Any:
        """The `<collection>-<kind>` key-value collection (ids and metadata only)."""
        name = f"{self.settings.collection}-{kind}"
        return self.client.get_or_create_collection(name, embedding_function=None)

    def _check_layout(self, metadata: dict[str, Any]) -> None:
        """ConfigError unless the chunk collection was written in this LAYOUT: an index of
        another layout is not read (a re-ingest is the upgrade)."""
        layout = metadata.get("layout")
        if layout == LAYOUT:
            return
        where = (
            f"(or delete {self.settings.data_dir / 'chroma'})"
            if not self.settings.chroma_url
            else f"(or delete its collections on {self.settings.chroma_url})"
        )
        if isinstance(layout, int) and layout > LAYOUT:
            raise ConfigError(
                f"the index in {self.location} was built by a newer Newsdesk (layout {layout}, "
                f"this one reads layout {LAYOUT}): upgrade Newsdesk, or re-ingest into a new "
                f"NEWSDESK_DATA_DIR / NEWSDESK_COLLECTION {where}"
            )
        raise ConfigError(
            f"this index was built by an older Newsdesk (layout {layout or self._old_layout()}); "
            f"re-ingest into a new NEWSDESK_DATA_DIR / NEWSDESK_COLLECTION {where} — this "
            f"version reads layout {LAYOUT} only ({self.location})"
        )

    def _old_layout(self) -> str:
        """The layout of an index from before LAYOUT 4, as its article records name it."""
        try:
            name = f"{self.settings.collection}-articles"
            found = self.client.get_collection(name, embedding_function=None).get(
                limit=1, include=["metadatas"]
            )
        except Exception:  # only the message depends on it
            return "3 or earlier"
        metadatas = found["metadatas"] or [{}]
        return str(metadatas[0].get("layout", "3 or earlier"))

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

    # ----------------------------------------------------------------- article records

    def records(self, origin: str | None = None) -> dict[str, dict[str, Any]]:
        """The record of every article (of one origin), keyed by article id."""
        where = {"origin": origin} if origin else None
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self.articles.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
            out.update((i, unpack(m)) for i, m in zip(page["ids"], page["metadatas"], strict=True))
            if len(page["ids"]) < PAGE:
                return out
            offset += PAGE

    def records_by_id(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The records of the given articles that are indexed."""
        found = self.articles.get(ids=ids, include=["metadatas"])
        return {i: unpack(m) for i, m in zip(found["ids"], found["metadatas"], strict=True)}

    def entries(self) -> dict[str, Entry]:
        """What a sync needs of every indexed article, keyed by article id."""
        return {i: Entry.from_record(r) for i, r in self.records().items()}

    def entry(self, article_id: str) -> Entry | None:
        """What a sync needs of one article, if it is indexed."""
        found = self.records_by_id([article_id])
        return Entry.from_record(found[article_id]) if found else None

    def put_records(self, records: dict[str, dict[str, Any]]) -> None:
        """Write article records (by article id)."""
        if records:
            self.articles.upsert(
                ids=list(records),
                metadatas=[pack(r) for r in records.values()],
                embeddings=[PLACEHOLDER_VECTOR] * len(records),
            )

    def delete_records(self, ids: list[str]) -> None:
        """Forget article records (their chunks must be deleted first)."""
        if ids:
            self.articles.delete(ids=ids)

    def article(self, article_id: str) -> tuple[str, dict[str, Any]]:
        """One article's full text and record."""
        found = self.records_by_id([article_id])
        if article_id not in found:
            raise ArticleNotFound(f"no article with id {article_id!r} is indexed")
        return self.texts([article_id]).get(article_id, ""), found[article_id]

    def texts(self, article_ids: list[str]) -> dict[str, str]:
        """Full texts of several articles, keyed by id."""
        found = self.sentences.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
        rows = dict(zip(found["ids"], found["metadatas"], strict=True))
        with self._read_lock:
            for article_id, meta in rows.items():
                self._read[article_id] = meta
                self._read.move_to_end(article_id)
            while len(self._read) > RECENT_ROWS:
                self._read.popitem(last=False)
        return {article_id: meta["text"] for article_id, meta in rows.items()}

    def list_articles(
        self, limit: int, offset: int, source: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """A page of article records (id, record), optionally of one `source`."""
        where = {"source": source} if source else None
        page = self.articles.get(where=where, include=["metadatas"], limit=limit, offset=offset)
        return [(i, unpack(m)) for i, m in zip(page["ids"], page["metadatas"], strict=True)]

    # ----------------------------------------------------------------- chunks

    def delete_chunks(self, article_ids: list[str]) -> None:
        """Delete every chunk of these articles, whatever their number, and their sentences."""
        self._forget(article_ids)
        for start in range(0, len(article_ids), 500):
            batch = article_ids[start : start + 500]
            self.chunks.delete(where={"article_id": {"$in": batch}})
            self.sentences.delete(ids=batch)

    def put_texts(self, texts: dict[str, tuple[str, SentenceVectors]]) -> None:
        """Store articles' full texts with their sentence vectors, keyed by article id."""
        self._forget(list(texts))
        if texts:
            self.sentences.upsert(
                ids=list(texts),
                metadatas=[{"text": text, **v.to_metadata()} for text, v in texts.values()],
                embeddings=[PLACEHOLDER_VECTOR] * len(texts),
            )

    def _forget(self, article_ids: list[str]) -> None:
        """Drop these articles' rows kept from `texts` reads (they are written anew)."""
        with self._read_lock:
            for article_id in article_ids:
                self._read.pop(article_id, None)

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

    def vectors_of(self, texts: Mapping[str, str]) -> dict[str, SentenceVectors]:
        """The sentence vectors stored with exactly these texts (id: text): taken from the
        rows `texts` last read when they hold the same text, else read now. An article stored
        since with another text has none here."""
        with self._read_lock:
            rows = {i: self._read[i] for i in texts if i in self._read}
        missing = [i for i in texts if rows.get(i, {}).get("text") != texts[i]]
        if missing:
            found = self.sentences.get(ids=missing, include=["metadatas"])
            rows.update(zip(found["ids"], found["metadatas"], strict=True))
        return {
            i: SentenceVectors.from_metadata(meta)
            for i, meta in rows.items()
            if meta.get("text") == texts[i]
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
            page = self.chunks.get(include=["metadatas"], limit=PAGE, offset=offset)
            if page["ids"]:
                yield chunk_rows(page["ids"], page["metadatas"])
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    def nearest(
        self, vector: list[float], n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """The `n` chunks nearest a vector (that match `where`), nearest first, as (id, cosine
        similarity): Chroma's cosine distance for this collection's `{"hnsw": {"space":
        "cosine"}}` is 1 - cosine similarity. Texts and metadata are left to `chunks_by_id`,
        for the few chunks an answer reads."""
        found = self.chunks.query(
            query_embeddings=[vector], n_results=n, where=where, include=["distances"]
        )
        return [
            (i, 1.0 - distance)
            for i, distance in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    def nearest_among(self, vector: list[float], article_ids: list[str]) -> float | None:
        """The cosine similarity of the chunk of these few articles nearest a vector, None
        when they have none. Exact: their chunk vectors are read and compared, which is
        cheaper than a filtered index search for a handful of articles."""
        found = self.chunks.get(where={"article_id": {"$in": article_ids}}, include=["embeddings"])
        vectors = found["embeddings"]
        if vectors is None or len(vectors) == 0:
            return None
        rows = unit(np.asarray(vectors, dtype=np.float64))
        query = unit(np.asarray([vector], dtype=np.float64))[0]
        return float(np.max(rows @ query))

    def chunks_by_id(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Chunk texts and metadata for the given ids."""
        if not ids:
            return {}
        found = self.chunks.get(ids=ids, include=["metadatas"])
        return {i: (text, meta) for i, text, meta in chunk_rows(found["ids"], found["metadatas"])}

    # ----------------------------------------------------------------- generation

    def _index_metadata(self) -> dict[str, Any]:
        """The chunk collection's metadata as stored now (another process may have written)."""
        collection = self.client.get_collection(self.settings.collection, embedding_function=None)
        return dict(collection.metadata or {})

    def _set_index_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the chunk collection's metadata (Chroma's `modify` replaces, not merges)."""
        self.chunks.modify(metadata=metadata)

    @property
    def generation(self) -> int:
        """A counter bumped by every write, so readers know when derived indexes are stale."""
        return int(self._index_metadata().get("generation", 0))

    def bump_generation(self) -> int:
        """Mark the index as changed (and a write as finished); returns the new generation."""
        metadata = self._index_metadata()
        metadata.pop("writing", None)
        metadata["generation"] = int(metadata.get("generation", 0)) + 1
        self._set_index_metadata(metadata)
        return metadata["generation"]

    def begin_write(self) -> None:
        """Note that a write is under way, until `bump_generation`: a writer that dies in
        between leaves the note for the next one to recover from (Indexer._recover)."""
        self._set_index_metadata({**self._index_metadata(), "writing": True})

    def write_interrupted(self) -> bool:
        """True when a write began and never finished (the writer died)."""
        return bool(self._index_metadata().get("writing"))

    def counts(self) -> dict[str, int]:
        """Number of articles and chunks indexed."""
        return {"articles": self.articles.count(), "chunks": self.chunks.count()}


def chunk_rows(
    ids: list[str], metadatas: list[dict[str, Any]]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) of chunks as Chroma returns them, read as LlamaIndex does: from
    the node JSON, which holds the text."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    rows = []
    for i, meta in zip(ids, metadatas, strict=True):
        node = metadata_dict_to_node(meta)
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
