"""Shared fixtures: settings on temp dirs, the real bundled model loaded once per session.

Tests that use some of these fixtures are marked by them (`pytest_collection_modifyitems`
below), so a new test cannot forget: `real_embedder` or `real_engine` → `integration` (the real
bundled model), `chroma_server` → `e2e` (a `chroma run` subprocess). Every other mark is
written on the test or its module (tests/README.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdesk.index.config import Settings
from newsdesk.index.embeddings import TEST_MODEL

FIXTURES = Path(__file__).parent / "fixtures"

MARKED_BY_FIXTURE = {
    "real_embedder": "integration",
    "real_engine": "integration",
    "chroma_server": "e2e",
}
"""A test that uses the fixture (directly or through another fixture) gets the marker."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in MARKED_BY_FIXTURE.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(MARKED_BY_FIXTURE[fixture])


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the fixture corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", target)
    return target


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    """Settings with the deterministic test embedder and a temp data dir."""
    return Settings(data_dir=tmp_path / "data", embed_model=TEST_MODEL, _env_file=None)


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The bundled all-MiniLM-L6-v2, loaded once for all integration tests."""
    from newsdesk.index.embeddings import build_embedder

    return build_embedder(Settings(_env_file=None))


@pytest.fixture
def real_engine(tmp_path: Path, real_embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An engine with the real model and an embedded Chroma in a temp dir."""
    from newsdesk.index.engine import Engine

    yield Engine(Settings(data_dir=tmp_path / "data", _env_file=None), embedder=real_embedder)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `chroma run` server on a free loopback port, shared by the session.

    Tests that use it pick their own `collection` so they do not see each other's data."""
    from tests.support.chroma_server import running_chroma

    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url
