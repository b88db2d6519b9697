"""Newsdesk's benchmark: every figure next to its floor, measured in the same run.

For each corpus size (a label and its source paths), in a fresh temp data dir:
  1. full ingest vs the embedding-only floor (same chunk texts, same model, same batch size);
  2. no-op re-sync, and adding one article with the model loaded (Engine.upsert, as
     POST /articles does), and a keyword-index rebuild;
  3. POST /ask p50/p95 over HTTP, sequential and with 8 concurrent clients, vs the retrieval
     floor (query embedding + Chroma query alone);
  4. peak RSS of the API process with the corpus loaded.
Prints a Markdown table (and writes it with --out).

    python -m bench.run --corpus bbc ../shared/corpora/bbc \\
        --corpus bbc+reuters ../shared/corpora/bbc ../shared/corpora/reuters21578.jsonl \\
        --out bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.ask_latency import api_server, headline_questions, percentiles, timed, timed_in_worker

CONCURRENT_CLIENTS = 8


@dataclass
class Size:
    """Figures for one corpus size."""

    label: str
    articles: int = 0
    chunks: int = 0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    """(measure, value, floor or note)."""
    ask_p50: float = 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument(
        "--corpus",
        nargs="+",
        action="append",
        required=True,
        metavar=("LABEL", "PATH"),
        help="a size to measure: a label, then the article sources it holds",
    )
    parser.add_argument("--requests", type=int, default=200, help="timed requests per line")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    return parser.parse_args()


def embedding_floor(engine: object, sources: list[Path]) -> tuple[float, int]:
    """Seconds to embed every chunk text of the sources with the same model, batch size and
    grouping as a sync, nothing else (sentence-transformers' own encode, which orders each
    group by length to pad least); and the number of chunks."""
    from llama_index.core.schema import MetadataMode

    from newsdesk.index import Engine
    from newsdesk.index.articles import Article, iter_source
    from newsdesk.index.chunking import Chunker
    from newsdesk.index.embeddings import build_embedder
    from newsdesk.index.sync import BATCH_CHUNKS, batched_by_chunks, origin_of, prepare

    assert isinstance(engine, Engine)
    settings = engine.settings
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    texts: list[list[str]] = []
    for source in sources:
        articles = [
            a for a in iter_source(source, settings.max_file_bytes) if isinstance(a, Article)
        ]
        origin = origin_of(source)
        prepared = (prepare(a, chunker, origin) for a in articles)
        for batch in batched_by_chunks(prepared, BATCH_CHUNKS):
            texts.append(
                [
                    n.get_content(metadata_mode=MetadataMode.EMBED)
                    for _, nodes, _ in batch
                    for n in nodes
                ]
            )
    model = build_embedder(settings).sentence_model  # type: ignore[union-attr]
    started = time.perf_counter()
    for group in texts:  # encode() sorts a group by length, then embeds it batch by batch
        model.encode(group, batch_size=settings.embed_batch_size)
    return time.perf_counter() - started, sum(len(g) for g in texts)


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(label: str, sources: list[Path], requests: int, workdir: Path) -> Size:
    from newsdesk.index import Engine, Settings
    from newsdesk.index.articles import Article

    size = Size(label)
    data_dir = workdir / "data"
    engine = Engine(Settings(data_dir=data_dir, _env_file=None))
    print(f"[{label}] embedding floor …", file=sys.stderr, flush=True)
    floor_s, floor_chunks = embedding_floor(engine, sources)
    print(f"[{label}] full ingest …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    report = engine.sync(sources)
    ingest_s = time.perf_counter() - started
    counts = engine.counts()
    size.articles, size.chunks = counts["articles"], counts["chunks"]
    size.rows.append(
        (
            "full ingest",
            f"{ingest_s:.1f} s ({report.added} articles, {report.chunks_added} chunks)",
            f"embedding alone {floor_s:.1f} s ({floor_chunks} chunks): ratio "
            f"**{ingest_s / floor_s:.2f}**",
        )
    )
    started = time.perf_counter()
    noop = engine.sync(sources)
    size.rows.append(
        (
            "no-op re-sync",
            f"{time.perf_counter() - started:.2f} s",
            f"{noop.unchanged} unchanged, {noop.chunks_added} chunks embedded",
        )
    )
    extra = Article(
        id="bench-extra-article",
        title="Benchmark adds one article",
        text="A harbour town opened a new lighthouse museum on Saturday. " * 8,
    )
    started = time.perf_counter()
    engine.upsert(extra)
    size.rows.append(
        (
            "add one article (model loaded)",
            f"{time.perf_counter() - started:.2f} s",
            "Engine.upsert, as POST /articles",
        )
    )
    started = time.perf_counter()
    engine.rebuild_keywords()
    size.rows.append(
        (
            "keyword index rebuild after a change",
            f"{time.perf_counter() - started:.2f} s",
            "in the background in the API",
        )
    )
    engine.delete(extra.id)
    engine.rebuild_keywords()

    questions = headline_questions(engine, requests)

    def retrieval_floor(question: str) -> None:
        engine.vector_search(question)

    floor_p50, floor_p95 = percentiles(timed_in_worker(retrieval_floor, questions))
    engine.close()
    print(f"[{label}] POST /ask over HTTP …", file=sys.stderr, flush=True)
    with api_server(data_dir, workdir) as url, httpx.Client(base_url=url, timeout=120) as http:

        def ask(question: str) -> None:
            http.post("/ask", json={"question": question}).raise_for_status()

        p50, p95 = percentiles(timed(ask, questions))
        size.ask_p50 = p50
        with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:

            def ask_timed(question: str) -> float:
                start = time.perf_counter()
                ask(question)
                return time.perf_counter() - start

            concurrent = list(pool.map(ask_timed, questions))
        c50, c95 = percentiles(concurrent)
        rss = peak_rss_mb(server_pid(workdir))
    floor = f"retrieval floor p50 {floor_p50:.1f} / p95 {floor_p95:.1f} ms"
    size.rows.append(
        (
            "POST /ask, sequential",
            f"p50 {p50:.1f} / p95 {p95:.1f} ms",
            f"{floor}: p50 ratio **{p50 / floor_p50:.2f}**",
        )
    )
    size.rows.append(
        (
            f"POST /ask, {CONCURRENT_CLIENTS} concurrent clients",
            f"p50 {c50:.1f} / p95 {c95:.1f} ms",
            floor,
        )
    )
    size.rows.append(("API peak RSS with the corpus loaded", f"{rss:.0f} MB", "VmHWM"))
    return size


def server_pid(workdir: Path) -> int:
    """The pid `api_server` recorded for `newsdesk serve`."""
    return int((workdir / "serve.pid").read_text())


def render(sizes: list[Size], requests: int) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} CPUs ({cpu}), {memory} GB RAM, no GPU; "
        f"Python {platform.python_version()}. Model: bundled all-MiniLM-L6-v2 on the CPU. "
        f"{requests} requests per latency line after warm-up.",
        "",
        "Reproduce: `python -m bench.run --corpus bbc ../shared/corpora/bbc --corpus "
        "bbc+reuters ../shared/corpora/bbc ../shared/corpora/reuters21578.jsonl "
        "--out bench/RESULTS.md`",
        "",
    ]
    for size in sizes:
        lines += [
            f"## {size.label}: {size.articles:,} articles, {size.chunks:,} chunks",
            "",
            "| measure | value | floor / note |",
            "|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in size.rows]
        lines.append("")
    if len(sizes) >= 2:
        first, last = sizes[0], sizes[-1]
        lines.append(
            f"Growth {first.label} → {last.label} ({first.articles:,} → {last.articles:,} "
            f"articles): POST /ask sequential p50 {first.ask_p50:.1f} → {last.ask_p50:.1f} ms, "
            f"ratio **{last.ask_p50 / first.ask_p50:.2f}**."
        )
    lines += ["", f"Load average (1, 5, 15 min) when the report was written: {load()}."]
    return "\n".join(lines) + "\n"


def load() -> str:
    """The machine's load averages, so a reader can tell a quiet run from a shared one."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    args = parse_args()
    sizes = []
    for spec in args.corpus:
        if len(spec) < 2:
            raise SystemExit("--corpus needs a label and at least one path")
        label, paths = spec[0], [Path(p) for p in spec[1:]]
        with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
            sizes.append(measure(label, paths, args.requests, Path(tmp)))
        report = render(sizes, args.requests)  # written after each size: a long run keeps
        if args.out:  # what it has measured so far
            args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
