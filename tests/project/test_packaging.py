"""The distribution installs index/, api/ and bot/ as newsdesk.index, .api and .bot: every
folder is listed, and no generic top-level name (`index`, `api`, `bot`) is importable."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_of_the_code_is_a_listed_package() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {folder: name for name, folder in setuptools["package-dir"].items()}
    folders = {
        path.relative_to(ROOT)
        for top in ("index", "api", "bot", "newsdesk")
        for path in [ROOT / top, *(ROOT / top).rglob("*")]
        if path.is_dir() and path.name != "__pycache__"
    }
    expected = set()
    for folder in folders:
        top, *rest = folder.parts
        expected.add(".".join([mapped.get(top, top), *rest]))
    assert set(setuptools["packages"]) == expected


@pytest.mark.e2e
def test_no_generic_top_level_names_outside_the_repository(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = (
        "import importlib.util as u; "
        "print([u.find_spec(n) is None for n in ('index', 'api', 'bot')]); "
        "import newsdesk.index, newsdesk.api.app, newsdesk.bot.client"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, True, True]"
