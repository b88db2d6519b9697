"""Start-up cost of the `newsdesk` command: wall time of `--help`, `stats`, a no-op `ingest`
and a cold `ask`, each a fresh process, as the median of several runs; and whether each one
imported torch (one extra run under `python -X importtime`).

The data dir must hold an index of CORPUS (it is ingested first when empty), so that
`ingest CORPUS` has nothing to do.

    python -m bench.startup ../shared/corpora/bbc --data-dir /tmp/bbcdata --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What did the government announce?"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="the folder of articles indexed in --data-dir")
    parser.add_argument("--data-dir", type=Path, required=True, help="an index of CORPUS")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run")
    return parser.parse_args()


def newsdesk(python: str, data_dir: Path, args: list[str], flags: tuple[str, ...] = ()) -> str:
    """Run `python -m newsdesk ARGS` from the repository; its stderr. Fails on a non-zero exit."""
    env = {**os.environ, "NEWSDESK_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("NEWSDESK_CHROMA_URL", None)
    done = subprocess.run(
        [python, *flags, "-m", "newsdesk", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"newsdesk {' '.join(args)} failed:\n{done.stderr}")
    return done.stderr


def imports(stderr: str) -> list[tuple[str, bool, float]]:
    """What `-X importtime` reported: each module, whether the program itself imported it
    (not another module), and its cumulative seconds."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "imported package" not in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            found.append((name.strip(), not name.startswith("  "), int(cumulative) / 1e6))
    return found


def main() -> None:
    args = parse_args()
    corpus = str(args.corpus.resolve())
    if not (args.data_dir / "chroma").is_dir():
        print(f"indexing {corpus} into {args.data_dir} first…", file=sys.stderr)
        newsdesk(args.python, args.data_dir, ["ingest", corpus])
    commands = {
        "newsdesk --help": ["--help"],
        "newsdesk stats": ["stats"],
        "newsdesk ingest (no-op)": ["ingest", corpus],
        "newsdesk ask (cold)": ["ask", QUESTION],
    }
    print(f"{args.runs} runs each, median (min–max) wall seconds; {args.corpus.name} index\n")
    print("| command | wall s | imports torch | heaviest top-level imports (s) |")
    print("|---|---|---|---|")
    for label, command in commands.items():
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            newsdesk(args.python, args.data_dir, command)
            seconds.append(time.perf_counter() - start)
        found = imports(newsdesk(args.python, args.data_dir, command, ("-X", "importtime")))
        torch = any(name == "torch" for name, _, _ in found)
        top = sorted((item for item in found if item[1]), key=lambda item: -item[2])[:4]
        heavy = ", ".join(f"{name} {s:.2f}" for name, _, s in top)
        print(
            f"| {label} | {statistics.median(seconds):.2f} ({min(seconds):.2f}–"
            f"{max(seconds):.2f}) | {'yes' if torch else 'no'} | {heavy} |"
        )


if __name__ == "__main__":
    main()
