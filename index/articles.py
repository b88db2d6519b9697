"""Read article files of every supported format into `Article`s, or say why a file was skipped."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from newsdesk.index.errors import InvalidArticle, SourceNotFound

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
NOT_ARTICLES = re.compile(r"^(readme|license|licence|changelog|copying)(\.|$)", re.IGNORECASE)
"""Documentation files that sit beside articles in a corpus folder; never indexed."""

BOILERPLATE_TAIL = {
    "source link",
    "read more",
    "advertisement",
    "share this article",
    "related articles",
    "continue reading",
}
BYLINE = re.compile(r"^\s*By\s+(?P<names>[^\n]{2,120})$")
TEXT_KEYS = ("text", "body", "content")
KNOWN_KEYS = {"id", "title", "url", "published_at", "authors", "author", "source", *TEXT_KEYS}


@dataclass
class Article:
    """One news article with the metadata Newsdesk keeps for it."""

    id: str
    title: str
    text: str
    url: str | None = None
    published_at: str | None = None
    authors: list[str] = field(default_factory=list)
    source: str | None = None
    extra: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Digest of everything that ends up in the index; equal hashes mean nothing to redo."""
        payload = json.dumps(
            [
                self.title,
                self.text,
                self.url,
                self.published_at,
                self.authors,
                self.source,
                sorted(self.extra.items()),
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class Skipped:
    """A file (or line of a file) that could not be read as an article, and why."""

    path: str
    reason: str


# --------------------------------------------------------------------------- field helpers


def normalise_date(value: Any) -> str | None:
    """An ISO-8601 string for a date-like value, or None when it cannot be understood."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


def split_authors(value: Any) -> list[str]:
    """Authors from a list or a byline-style string ("A, B and C")."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(a).strip() for a in value if str(a).strip()]
    parts = re.split(r",|;|\band\b|&", str(value))
    return [p.strip() for p in parts if p.strip()]


def flat_value(value: Any) -> str | int | float | bool | None:
    """A value Chroma metadata can hold: scalars as they are, lists joined, the rest as JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def strip_boilerplate(lines: list[str]) -> list[str]:
    """Drop trailing blank lines and known boilerplate lines such as "Source link"."""
    while lines and (not lines[-1].strip() or lines[-1].strip().lower() in BOILERPLATE_TAIL):
        lines.pop()
    return lines


def clean_text(text: str) -> str:
    """Normalise newlines and trim each line's trailing spaces; keep paragraphs."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(strip_boilerplate(lines)).strip()


LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""What a JSON escape such as `\\ud800` alone leaves in a str: it cannot be encoded."""


def scrub(value: Any) -> Any:
    """`value` with lone surrogates in its strings replaced by U+FFFD, recursively."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


NOT_PRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Unicode categories an article id may not hold: C0/C1 controls and DEL, surrogates, line and
paragraph separators (such an id could not be shown, logged or put in a URL faithfully)."""


def unprintable(text: str) -> bool:
    """Whether `text` holds a character of the NOT_PRINTABLE categories."""
    return any(unicodedata.category(ch) in NOT_PRINTABLE for ch in text)


def id_problem(article_id: str) -> str | None:
    """Why `article_id` cannot be an article id, or None when it can."""
    if not article_id.strip():
        return "the id is blank"
    if unprintable(article_id):
        return "the id holds control characters or line breaks; use printable characters only"
    return None


def from_record(record: dict[str, Any], default_id: str, where: str) -> Article:
    """An Article from a JSON object with fields id, title, text|body|content, url, ..."""
    if not isinstance(record, dict):
        raise InvalidArticle(f"{where}: expected a JSON object, got {type(record).__name__}")
    record = scrub(record)
    text = next((record[k] for k in TEXT_KEYS if isinstance(record.get(k), str)), "")
    text = clean_text(text)
    title = str(record.get("title") or "").strip()
    if not text:
        raise InvalidArticle(f"{where}: no text (expected a non-empty 'text', 'body' or 'content')")
    extra = {
        k: v
        for k, v in ((k, flat_value(v)) for k, v in record.items() if k not in KNOWN_KEYS)
        if v is not None and v != ""
    }
    article_id = str(record.get("id") or default_id).strip()
    if problem := id_problem(article_id):
        raise InvalidArticle(f"{where}: {problem}")
    return Article(
        id=article_id,
        title=title or first_words(text),
        text=text,
        url=(str(record["url"]).strip() or None) if record.get("url") else None,
        published_at=normalise_date(record.get("published_at") or record.get("date")),
        authors=split_authors(record.get("authors") or record.get("author")),
        source=str(record["source"]).strip() if record.get("source") else None,
        extra=extra,
    )


def first_words(text: str, limit: int = 80) -> str:
    """A stand-in title: the first sentence or words of the text."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


# --------------------------------------------------------------------------- decoding


def decode(data: bytes) -> str:
    """Text from bytes: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    """True for data that is not text: NUL bytes or mostly control characters."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return bool(head) and control / len(head) > 0.05


# --------------------------------------------------------------------------- per-format readers


def read_plain(text: str, default_id: str, stem: str) -> Article:
    """A .txt article: optional YAML front matter, headline first line, optional `By` byline."""
    meta: dict[str, Any] = {}
    if text.startswith("---"):
        meta, text = parse_front_matter(text)
    lines = clean_text(text).split("\n")
    title = str(meta.get("title") or "").strip()
    authors = split_authors(meta.get("authors") or meta.get("author"))

    def pop_blank() -> None:
        while lines and not lines[0].strip():
            lines.pop(0)

    pop_blank()
    if not title and lines and not BYLINE.match(lines[0]):
        title = lines.pop(0).strip()
        pop_blank()
    if lines and (match := BYLINE.match(lines[0])):
        authors = authors or split_authors(match["names"])
        lines.pop(0)
        pop_blank()
    body = "\n".join(lines).strip()
    record = {**meta, "title": title or stem, "text": body, "authors": authors}
    return from_record(record, default_id, default_id)


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and the rest of the text."""
    import frontmatter

    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if isinstance(handler, frontmatter.YAMLHandler):
        handler = yaml_without_aliases()
    try:
        post = frontmatter.loads(text, handler=handler)
    except InvalidArticle:
        raise
    except Exception as exc:  # the YAML library raises many types
        raise InvalidArticle(f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    return dict(post.metadata), post.content


@lru_cache(maxsize=1)
def yaml_without_aliases() -> Any:
    """A front matter handler that refuses YAML aliases: `*a` nested in lists (a "billion
    laughs") expands exponentially when the metadata is flattened to JSON."""
    import frontmatter
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise InvalidArticle("front matter uses YAML aliases (*name), not accepted")
            return super().compose_node(parent, index)

    class Handler(frontmatter.YAMLHandler):
        def load(self, fm: str, **kwargs: object) -> Any:
            return yaml.load(fm, Loader=NoAliasLoader)  # a SafeLoader

    return Handler()


def read_markdown(text: str, default_id: str, stem: str) -> Article:
    """A Markdown article: YAML front matter for metadata; a leading `# ` heading as title."""
    meta, body = parse_front_matter(text)
    body = body.lstrip()
    title = str(meta.get("title") or "").strip()
    if body.startswith("# "):
        heading, _, body = body.partition("\n")
        title = title or heading[2:].strip()
    record = {**meta, "title": title or stem, "text": body}
    return from_record(record, default_id, default_id)


def read_html(raw: str, default_id: str, stem: str) -> Article:
    """An HTML page: trafilatura extracts main text and metadata; hidden elements are removed."""
    import trafilatura

    document = trafilatura.bare_extraction(
        strip_hidden(raw), with_metadata=True, include_comments=False, deduplicate=False
    )
    if document is None or not (document.text or "").strip():
        raise InvalidArticle("no readable article text found in the HTML")
    title = (document.title or "").strip()
    text = document.text.strip()
    if title and text.startswith(title):
        text = text[len(title) :].lstrip()
    record = {
        "title": title or stem,
        "text": text,
        "url": document.url,
        "published_at": document.date,
        "authors": split_authors(document.author),
        "source": document.sitename,
    }
    return from_record(record, default_id, default_id)


HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def strip_hidden(raw: str) -> str:
    """HTML without elements a reader cannot see (hidden attribute, aria-hidden, display:none)."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(raw)
    except Exception:  # lxml raises ParserError or ValueError for junk; trafilatura copes
        return raw
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        style = element.get("style") or ""
        if (
            element.get("hidden") is not None
            or element.get("aria-hidden") == "true"
            or HIDDEN_STYLE.search(style)
            or element.tag in ("template", "noscript")
        ):
            element.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode")


# --------------------------------------------------------------------------- files and folders


def read_file(path: Path, rel_id: str, max_bytes: int) -> Iterator[Article | Skipped]:
    """Every article in one file, or a `Skipped` for each part that could not be read."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            yield Skipped(rel_id, "not a regular file")
            return
        if path.suffix.lower() == ".jsonl":  # many articles: the limit is per line
            with path.open("rb") as file:
                yield from read_jsonl(file, rel_id, max_bytes)
            return
        size = info.st_size
        if size > max_bytes:
            yield Skipped(rel_id, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
            return
        with path.open("rb") as file:  # bounded, should it grow after the stat
            data = file.read(max_bytes + 1)
        if len(data) > max_bytes:
            yield Skipped(rel_id, f"file is over the {max_bytes:,}-byte limit")
            return
    except OSError as exc:
        yield Skipped(rel_id, f"cannot read file ({exc.strerror or exc})")
        return
    if problem := not_text(data):
        yield Skipped(rel_id, problem)
        return
    suffix = path.suffix.lower()
    text = decode(data)
    stem = path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    try:
        if suffix == ".json":
            yield from read_json(text, rel_id)
        elif suffix in (".md", ".markdown"):
            yield read_markdown(text, rel_id, stem)
        elif suffix in (".html", ".htm"):
            yield read_html(text, rel_id, stem)
        else:
            yield read_plain(text, rel_id, stem)
    except InvalidArticle as exc:
        yield Skipped(rel_id, str(exc))


def not_text(data: bytes) -> str | None:
    """Why a file's bytes (or its first 8 kB) cannot hold articles, if they cannot."""
    if not data.strip():
        return "empty file"
    if looks_binary(data):
        return "binary file, not text"
    return None


def read_json(text: str, rel_id: str) -> Iterator[Article | Skipped]:
    """A .json file: one article object or a list of them."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Skipped(rel_id, f"invalid JSON at line {exc.lineno}: {exc.msg}")
        return
    except RecursionError:
        yield Skipped(rel_id, "invalid JSON: nested too deeply")
        return
    if isinstance(data, dict):
        yield from_record(data, rel_id, rel_id)
        return
    if not isinstance(data, list):
        yield Skipped(rel_id, "JSON must be an article object or a list of them")
        return
    for i, item in enumerate(data):
        where = f"{rel_id}[{i}]"
        try:
            yield from_record(item, where, where)
        except InvalidArticle as exc:
            yield Skipped(where, str(exc))


def read_jsonl(file: BinaryIO, rel_id: str, max_bytes: int) -> Iterator[Article | Skipped]:
    """A .jsonl file, streamed: one article object per line, a file of any size, each line at
    most `max_bytes`. Broken or oversized lines are skipped one by one; each line is decoded
    on its own, so a line in another encoding garbles no other line."""
    if problem := not_text(file.read(8192)):
        yield Skipped(rel_id, problem)
        return
    file.seek(0)
    for number, raw in enumerate(iter(lambda: file.readline(max_bytes + 1), b""), start=1):
        where = f"{rel_id}:{number}"
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while (rest := file.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass  # the rest of the oversized line
            yield Skipped(where, f"line is over the {max_bytes:,}-byte limit")
            continue
        line = decode(raw)
        if not line.strip():
            continue
        try:
            yield from_record(json.loads(line), where, where)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"invalid JSON: {exc.msg}")
        except RecursionError:
            yield Skipped(where, "invalid JSON: nested too deeply")
        except InvalidArticle as exc:
            yield Skipped(where, str(exc))


def iter_source(source: Path, max_bytes: int) -> Iterator[Article | Skipped]:
    """Every article under a source: a folder (recursively), or a single file."""
    if not source.exists():
        raise SourceNotFound(f"no such file or folder: {source}")
    if source.is_file():
        yield from read_file(source, scrub(source.name), max_bytes)
        return
    root = source.resolve()
    for path, rel, problem in walk_files(root):
        if problem:
            yield Skipped(rel, problem)
        else:
            yield from read_file(path, rel, max_bytes)


def name_problem(name: str) -> str | None:
    """Why a file or folder name cannot be part of an article id, if it cannot: bytes that are
    not UTF-8 (`os.fsdecode` keeps them as lone surrogates) or control characters."""
    if LONE_SURROGATE.search(name):
        return "name is not valid UTF-8"
    if unprintable(name):
        return "name contains control characters (such as a newline)"
    return None


def walk_files(root: Path) -> Iterable[tuple[Path, str, str | None]]:
    """Article files under root in a stable order, as (path, relative id, problem or None).

    Hidden files and folders, documentation files and unsupported suffixes are left out;
    a symlink is read only when it resolves to a file inside root. Files and folders whose
    names cannot make an id are never opened (watchfiles stops at any event for a name that
    is not UTF-8, opening the file included); neither are folders that cannot be listed.
    """
    unlisted: list[OSError] = []

    def problems() -> Iterator[tuple[Path, str, str | None]]:
        while unlisted:
            exc = unlisted.pop(0)
            path = Path(exc.filename)
            rel = scrub(path.relative_to(root).as_posix()) + "/"
            yield path, rel, f"cannot list folder ({exc.strerror or exc})"

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted.append, followlinks=False):
        yield from problems()
        here = Path(dirpath)
        for name in sorted(dirnames):
            if not name.startswith(".") and (problem := name_problem(name)):
                rel = scrub((here / name).relative_to(root).as_posix())
                yield here / name, rel + "/", f"folder {problem}: its files are not read"
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not name_problem(d))
        for name in sorted(filenames):
            if name.startswith(".") or NOT_ARTICLES.match(name):
                continue
            path = here / name
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            rel = scrub(path.relative_to(root).as_posix())
            if problem := name_problem(name):
                yield path, rel, f"file {problem}: rename it to index it"
                continue
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a loop (RuntimeError before Python 3.13)
                    yield path, rel, "symlink cannot be resolved (a loop?)"
                    continue
                if not target.is_relative_to(root):
                    yield path, rel, "symlink points outside the source"
                    continue
                if not target.is_file():
                    yield path, rel, "symlink does not point to a file"
                    continue
            yield path, rel, None
    yield from problems()
