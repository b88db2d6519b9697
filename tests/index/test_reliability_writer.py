"""Single writer: while one `newsdesk ingest` syncs a few hundred articles into an embedded data
dir, other `newsdesk ingest` processes on that dir are refused with a clear message (before
they load the model or open the store), and the first finishes with an intact index."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from llama_index.core.embeddings import BaseEmbedding

from newsdesk.index.articles import Article, iter_source
from newsdesk.index.chunking import Chunker
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine
from newsdesk.index.sync import origin_of
from tests.support.api_support import newsdesk_command
from tests.support.reliability_support import print_figures, run_bounded, wait_until, write_corpus

ARTICLES = 300


def lock_holder(lock: Path) -> int | None:
    """The pid holding a flock on `lock`, read from /proc/locks (without touching the lock)."""
    try:
        inode = lock.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
            return int(fields[4])
    return None


def expected_chunk_ids(folder: Path, settings: Settings) -> set[str]:
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    ids = set()
    for item in iter_source(folder, settings.max_file_bytes):
        assert isinstance(item, Article)
        ids.update(node.id_ for node in chunker.chunk(item, origin_of(folder)))
    return ids


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.integration
def test_a_second_writer_is_refused_while_the_first_finishes_intact(
    tmp_path: Path, real_embedder: BaseEmbedding, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/proc/locks").exists():
        pytest.skip("needs Linux /proc/locks to see who holds the writer lock")
    folder, other = tmp_path / "articles", tmp_path / "other"
    write_corpus(folder, ARTICLES)
    write_corpus(other, 3, seed=3, prefix="elsewhere")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env |= {"NEWSDESK_DATA_DIR": str(data), "COLUMNS": "400"}  # no wrapped error lines
    out, err = (tmp_path / "first.out").open("wb"), (tmp_path / "first.err").open("wb")
    first = subprocess.Popen(
        [*newsdesk_command(), "ingest", "--json", str(folder)],
        cwd=tmp_path,
        env=env,
        stdout=out,
        stderr=err,
    )
    refusals: list[subprocess.CompletedProcess[str]] = []
    refusal_seconds: list[float] = []
    try:
        lock = data / "writer.lock"
        for _ in range(2):  # twice, 0.5 s apart: held by the sync, not the start-up check
            wait_until(
                lambda: lock_holder(lock) == first.pid or first.poll() is not None,
                "the first ingest to hold the writer lock",
                300,
            )
            time.sleep(0.5)
        assert first.poll() is None, (tmp_path / "first.err").read_text()
        for source in (folder, other):  # the same source, and another one
            started = time.monotonic()
            refusals.append(
                run_bounded(
                    [*newsdesk_command(), "ingest", str(source)], 120, cwd=tmp_path, env=env
                )
            )
            refusal_seconds.append(time.monotonic() - started)
        first.wait(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        out.close()
        err.close()

    wanted = f"error: another Newsdesk process (pid {first.pid}) is writing to {data}"
    for refused in refusals:
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert refused.stderr.startswith(wanted), refused.stderr
        assert "Traceback" not in refused.stderr
    assert first.returncode == 0, (tmp_path / "first.err").read_text()
    report = json.loads((tmp_path / "first.out").read_text())
    assert (report["added"], report["skipped"]) == (ARTICLES, [])

    settings = Settings(data_dir=data, _env_file=None)
    engine = Engine(settings, embedder=real_embedder)
    chunk_ids = engine._store.chunks.get(include=[])["ids"]
    assert len(chunk_ids) == len(set(chunk_ids)) == report["chunks_added"]
    assert set(chunk_ids) == expected_chunk_ids(folder, settings)
    assert len(engine._store.records()) == ARTICLES
    again = engine.sync([folder])
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, ARTICLES)
    print_figures(
        capsys,
        "single writer",
        {
            "second writers refused": f"{len(refusals)}/{len(refusals)} (exit 1)",
            "refused in": " and ".join(f"{s:.1f} s" for s in refusal_seconds),
            "message": refusals[0].stderr.strip()[:110] + "…",
            "first ingest": f"{report['added']} articles, {report['chunks_added']} chunks, "
            "intact (ids exact, re-sync unchanged)",
        },
    )
