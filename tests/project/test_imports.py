"""The import graph: front ends reach the core only through its facade, the core imports no
front end, and no modules import each other in a circle. Read from the source (ast): fast."""

from __future__ import annotations

import ast
import tomllib
from functools import cache
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = "index"
FRONT_ENDS = ("api", "bot", "bench", "newsdesk")
PACKAGES = (CORE, *FRONT_ENDS)
BEYOND_THE_FACADE = {
    # The answerer's training tool fits the scorer on the answerer's own features.
    "bench/fit_answerer.py": ("index.answer", "index.evaluate"),
    # Times embedding alone (chunker and model, no engine): the floor under a sync.
    "bench/run.py": ("index.articles", "index.chunking", "index.embeddings", "index.sync"),
    # The follow-up model's training tool fits it on the resolver's own features.
    "bench/fit_followup.py": (
        "index.config",
        "index.conversation",
        "index.engine",
        "index.evaluate",
    ),
    # The follow-up shift's training tool fits it on the answerer's own features, turn by turn.
    "bench/fit_shift.py": (
        "index.answer",
        "index.config",
        "index.conversation",
        "index.engine",
        "index.evaluate",
    ),
    # Builds LlamaIndex's own retrievers over the same index, model and fusion weights.
    "bench/fusion.py": ("index.embeddings", "index.retrieval"),
}
"""Front-end files allowed deeper into the core, and where."""


def modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def short(name: str) -> str:
    """A module's name by its folder: newsdesk.index.engine (installed) is index.engine."""
    for folder in (CORE, "api", "bot"):
        if name == f"newsdesk.{folder}" or name.startswith(f"newsdesk.{folder}."):
            return name.removeprefix("newsdesk.")
    return name


@cache
def imports(path: Path) -> frozenset[str]:
    """The project modules a file imports anywhere (type-checking and function-level too)."""
    known = modules()
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(short(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = short(node.module)
            names.add(module)
            # `from newsdesk.bot import render` imports the module bot.render
            names.update(
                f"{module}.{alias.name}"
                for alias in node.names
                if f"{module}.{alias.name}" in known
            )
    return frozenset(n for n in names if n.split(".")[0] in PACKAGES)


def test_front_ends_use_only_the_facade() -> None:
    wrong = []
    for name, path in modules().items():
        if name.split(".")[0] == CORE:
            continue
        allowed = BEYOND_THE_FACADE.get(path.relative_to(ROOT).as_posix(), ())
        for target in imports(path):
            deep = target.startswith(f"{CORE}.")
            if deep and not any(target == a or target.startswith(f"{a}.") for a in allowed):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "import `newsdesk.index` (the facade) instead:\n" + "\n".join(sorted(wrong))


def test_core_imports_no_front_end() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.split(".")[0] == CORE
        for target in imports(path)
        if target.split(".")[0] in FRONT_ENDS
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circles() -> None:
    known = modules()
    graph = {
        name: {t for t in imports(path) if t in known and t != name} for name, path in known.items()
    }
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not circles, "\n".join(circles)


def test_facade_exports_resolve() -> None:
    index = import_module(f"newsdesk.{CORE}")
    missing = [name for name in index.__all__ if not hasattr(index, name)]
    assert not missing


def test_console_script_resolves() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["newsdesk"].partition(":")
    assert module.split(".")[0] not in (CORE, "api", "bot")
    assert callable(getattr(import_module(module), function))
