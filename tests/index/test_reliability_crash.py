"""Crash-safe sync: SIGKILL a real sync (bundled model, embedded Chroma) at eleven points spread
over embedding, writing and bookkeeping; then restart, re-sync, and check that the index holds
exactly the expected chunks and records: none missing, none duplicated, none stale."""

from __future__ import annotations

import random
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import MetadataMode

from newsdesk.index.articles import Article, iter_source
from newsdesk.index.chunking import Chunker
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from newsdesk.index.lexical import KeywordIndexCache
from newsdesk.index.sync import origin_of
from tests.support.crash_driver import CHUNK_OVERLAP, CHUNK_SIZE
from tests.support.reliability_support import (
    print_figures,
    synthetic_article,
    write_article,
    write_corpus,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.e2e]

DRIVER = Path(__file__).parents[1] / "support" / "crash_driver.py"
START_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0
"""Bounds on the driver's start (imports, model) and on one sync; never speed checks."""
ARTICLES = 240
KILL_POINTS = [
    ("embed:1:during", "embedding, first batch"),
    ("embed:3", "embedding, before the third batch"),
    ("delete_chunks:2", "writing, before deleting batch 2's old chunks"),
    ("add:6", "writing, old chunks of edited articles deleted, new not added"),
    ("add:3:during", "writing, 2 ms into Chroma's add of batch 3"),
    ("put_texts:2", "writing, batch 2's chunks added, its texts and sentence vectors not"),
    ("put_records:1", "bookkeeping, new articles' chunks added, not recorded"),
    ("put_records:5", "bookkeeping, a later batch's records"),
    ("delete_records:1", "bookkeeping, removed articles' chunks gone, records not"),
    ("bump:1", "bookkeeping, everything written, generation not bumped"),
    ("keyword_save:1:during", "bookkeeping, saving the keyword index"),
]
VANISHES = "fresh/0000.txt"
"""A new article (first batch) deleted between the crash and the restart, except after the
last two kill points: there the restart must find nothing left to write."""
KEEP_ALL = {"bump:1", "keyword_save:1:during"}


def settings_for(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, _env_file=None
    )


def make_v2(corpus: Path) -> None:
    """Edit the v1 corpus in place: 24 edited articles (long ones shrink, short ones grow,
    some reworded), 16 removed, 30 new in `fresh/` (which sorts, and syncs, first)."""
    for n in range(0, 80, 10):  # long -> short: their chunks #1.. must disappear
        title, text = synthetic_article(random.Random(n + 1000), n, 2)
        write_article(corpus / "news" / f"{n:04d}.txt", title, text)
    for n in range(1, 80, 10):  # short -> long: new chunk ids
        title, text = synthetic_article(random.Random(n + 2000), n, 12)
        write_article(corpus / "news" / f"{n:04d}.txt", title, text)
    for n in range(2, 80, 10):  # same length, new words
        path = corpus / "news" / f"{n:04d}.txt"
        path.write_text(path.read_text().replace("council", "town council"))
    for n in range(ARTICLES - 16, ARTICLES):
        (corpus / "news" / f"{n:04d}.txt").unlink()
    write_corpus(corpus, 30, seed=99, prefix="fresh")


