"""Run the `newsdesk` CLI while recording every file the process opens (a Python audit hook),
so a test can prove which files an ingest read (tests/index/test_reliability_hostile.py).

    python tests/support/audit_driver.py OPENED_LOG newsdesk-arguments...

OPENED_LOG gets one opened path per line, written when the process exits. The peak resident
memory (KiB) is its last line, as `maxrss <n>`.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys
from pathlib import Path
from typing import Any

opened: list[str] = []


def hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        opened.append(os.fsdecode(args[0]))


def dump(log: Path) -> None:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines = [repr(path) for path in opened] + [f"maxrss {maxrss}"]
    log.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    log = Path(sys.argv[1])
    sys.argv = ["newsdesk", *sys.argv[2:]]
    atexit.register(dump, log)
    sys.addaudithook(hook)
    from newsdesk.cli import main

    main()
