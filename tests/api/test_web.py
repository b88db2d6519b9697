"""The web page's server side, fast (TestClient, deterministic test embedder): the ask page,
the no-JavaScript form, the article page, error pages, and that article text is escaped."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.api.web import STATIC
from newsdesk.api.web.render import (
    Part,
    Segment,
    answer_parts,
    answer_view,
    format_date,
    paragraphs,
    read_href,
    safe_url,
)
from newsdesk.index.answer.models import Answer, Citation
from newsdesk.index.articles import from_record
from newsdesk.index.config import Settings
from newsdesk.index.engine import Engine

LIGHTHOUSE = {
    "title": "Kerlaz lighthouse to be restored",
    "text": "The regional council approved the restoration of the Kerlaz lighthouse on Friday. "
    "Restoring the Kerlaz lighthouse will cost 3.4 million euros.\n"
    "Work starts in May and the lamp will shine again in 2027.",
    "url": "https://example.org/kerlaz?a=1&b=2",
    "published_at": "2025-05-02",
    "authors": ["Anne Le Goff"],
    "source": "Ouest Wire",
}
HOSTILE = {
    "title": "Zorbex museum <script>window.__pwned = 1</script>",
    "text": "The Zorbex clock museum shows 400 antique clocks <script>window.__pwned = 2</script> "
    'and a tower <img src=x onerror="window.__pwned = 3"> that chimes.',
    "url": "javascript:window.__pwned = 4",
    "published_at": "2025-04-05",
    "source": '<b onmouseover="window.__pwned = 5">Lisbon Times</b>',
}
QUESTION = "How much will restoring the Kerlaz lighthouse cost?"
HOSTILE_QUESTION = "How many antique clocks does the Zorbex clock museum show?"
QUOTE = "Restoring the Kerlaz lighthouse will cost 3.4 million euros."


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    """No markup from article text: only the page's own script, no images or handlers,
    no javascript: links."""
    tags = Tags(html).tags
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts in ([], [{"src": "/static/newsdesk.js", "defer": None}])
    assert [tag for tag, _ in tags if tag in {"img", "b", "iframe", "object"}] == []
    for tag, attrs in tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript:"), (tag, attrs)


@pytest.fixture
def settings(fake_settings: Settings) -> Settings:
    return Settings(**{**fake_settings.model_dump(), "ask_rate_limit": 0}, _env_file=None)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    engine.upsert(from_record(LIGHTHOUSE, "wire/kerlaz lighthouse?#1", "test"))
    engine.upsert(from_record(HOSTILE, "wire/zorbex", "test"))
    yield engine
    engine.close()


@pytest.fixture
def client(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(settings, engine))


# --------------------------------------------------------------------------- the ask page


def test_the_page_has_the_form_filters_and_strict_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert '<form id="ask-form" class="ask" method="post" action="/"' in html
    assert 'data-stream="/ask/stream"' in html
    for name in ("question", "source", "since", "until"):
        assert f'name="{name}"' in html
    # the filter suggests the sources, escaped
    assert '<option value="Ouest Wire">' in html
    assert "&lt;b onmouseover=&#34;window.__pwned = 5&#34;&gt;Lisbon Times&lt;/b&gt;" in html
    assert 'id="result"' in html and "hidden" in html.split('id="result"')[1].split(">")[0]
    assert "The index is still loading" not in html
    assert_inert(html)


def test_static_files_are_served_and_the_script_never_parses_html() -> None:
    client = TestClient(create_app(Settings(_env_file=None)))  # no engine needed
    kinds = {"newsdesk.js": "javascript", "newsdesk.css": "text/css", "favicon.svg": "svg"}
    for name, kind in kinds.items():
        got = client.get(f"/static/{name}")
        assert got.status_code == 200 and kind in got.headers["content-type"], name
    script = (STATIC / "newsdesk.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_the_web_routes_stay_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not [p for p in paths if p.startswith("/read/")]


# --------------------------------------------------------------------------- the form (no JS)


def test_the_form_renders_the_answer_with_linked_markers_and_sources(
    client: TestClient,
) -> None:
    page = client.post("/", data={"question": QUESTION})
    assert page.status_code == 200
    html = page.text
    assert 'data-state="answered"' in html
    assert '<a class="cite" href="#source-1">[1]</a>' in html
    assert 'id="source-1"' in html
    assert "Kerlaz lighthouse to be restored</a>" in html
    assert '<time class="source-date" datetime="2025-05-02">2 May 2025</time>' in html
    assert '<span class="source-name">Ouest Wire</span>' in html
    assert 'href="https://example.org/kerlaz?a=1&amp;b=2"' in html  # escaped attribute
    # the page is the conversation's (303 to its URL): the question is shown above its answer
    assert page.history[0].status_code == 303 and "conversation=" in str(page.url)
    assert f'<p id="asked" class="asked">{QUESTION}</p>' in html
    # the source opens the article page, at the quote
    assert 'href="/read/wire/kerlaz%20lighthouse%3F%231?quote=' in html
    assert_inert(html)


def test_article_text_in_an_answer_is_escaped(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    quote = "shows 400 antique clocks <script>window.__pwned = 2</script> and a tower"
    hostile = Answer(
        question=HOSTILE_QUESTION,
        answer=f"The Zorbex clock museum {quote} <img src=x onerror=alert(1)> [1]",
        answered=True,
        citations=[
            Citation(
                n=1,
                article_id="wire/zorbex",
                title=HOSTILE["title"],
                url=HOSTILE["url"],
                published_at=HOSTILE["published_at"],
                source=HOSTILE["source"],
                quote=quote,
                score=0.9,
            )
        ],
    )
    monkeypatch.setattr(engine, "ask", lambda *args, **kwargs: hostile)
    html = client.post("/", data={"question": HOSTILE_QUESTION}).text
    assert 'data-state="answered"' in html
    assert "Zorbex museum &lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "&lt;script&gt;window.__pwned = 2&lt;/script&gt; and a tower" in html
    assert '&lt;img src=x onerror=alert(1)&gt; <a class="cite" href="#source-1">' in html
    assert "window.__pwned = 4" not in html  # the javascript: url is not linked at all
    assert "source-original" not in html
    assert_inert(html)


def test_a_not_found_answer_is_marked_as_such(client: TestClient) -> None:
    page = client.post("/", data={"question": QUESTION, "source": "Nobody's Gazette"})
    html = page.text
    assert page.status_code == 200
    assert 'data-state="not-found"' in html
    assert '<p id="verdict" class="verdict">Not found in the articles</p>' in html
    assert "I could not find this in the articles." in html
    assert '<details class="filters" open>' in html  # the filter that excluded it is shown
    assert 'value="Nobody&#39;s Gazette"' in html


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"question": "   "}, "Question: the question is empty."),
        ({"question": "x" * 2001}, "Question: String should have at most 2000 characters."),
        (
            {"question": QUESTION, "since": "2025-06-01", "until": "2025-01-01"},
            "&#39;since&#39; must not be after &#39;until&#39;.",
        ),
        ({"question": QUESTION, "since": "2025-13-45"}, "From: "),
    ],
    ids=["blank", "too-long", "since-after-until", "bad-date"],
)
def test_an_invalid_form_is_a_422_page_with_one_sentence(
    client: TestClient, form: dict[str, str], message: str
) -> None:
    page = client.post("/", data=form)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-state="error"' in page.text
    status = page.text.split('id="status" class="status" role="status">')[1].split("</p>")[0]
    assert status.startswith(message)


def test_the_form_is_rate_limited_like_the_api(settings: Settings, engine: Engine) -> None:
    limited = Settings(**{**settings.model_dump(), "ask_rate_limit": 1}, _env_file=None)
    client = TestClient(create_app(limited, engine))
    assert client.post("/", data={"question": QUESTION}).status_code == 200
    page = client.post("/", data={"question": QUESTION})
    assert page.status_code == 429
    assert int(page.headers["retry-after"]) >= 1
    assert "Too many questions: try again in" in page.text
    assert client.post("/ask", json={"question": QUESTION}).status_code == 429  # one budget


def test_while_the_index_loads_the_pages_say_so(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no lifespan ran: the engine is not loaded
    home = client.get("/")
    assert home.status_code == 200 and "The index is still loading" in home.text
    asked = client.post("/", data={"question": QUESTION})
    assert asked.status_code == 503 and asked.headers["retry-after"]
    assert "The index is still loading: try again in" in asked.text
    read = client.get("/read/anything")
    assert read.status_code == 503 and "The index is still loading" in read.text


# --------------------------------------------------------------------------- the article page


def test_the_article_page_marks_the_quote_and_escapes_the_text(client: TestClient) -> None:
    page = client.get("/read/wire/kerlaz%20lighthouse%3F%231", params={"quote": QUOTE})
    assert page.status_code == 200
    html = page.text
    assert "<title>Kerlaz lighthouse to be restored · Newsdesk</title>" in html
    assert f'<mark id="quote">{QUOTE}</mark>' in html
    assert "<p>Work starts in May and the lamp will shine again in 2027.</p>" in html
    assert '<span class="authors">By Anne Le Goff</span>' in html
    assert_inert(html)

    hostile = client.get("/read/wire/zorbex").text
    assert "&lt;script&gt;window.__pwned = 2&lt;/script&gt;" in hostile
    assert "<title>Zorbex museum &lt;script&gt;" in hostile
    assert "source-original" not in hostile
    assert_inert(hostile)


def test_an_unknown_article_is_a_404_page_and_the_json_route_is_unchanged(
    client: TestClient,
) -> None:
    page = client.get("/read/wire/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "No article with this id is indexed." in page.text
    as_json = client.get("/articles/wire/zorbex", headers={"Accept": "text/html"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["title"] == HOSTILE["title"]


def test_links_follow_the_root_path(settings: Settings, engine: Engine) -> None:
    client = TestClient(create_app(settings, engine), root_path="/news")
    html = client.post("/", data={"question": QUESTION}).text
    assert 'action="/news/"' in html and 'src="/news/static/newsdesk.js"' in html
    assert 'href="/news/read/wire/kerlaz%20lighthouse%3F%231?quote=' in html


# --------------------------------------------------------------------------- rendering helpers


def test_answer_parts_link_only_known_markers() -> None:
    parts = answer_parts("Costs 3 [1], says [2]; see [7].", {1, 2})
    assert parts == [
        Part("Costs 3 "),
        Part("[1]", 1),
        Part(", says "),
        Part("[2]", 2),
        Part("; see [7]."),
    ]
    assert "".join(p.text for p in parts) == "Costs 3 [1], says [2]; see [7]."
    assert answer_parts("", {1}) == []


def test_paragraphs_mark_the_quote_even_across_lines() -> None:
    text = "First line here.\n\nSecond starts. Quote begins\nand ends here. Tail."
    got = paragraphs(text, "Quote begins\nand ends")
    assert got == [
        [Segment("First line here.")],
        [Segment("Second starts. "), Segment("Quote begins", marked=True)],
        [Segment("and ends", marked=True), Segment(" here. Tail.")],
    ]
    assert (
        paragraphs(text, "not in it")
        == paragraphs(text)
        == [
            [Segment("First line here.")],
            [Segment("Second starts. Quote begins")],
            [Segment("and ends here. Tail.")],
        ]
    )


def test_sources_from_different_days_are_said_so() -> None:
    def cited(n: int, day: str | None) -> Citation:
        return Citation(n=n, article_id=f"a{n}", title="t", quote="q", score=1.0, published_at=day)

    two_days = Answer(
        question="q",
        answer="a [1] [2]",
        answered=True,
        citations=[cited(1, "2026-11-03"), cited(2, "2026-10-02T08:00:00")],
    )
    assert answer_view(two_days).dates == (
        "The sources are from different days: 2 October 2026 to 3 November 2026."
    )
    same = Answer(question="q", answer="a", answered=True, citations=[cited(1, "2026-11-03")])
    assert answer_view(same).dates is None


def test_dates_urls_and_links() -> None:
    assert format_date("2025-05-02") == "2 May 2025"
    assert format_date("2025-12-31T23:59:00+00:00") == "31 December 2025"
    assert format_date("spring 2025") == "spring 2025" and format_date(None) is None
    assert safe_url("https://example.org/a") == "https://example.org/a"
    assert safe_url("HTTP://example.org") == "HTTP://example.org"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//x", ""):
        assert safe_url(bad) is None, bad
    assert read_href("world/a b.txt") == "/read/world/a%20b.txt"
    assert read_href("x", 'a "q" & b') == "/read/x?quote=a+%22q%22+%26+b#quote"


def test_without_javascript_the_page_is_a_conversation(client: TestClient) -> None:
    first = client.post("/", data={"question": QUESTION})
    cid = first.url.params["conversation"]
    assert f'name="conversation_id" value="{cid}"' in first.text
    assert 'id="new-conversation" href="/">New conversation</a>' in first.text
    follow = client.post(
        "/", data={"question": "When does the work start?", "conversation_id": cid}
    )
    assert follow.url.params["conversation"] == cid
    html = client.get(f"/?conversation={cid}").text  # a reload, or a shared link
    assert html == follow.text
    assert f'<li id="turn-1" class="turn">\n  <p class="asked">{QUESTION}</p>' in html
    assert 'href="#turn-1-source-1"' in html and 'id="turn-1-source-1"' in html
    assert '<p id="asked" class="asked">When does the work start?</p>' in html
    assert 'id="source-1"' in html  # the latest answer keeps the page's own ids
    fresh = client.get("/")
    assert 'name="conversation_id" value=""' in fresh.text and 'id="turn-1"' not in fresh.text


def test_an_unknown_conversation_is_a_404_page_and_the_form_starts_anew(
    client: TestClient,
) -> None:
    gone = client.get("/?conversation=nosuchconversation0000")
    assert gone.status_code == 404 and "This conversation expired or was deleted" in gone.text
    asked = client.post("/", data={"question": QUESTION, "conversation_id": "nosuchconv"})
    assert asked.status_code == 404 and 'name="conversation_id" value=""' in asked.text
    assert f'value="{QUESTION}"' in asked.text  # nothing typed is lost