class Driver:
    """tests/support/crash_driver.py: loads the model once, then forks one child per sync."""

    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc = proc
        self.log = log

    def line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:  # poll/epoll: fds past 1024 are fine
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        out = self.proc.stdout.readline() if ready else ""
        if not out:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the crash driver stopped answering:\n{tail}")
        return out.strip()

    def run(self, data: Path, source: Path, kill: str) -> int:
        """One sync in a fresh child process; its exit status (-9 when killed)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{data}\t{source}\t{kill}\n")
        self.proc.stdin.flush()
        return int(self.line(RUN_TIMEOUT))


@contextmanager
def crash_driver(workdir: Path) -> Iterator[Driver]:
    log = workdir / "driver.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=workdir,
        )
    try:
        driver = Driver(proc, log)
        assert driver.line(START_TIMEOUT) == "ready"
        yield driver
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def expected_state(source: Path, settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """(chunk id -> chunk text, article id -> content hash) of a correct index of `source`."""
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    origin = origin_of(source)
    chunks: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for item in iter_source(source, settings.max_file_bytes):
        assert isinstance(item, Article), item
        hashes[item.id] = item.content_hash
        for node in chunker.chunk(item, origin):
            chunks[node.id_] = node.get_content(metadata_mode=MetadataMode.NONE)
    return chunks, hashes


def problems_after_restart(
    engine: Engine, source: Path, settings: Settings
) -> tuple[list[str], dict[str, int]]:
    """Re-sync, then compare the index with the expected state; returns (problems, redone)."""
    report = engine.sync([source])
    redone = {"added": report.added, "updated": report.updated, "removed": report.removed}
    want_chunks, want_hashes = expected_state(source, settings)
    rows = [row for page in engine._store.chunk_texts() for row in page]
    ids = [i for i, _, _ in rows]
    got_chunks = {i: text for i, text, _ in rows}
    problems = []
    if len(ids) != len(set(ids)) or engine._store.chunks.count() != len(set(ids)):
        problems.append("duplicate chunk ids")
    if missing := set(want_chunks) - set(got_chunks):
        problems.append(f"{len(missing)} chunks missing, e.g. {sorted(missing)[:3]}")
    if extra := set(got_chunks) - set(want_chunks):
        problems.append(f"{len(extra)} stale chunks, e.g. {sorted(extra)[:3]}")
    if stale := [i for i in set(want_chunks) & set(got_chunks) if got_chunks[i] != want_chunks[i]]:
        problems.append(f"{len(stale)} chunks with old text, e.g. {sorted(stale)[:3]}")
    records = engine._store.records()
    if {i: m.get("content_hash") for i, m in records.items()} != want_hashes:
        problems.append("article records differ from the source (ids or hashes)")
    sentences = engine._store.vectors_of(engine._store.texts(list(want_hashes)))
    if set(sentences) != set(want_hashes) or engine._store.sentences.count() != len(want_hashes):
        problems.append("sentence vectors missing or left over")
    keywords = KeywordIndexCache(engine._store, settings.data_dir / "keyword-index").get()
    if set(keywords.chunk_ids) != set(want_chunks) or len(keywords.chunk_ids) != len(want_chunks):
        problems.append("the keyword index does not match the chunks")
    again = engine.sync([source])
    if again.added or again.updated or again.removed:
        problems.append(f"a second re-sync still found work: {again.to_dict()}")
    return problems, redone


def restart(
    data: Path, source: Path, embedder: BaseEmbedding, vanish: bool
) -> tuple[str, list[str]]:
    """After a crash: a new article's file may vanish, then the store is opened and re-synced
    (in this process, with the driver's child dead). Returns (outcome line, problems)."""
    if vanish:
        (source / VANISHES).unlink()
    settings = settings_for(data)
    try:
        engine = Engine(settings, embedder=embedder)  # the store opens after the crash
        problems, redone = problems_after_restart(engine, source, settings)
    except Exception as exc:  # a store that cannot open or sync is a failed kill point
        problems, redone = [f"{type(exc).__name__}: {exc}"], {}
    return f"re-sync redid {redone} -> " + ("ok" if not problems else "; ".join(problems)), problems


def test_sync_survives_kill_9_at_every_write_step(
    tmp_path: Path, real_embedder: BaseEmbedding, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    pristine_v1 = tmp_path / "v1"
    write_corpus(pristine_v1, ARTICLES, prefix="news")
    pristine_v2 = tmp_path / "v2"
    shutil.copytree(pristine_v1, pristine_v2)
    make_v2(pristine_v2)
    source = tmp_path / "corpus"  # one path for every run: it is the source's identity
    shutil.copytree(pristine_v1, source)
    base = tmp_path / "base-data"
    outcomes: list[str] = []
    failures: list[str] = []
    with crash_driver(tmp_path) as driver:
        assert driver.run(base, source, "none") == 0
        v1_chunks, _ = expected_state(source, settings_for(base))
        for n, (kill, where) in enumerate(KILL_POINTS, start=1):
            data = tmp_path / f"kill-{n}"
            shutil.copytree(base, data)
            shutil.rmtree(source)
            shutil.copytree(pristine_v2, source)
            status = driver.run(data, source, kill)
            if status != -signal.SIGKILL:
                failures.append(f"{kill}: not killed (exit {status})")
                continue
            outcome, problems = restart(data, source, real_embedder, kill not in KEEP_ALL)
            outcomes.append(f"  {kill:<22} {where}: {outcome}")
            if problems:
                failures.append(f"{kill}: {'; '.join(problems)}")

    survived = len(KILL_POINTS) - len(failures)
    with capsys.disabled():
        print("\n" + "\n".join(outcomes))
    print_figures(
        capsys,
        "crash-safe sync",
        {
            "kill points survived": f"{survived}/{len(KILL_POINTS)}",
            "corpus": f"{ARTICLES} articles ({len(v1_chunks)} chunks), then 30 new, 24 edited, "
            "16 removed; 1 new one deleted after 8 of the crashes",
            "seconds": round(time.monotonic() - started),
        },
    )
    assert not failures, "\n".join(failures)
