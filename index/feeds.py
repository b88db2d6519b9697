"""RSS/Atom feeds and article pages fetched from the web, read into `Article`s.

A feed is a window on a source: each entry becomes an article whose id is its link (else its
GUID), with its title, date and the feed's title as source. Its text is the entry's own
content when that holds the whole article, otherwise the linked page, extracted like any
HTML file. Entries that leave the feed are kept; nothing here deletes."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsdesk.index.articles import Article, Skipped, clean_text, decode, id_problem, read_html
from newsdesk.index.errors import InvalidArticle
from newsdesk.index.fetch import Fetched, Fetcher, FetchRefused

FULL_TEXT_WORDS = 150
"""An entry whose own content has fewer words is taken for a teaser: its page is fetched."""
TRUNCATED = re.compile(r"(\.\.\.|…|\[\s*(\.\.\.|…)\s*\]|read more\W*)\s*$", re.IGNORECASE)
FEED_TYPES = ("rss", "atom", "xml")


@dataclass
class FeedRead:
    """What one fetch of a URL gave: articles, skipped entries, and the feed's own state."""

    title: str | None = None
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_modified: bool = False
    complete: bool = True
    """False when an entry failed for a reason that may pass (its page did not load): the
    feed's validators are then not kept, so the next poll reads every entry again."""


def is_feed(fetched: Fetched) -> bool:
    """Whether a response is a feed rather than a page (by type, else by its first tag)."""
    kind = fetched.content_type.split(";")[0].strip().lower()
    if any(name in kind for name in FEED_TYPES):
        return True
    if "html" in kind:
        return False
    head = fetched.content[:1024].lstrip().lower()
    return head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head


def refuse_entities(content: bytes) -> None:
    """Refuse XML that declares entities (expansion bombs) or reaches outside (external
    entities), before the feed parser sees it."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        fromstring(content)
    except DefusedXmlException as exc:
        raise InvalidArticle(f"the feed's XML was refused ({type(exc).__name__})") from None
    except ParseError:
        pass  # malformed: the feed parser's lenient mode may still read it


def read_url(
    url: str, fetcher: Fetcher, etag: str | None = None, modified: str | None = None
) -> tuple[FeedRead, Fetched]:
    """Fetch `url` and read it as a feed or a single article page (and the response)."""
    fetched = fetcher.get(url, etag=etag, last_modified=modified)
    if fetched.not_modified:
        return FeedRead(not_modified=True), fetched
    if is_feed(fetched):
        return read_feed(fetched, fetcher), fetched
    result = FeedRead()
    try:
        result.articles.append(read_page(fetched))
    except InvalidArticle as exc:
        result.skipped.append(Skipped(url, str(exc)))
    return result, fetched


def read_page(fetched: Fetched) -> Article:
    """A single article page; its id is the URL it was fetched from."""
    article = read_html(decode(fetched.content), fetched.url, fetched.url)
    article.id = fetched.url
    article.url = article.url or fetched.url
    return article


def read_feed(fetched: Fetched, fetcher: Fetcher) -> FeedRead:
    """Every entry of a feed as an article, or a skipped entry with its reason."""
    import feedparser

    refuse_entities(fetched.content)
    parsed = feedparser.parse(fetched.content, response_headers={"content-location": fetched.url})
    if parsed.get("bozo") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise InvalidArticle(f"{fetched.url} is not a readable RSS or Atom feed ({problem})")
    title = clean_text(str(parsed.feed.get("title") or "")) or None
    result = FeedRead(title=title)
    seen: set[str] = set()
    for position, entry in enumerate(parsed.entries, 1):
        where = f"{fetched.url} entry {position}"
        try:
            article = entry_article(entry, title, fetcher)
        except FetchRefused as exc:
            result.skipped.append(Skipped(where, str(exc)))
            result.complete = False
            continue
        except InvalidArticle as exc:
            result.skipped.append(Skipped(where, str(exc)))
            continue
        if article.id in seen:
            result.skipped.append(Skipped(where, f"a second entry with the id {article.id}"))
            continue
        seen.add(article.id)
        result.articles.append(article)
    return result


def entry_article(entry: Any, source: str | None, fetcher: Fetcher) -> Article:
    """One feed entry as an article; its page is fetched when the entry is only a teaser."""
    article_id = str(entry.get("link") or entry.get("id") or "").strip()
    if not article_id or (problem := id_problem(article_id)):
        raise InvalidArticle(problem or "the entry has neither a link nor an id")
    text = entry_text(entry)
    title = clean_text(str(entry.get("title") or ""))
    if not full_text(text):
        if not entry.get("link"):
            if not text:
                raise InvalidArticle("the entry has no text and no link to its page")
        else:
            page = read_page(fetcher.get(entry["link"]))
            text, title = page.text, title or page.title
    if not text:
        raise InvalidArticle("the entry has no text")
    return Article(
        id=article_id,
        title=title or text[:80],
        text=text,
        url=entry.get("link") or None,
        published_at=entry_date(entry),
        authors=[a["name"] for a in entry.get("authors", []) if a.get("name")],
        source=source,
    )


def entry_text(entry: Any) -> str:
    """The entry's content (else summary) as plain text."""
    values = [c.get("value", "") for c in entry.get("content", [])] or [entry.get("summary", "")]
    return clean_text("\n\n".join(html_text(v) for v in values if v))


def html_text(fragment: str) -> str:
    """Text of an HTML fragment, one paragraph per block."""
    import lxml.html

    if "<" not in fragment:
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types for broken markup
        return fragment
    blocks = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote")
    for element in root.iter(*blocks):
        element.tail = "\n\n" + (element.tail or "")
    return "\n\n".join(" ".join(p.split()) for p in root.text_content().split("\n\n") if p.strip())


def full_text(text: str) -> bool:
    """Whether an entry's text is the whole article rather than a teaser."""
    return len(text.split()) >= FULL_TEXT_WORDS and not TRUNCATED.search(text)


def entry_date(entry: Any) -> str | None:
    """The entry's publication (else update) time as ISO 8601 UTC, when it has one."""
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC).isoformat()
