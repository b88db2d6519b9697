"""Reading articles: every format, metadata, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsdesk.index.articles import Article, Skipped, iter_source, normalise_date, split_authors
from newsdesk.index.errors import SourceNotFound

LIMIT = 1_000_000


def read_all(path: Path, limit: int = LIMIT) -> tuple[dict[str, Article], dict[str, str]]:
    articles: dict[str, Article] = {}
    skipped: dict[str, str] = {}
    for item in iter_source(path, limit):
        if isinstance(item, Skipped):
            skipped[item.path] = item.reason
        else:
            articles[item.id] = item
    return articles, skipped


def test_fixture_corpus_reads_six_articles_and_skips_four(corpus: Path) -> None:
    articles, skipped = read_all(corpus)
    assert sorted(articles) == [
        "chips-1",
        "chips-2",
        "tech/robot-vacuum.html",
        "world/cafe-latin1.txt",
        "world/glacier.md",
        "world/harbour-bridge.txt",
    ]
    assert sorted(skipped) == [
        "tech/chips.jsonl:3",
        "tech/chips.jsonl:4",
        "tech/logo.txt",
        "world/empty.txt",
    ]
    assert "binary" in skipped["tech/logo.txt"]
    assert "empty" in skipped["world/empty.txt"]
    assert "invalid JSON" in skipped["tech/chips.jsonl:3"]
    assert "no text" in skipped["tech/chips.jsonl:4"]


def test_txt_headline_body_and_trailing_boilerplate(corpus: Path) -> None:
    articles, _ = read_all(corpus)
    bridge = articles["world/harbour-bridge.txt"]
    assert bridge.title == "Council approves new harbour bridge"
    assert bridge.text.startswith("The city council of Port Elling")
    assert not bridge.text.rstrip().endswith("Source link")


def test_latin1_file_is_decoded(corpus: Path) -> None:
    articles, _ = read_all(corpus)
    cafe = articles["world/cafe-latin1.txt"]
    assert cafe.title == "Café chain expands to Lyon"
    assert "Brûlerie Noire" in cafe.text and "Amélie Roux" in cafe.text


def test_byline_becomes_authors_and_front_matter_gives_title(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "---\ntitle: A headline\nsource: Reuters\n---\nBy Jane Roe and John Doe\nBody text here.\n"
    )
    (tmp_path / "b.txt").write_text("By Sam Poe\nOnly a byline and a body.\nSource link\n")
    articles, _ = read_all(tmp_path)
    a, b = articles["a.txt"], articles["b.txt"]
    assert (a.title, a.source, a.authors, a.text) == (
        "A headline",
        "Reuters",
        ["Jane Roe", "John Doe"],
        "Body text here.",
    )
    assert b.authors == ["Sam Poe"]
    assert b.title == "B"
    assert b.text == "Only a byline and a body."


def test_markdown_front_matter(corpus: Path) -> None:
    articles, _ = read_all(corpus)
    glacier = articles["world/glacier.md"]
    assert glacier.title == "Glacier retreat speeds up in the Alps"
    assert glacier.authors == ["Tomas Berg"]
    assert glacier.published_at == "2024-09-14"
    assert glacier.url == "https://example.org/glacier"
    assert glacier.source == "Alpine Times"


def test_html_main_text_and_metadata_without_script_or_hidden_text(corpus: Path) -> None:
    articles, _ = read_all(corpus)
    page = articles["tech/robot-vacuum.html"]
    assert page.title == "Robot vacuum maker Dustless recalls 40,000 units"
    assert page.authors == ["Priya Natarajan"]
    assert page.published_at == "2025-01-20"
    assert page.url == "https://example.org/dustless-recall"
    assert "faulty battery can overheat" in page.text
    assert "three small fires" in page.text
    for junk in ("INJECTED", "Hidden keyword", "Subscribe", "Copyright"):
        assert junk not in page.text


def test_jsonl_fields_and_extra_metadata(corpus: Path) -> None:
    articles, _ = read_all(corpus)
    chip = articles["chips-1"]
    assert chip.authors == ["Lena Vogt"]
    assert chip.source == "Tech Wire"
    assert chip.published_at == "2025-03-03"
    assert chip.extra == {"topics": "chips, europe"}
    assert articles["chips-2"].text.startswith("Shares in Voltra fell 12%")  # `body` field
    assert articles["chips-2"].published_at == "2025-04-10T09:30:00"


def test_json_object_and_list(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps({"title": "One", "content": "First text."}))
    (tmp_path / "many.json").write_text(
        json.dumps([{"id": "x1", "title": "X", "text": "Ex."}, {"title": "no text"}, 5])
    )
    articles, skipped = read_all(tmp_path)
    assert set(articles) == {"one.json", "x1"}
    assert set(skipped) == {"many.json[1]", "many.json[2]"}


def test_oversized_file_is_skipped_without_reading(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("Headline\n\n" + "word " * 1000)
    _, skipped = read_all(tmp_path, limit=100)
    assert "over the 100-byte limit" in skipped["big.txt"]


def test_hidden_docs_and_outside_symlinks_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Secret\n\nShould never be read.")
    root = tmp_path / "root"
    root.mkdir()
    (root / ".hidden.txt").write_text("Hidden\n\nNo.")
    (root / "README.TXT").write_text("About this corpus\n\nNot an article.")
    (root / "notes.docx").write_bytes(b"PK")
    (root / "link.txt").symlink_to(outside)
    (root / "ok.txt").write_text("Fine\n\nAn article.")
    articles, skipped = read_all(root)
    assert list(articles) == ["ok.txt"]
    assert skipped == {"link.txt": "symlink points outside the source"}


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound):
        list(iter_source(tmp_path / "nope", LIMIT))


def test_field_helpers() -> None:
    assert split_authors("A, B and C & D") == ["A", "B", "C", "D"]
    assert split_authors(["X ", ""]) == ["X"]
    assert normalise_date("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05+00:00"
    assert normalise_date("yesterday") is None


def test_content_hash_changes_with_text_and_metadata() -> None:
    a = Article(id="a", title="T", text="Body.")
    assert a.content_hash == Article(id="a", title="T", text="Body.").content_hash
    assert a.content_hash != Article(id="a", title="T", text="Body!").content_hash
    assert a.content_hash != Article(id="a", title="T2", text="Body.").content_hash


def test_jsonl_limit_is_per_line_not_per_file(tmp_path: Path) -> None:
    """A feed bigger than the file limit is read line by line; only an oversized line is
    skipped, and the lines after it still count."""
    lines = [
        json.dumps({"id": f"n{i}", "title": f"T{i}", "text": "Words. " * 40}) for i in range(60)
    ]
    lines.insert(30, json.dumps({"id": "big", "title": "Big", "text": "x" * 5000}))
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    assert feed.stat().st_size > 4000
    items = list(iter_source(feed, max_bytes=4000))
    articles = [i for i in items if isinstance(i, Article)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [a.id for a in articles] == [f"n{i}" for i in range(60)]
    assert [(s.path, s.reason) for s in skipped] == [
        ("feed.jsonl:31", "line is over the 4,000-byte limit")
    ]
