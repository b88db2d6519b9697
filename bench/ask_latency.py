"""Latency of POST /ask over HTTP next to its floor (query embedding + Chroma query alone).

Indexes CORPUS into a temp data dir (or reuses --data-dir as it is), measures the floor and
the engine's own `ask` in this process, then starts `newsdesk serve` (uvicorn on a loopback
port) and times sequential POST /ask requests. Questions are built from indexed headlines,
or taken from --questions.

    python bench/ask_latency.py ../shared/corpora/bbc --data-dir /tmp/bbcdata
    python bench/ask_latency.py ../shared/corpora/bbc --data-dir /tmp/bbcdata \
        --questions ../shared/qa/bbc_dev.jsonl ../shared/qa/bbc_dev_more.jsonl
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

WARM_UP = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder of articles to index and ask about")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="reuse this index as it is (not synced again unless empty); default: a temp dir",
    )
    parser.add_argument("--requests", type=int, default=200, help="timed requests per line")
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        help="ask these question sets (JSON Lines, `newsdesk eval`'s) instead of headlines",
    )
    return parser.parse_args()


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    return statistics.median(seconds) * 1000, statistics.quantiles(seconds, n=100)[94] * 1000


def timed(action: Callable[[str], object], questions: list[str]) -> list[float]:
    """Run `action` on each question after a warm-up; the seconds each call took."""
    for question in questions[:WARM_UP]:
        action(question)
    times = []
    for question in questions:
        start = time.perf_counter()
        action(question)
        times.append(time.perf_counter() - start)
    return times


def timed_in_worker(action: Callable[[str], object], questions: list[str]) -> list[float]:
    """`timed` in a worker thread, as the API runs the engine (torch's intra-op threading
    differs between the main thread and others, which skews a main-thread floor badly on a
    busy machine)."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(timed, action, questions).result()


def headline_questions(engine: object, count: int) -> list[str]:
    """`count` questions built from headlines spread over the index."""
    from newsdesk.index import Engine

    assert isinstance(engine, Engine)
    total = engine.counts()["articles"]
    step = max(total // count, 1)
    rows = engine.list_articles(total, 0)
    titles = [meta["title"] for _, meta in rows[::step] if meta.get("title")]
    return [f"What happened: {title}?" for title in (titles * count)[:count]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(data_dir: Path, workdir: Path) -> Iterator[str]:
    """`newsdesk serve` on a free loopback port, rate limit off; its base URL once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env |= {"NEWSDESK_DATA_DIR": str(data_dir), "NEWSDESK_ASK_RATE_LIMIT": "0"}
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "newsdesk", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    (workdir / "serve.pid").write_text(str(process.pid))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise SystemExit(f"newsdesk serve exited; see {workdir / 'serve.log'}")
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("newsdesk serve did not become ready in 300 s")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        log.close()


def main() -> None:
    args = parse_args()
    from newsdesk.api.server import SERVER_ENV

    os.environ.update(SERVER_ENV)  # before torch loads: measure in-process as the server runs
    from newsdesk.index import Engine, Settings

    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        engine = Engine(Settings(data_dir=data_dir, _env_file=None))
        if not engine.counts()["articles"]:
            print(f"indexing {args.corpus} into {data_dir} …", file=sys.stderr)
            report = engine.sync([args.corpus])
            print(f"indexed {report.added} articles in {report.seconds:.0f}s", file=sys.stderr)
        counts = engine.counts()
        if args.questions:
            from newsdesk.index import load_questions

            asked = [q.question for path in args.questions for q in load_questions(path)]
            questions = (asked * args.requests)[: args.requests]
        else:
            questions = headline_questions(engine, args.requests)

        def floor(question: str) -> None:
            engine.vector_search(question)

        rows = [
            ("floor: query embedding + Chroma query", timed_in_worker(floor, questions)),
            ("engine.ask in-process", timed_in_worker(engine.ask, questions)),
        ]
        engine.close()
        with (
            api_server(data_dir, Path(tmp)) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):

            def ask(question: str) -> None:
                http.post("/ask", json={"question": question}).raise_for_status()

            rows.append(("POST /ask over HTTP (uvicorn)", timed(ask, questions)))

    print(
        f"{args.corpus}: {counts['articles']} articles, {counts['chunks']} chunks; "
        f"{args.requests} sequential calls per line after {WARM_UP} warm-up, {os.cpu_count()} CPUs"
    )
    print(f"{'':40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, seconds in rows:
        p50, p95 = percentiles(seconds)
        print(f"{label:40} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
