"""Run syncs that SIGKILL themselves at chosen points (tests/index/test_reliability_crash.py).

    python tests/support/crash_driver.py < commands

Loads the embedding model once, prints `ready`, then reads one command per line,
`DATA_DIR<TAB>SOURCE<TAB>KILL`, runs that sync in a forked child (so each run starts in a
fresh process without paying for imports and the model again) and prints the child's exit
status: -9 when it was killed, 0 after a full sync, 3 when the kill point was never reached,
1 on an error (traceback on stderr).

KILL is `none`, `<point>:<n>` to die as the n-th call of <point> begins, or
`<point>:<n>:during` to die a few milliseconds into that call. Points: embed (the embedding
model's batch call), delete_chunks, add (chunks into Chroma), put_texts, put_records,
delete_records, bump (the generation counter), keyword_save. The product code has no test
hooks: the child wraps those functions from outside.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

CHUNK_SIZE = 64
CHUNK_OVERLAP = 8
BATCH_CHUNKS = 16
"""Small batches, so a few hundred short articles make several batches to die between."""
DURING_DELAY = {"embed": 0.05, "add": 0.002, "keyword_save": 0.01}
timers: list[threading.Timer] = []


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(owner: Any, name: str, point: str, nth: int, during: bool) -> None:
    """Wrap `owner.name` so that its `nth` call kills the process (before or during it)."""
    original = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            if not during:
                die()
            timers.append(threading.Timer(DURING_DELAY.get(point, 0.01), die))
            timers[-1].start()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def settings_for(data_dir: Path) -> Any:
    from newsdesk.index.config import Settings

    return Settings(
        data_dir=data_dir, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, _env_file=None
    )


def run(embedder: Any, data_dir: Path, source: Path, kill: str) -> int:
    """One sync (in the forked child); returns the exit status if it was not killed."""
    import newsdesk.index.sync
    from newsdesk.index.engine import Engine
    from newsdesk.index.lexical import KeywordIndex
    from newsdesk.index.store import Store

    newsdesk.index.sync.BATCH_CHUNKS = BATCH_CHUNKS
    if kill != "none":
        point, nth, *mode = kill.split(":")
        targets: dict[str, tuple[Any, str]] = {
            "embed": (type(embedder), "embed_with_spans"),
            "delete_chunks": (Store, "delete_chunks"),
            "add": (Store, "put_chunks"),
            "put_texts": (Store, "put_texts"),
            "put_records": (Store, "put_records"),
            "delete_records": (Store, "delete_records"),
            "bump": (Store, "bump_generation"),
            "keyword_save": (KeywordIndex, "save"),
        }
        owner, name = targets[point]
        arm(owner, name, point, int(nth), mode == ["during"])
    Engine(settings_for(data_dir), embedder=embedder).sync([source])
    for timer in timers:  # a `during` call that ended first: die just after it, not never
        timer.join()
    return 0 if kill == "none" else 3


def main() -> None:
    # Everything imported and the model loaded here, before any fork; the model is not run
    # (no thread pools started) until a child does.
    import newsdesk.index.engine  # noqa: F401
    from newsdesk.index.embeddings import build_embedder

    embedder = build_embedder(settings_for(Path(".")))
    print("ready", flush=True)
    for line in sys.stdin:
        data_dir, source, kill = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = run(embedder, Path(data_dir), Path(source), kill)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(wait_status), flush=True)


if __name__ == "__main__":
    main()
