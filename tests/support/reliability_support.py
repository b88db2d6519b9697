"""Helpers for the reliability tests (tests/*/test_reliability_*.py): synthetic corpora, a
restartable `chroma run`, percentiles and the one-line figures each test prints."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.chroma_server import HOST, chroma_command, free_port, log_tail, stop

TOWNS = [
    "Ashbury", "Brackwell", "Corrin", "Dunmore", "Elsfield", "Farrowby", "Glenmoor", "Harwick",
    "Ilverton", "Jessop", "Kilbride", "Larkhill", "Mossgate", "Northam", "Oxley", "Pennard",
    "Quarrow", "Redmarsh", "Stowbridge", "Tarrant", "Upwood", "Varley", "Wexcombe", "Yarrow",
]  # fmt: skip
PROJECTS = [
    ("library", "a new public library"),
    ("ferry", "a second ferry route"),
    ("market", "a covered food market"),
    ("stadium", "a rebuilt football stadium"),
    ("tramline", "an extension of the tramline"),
    ("school", "a secondary school for 900 pupils"),
    ("hospital", "a maternity wing at the hospital"),
    ("wind farm", "an offshore wind farm"),
]
PEOPLE = ["Mara Quill", "Oskar Venn", "Lidia Sorrel", "Tobias Wrenfield", "Ines Calder"]
SENTENCES = [
    "The {town} council approved {project} on {day} by {votes} votes to {against}.",
    "It will cost {cost} million pounds and should open in {year}.",
    "Council leader {person} said the {short} would serve {people:,} residents.",
    "Opponents argued that the money should go to road repairs instead.",
    "Work is due to start in {month}, once the contracts have been signed.",
    "A consultation drew {replies:,} replies, most of them in favour.",
    "The {short} will be built on the site of a former {old}.",
    "Local businesses expect {jobs} new jobs during construction.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["March", "April", "May", "June", "September", "October"]
OLD_SITES = ["gasworks", "car park", "bus depot", "textile mill", "cattle market"]


def synthetic_article(rng: random.Random, n: int, sentences: int) -> tuple[str, str]:
    """A short council-news article as (title, text), distinct for each `n`."""
    town = f"{TOWNS[n % len(TOWNS)]}-{n}"
    short, project = PROJECTS[rng.randrange(len(PROJECTS))]
    values = {
        "town": town,
        "project": project,
        "short": short,
        "day": rng.choice(DAYS),
        "votes": rng.randint(20, 40),
        "against": rng.randint(1, 19),
        "cost": rng.randint(2, 400),
        "year": rng.randint(2026, 2031),
        "person": rng.choice(PEOPLE),
        "people": rng.randint(5, 300) * 1000,
        "month": rng.choice(MONTHS),
        "replies": rng.randint(200, 9000),
        "old": rng.choice(OLD_SITES),
        "jobs": rng.randint(20, 900),
    }
    chosen = [SENTENCES[0], *rng.sample(SENTENCES[1:], min(sentences - 1, len(SENTENCES) - 1))]
    while len(chosen) < sentences:  # long articles repeat the pattern with new numbers
        values = {**values, "cost": rng.randint(2, 400), "jobs": rng.randint(20, 900)}
        chosen.append(rng.choice(SENTENCES[1:]))
    text = " ".join(s.format(**values) for s in chosen)
    return f"{town} backs {short}", text


def write_article(path: Path, title: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}\n\n{text}\n", encoding="utf-8")


def write_corpus(folder: Path, count: int, seed: int = 7, prefix: str = "council") -> list[Path]:
    """`count` short synthetic articles as .txt files in `folder/prefix/`; every tenth is long."""
    rng = random.Random(seed)
    paths = []
    for n in range(count):
        title, text = synthetic_article(rng, n, 12 if n % 10 == 0 else 3)
        path = folder / prefix / f"{n:04d}.txt"
        write_article(path, title, text)
        paths.append(path)
    return paths


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def print_figures(
    capsys: pytest.CaptureFixture[str], title: str, figures: dict[str, object]
) -> None:
    """Print a test's figures even when pytest captures output (RELIABILITY.md quotes them)."""
    with capsys.disabled():
        print(f"\n[{title}] " + "; ".join(f"{k}: {v}" for k, v in figures.items()), flush=True)


def run_bounded(
    command: list[str], timeout: float, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """A subprocess that is killed (not left running) if it outlasts `timeout` seconds."""
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def wait_until(check: Callable[[], bool], what: str, timeout: float, step: float = 0.1) -> float:
    """Poll `check` until true; returns the seconds it took. A deadline, not a speed check."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - started


class ChromaProcess:
    """A `chroma run` on a fixed loopback port and path that a test can stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on the same port and path as before; wait for its heartbeat."""
        self.starts += 1
        log = self.workdir / f"chroma-{self.starts}.log"
        args = ["run", "--path", str(self.workdir / "db"), "--host", HOST, "--port", str(self.port)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*chroma_command(), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self.proc

        def alive() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"chroma run exited with {proc.returncode}:\n{log_tail(log)}")
            try:
                return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(alive, "chroma run to answer its heartbeat", timeout, step=0.2)

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


@contextmanager
def chroma_process(workdir: Path) -> Iterator[ChromaProcess]:
    """A started ChromaProcess, always stopped at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = ChromaProcess(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def python_command(module: str, *args: str) -> list[str]:
    """Run a module of this repo with the test run's interpreter."""
    return [sys.executable, "-m", module, *args]


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
