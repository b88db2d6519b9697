"""The web page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against `newsdesk serve` as a subprocess (loopback port, temp data dir, the REAL bundled model).

Skipped when Chromium or Playwright is missing, except under CI (`CI` set), where it must run:
`.ci/run` installs Chromium. Screenshots go to `test-output/web/` at the repo root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.api_support import ADMIN, TOKEN, Server, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "web"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 90_000
"""Upper bound for anything the page waits on (the real model on a busy 2-core machine)."""

LIGHTHOUSE = {
    "id": "wire/kerlaz-lighthouse",
    "title": "Kerlaz lighthouse to be restored",
    "text": "The regional council of Finistere approved the restoration of the Kerlaz lighthouse "
    "on Friday. Restoring the lighthouse will cost 3.4 million euros, paid by the region and "
    "the state.\nWork starts in May and the lamp will shine again in the summer of 2027.",
    "url": "https://example.org/kerlaz",
    "published_at": "2025-05-02",
    "authors": ["Anne Le Goff"],
    "source": "Ouest Wire",
}
BRIDGE = {
    "id": "wire/port-elling-bridge",
    "title": "Council approves new harbour bridge",
    "text": "The city council of Port Elling approved a new harbour bridge on Tuesday after a "
    "heated debate. The bridge will cost 84 million pounds and is expected to open in 2027.",
    "published_at": "2025-02-11",
    "source": "Harbour Post",
}
HOSTILE = {
    "id": "wire/zorbex-clock-museum",
    "title": "Zorbex clock museum opens <script>window.__pwned = 'title'</script>",
    "text": "The Zorbex clock museum opened in Lisbon on Saturday with 400 antique clocks "
    "<script>window.__pwned = 'text'; document.title = 'pwned'</script> and a tower "
    "<img src=x onerror=\"window.__pwned = 'img'\"> that chimes every hour.\n"
    "Tickets to the Zorbex clock museum cost 12 euros <script>alert('pwned')</script>.",
    "url": "javascript:window.__pwned = 'url'",
    "published_at": "2025-04-05",
    "source": "<b onmouseover=\"window.__pwned = 'source'\">Lisbon Times</b>",
}
FOLLOW_UP = "When does the work start?"
QUESTION = "How much will restoring the Kerlaz lighthouse cost?"
HOSTILE_QUESTION = "How many antique clocks does the Zorbex clock museum have?"


# --------------------------------------------------------------------------- fixtures


def missing(what: str) -> None:
    """Skip on a developer's machine; fail under CI, where .ci/run installs the browser."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed: apt-get install chromium (see .ci/run)")


def chromium_executable() -> str | None:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fresh temporary profile (Playwright's own)."""
    executable = chromium_executable()
    if executable is None:
        missing("Debian's chromium (/usr/bin/chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing("the playwright package (pip install -e '.[test]')")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`newsdesk serve` with default settings and the fixture articles, added over the API."""
    root = tmp_path_factory.mktemp("web")
    env = {"NEWSDESK_DATA_DIR": str(root / "data"), "NEWSDESK_ADMIN_TOKEN": TOKEN}
    with serving(root, env) as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for article in (LIGHTHOUSE, BRIDGE, HOSTILE):
                added = http.post("/articles", json=article, headers=ADMIN)
                assert added.status_code == 201, added.text
        yield server


class Watch:
    """What a page did that it should not: uncaught errors, dialogs, CSP refusals."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")


def open_page(browser: Browser, *, javascript: bool = True, phone: bool = False) -> Page:
    """A page in a new context: desktop (1280 wide) or phone (390 wide, touch)."""
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(
        viewport=size,
        is_mobile=phone,
        has_touch=phone,
        java_script_enabled=javascript,
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = open_page(browser)
    yield page
    page.context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-output/web/ and print where it is."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def ask(page: Page, question: str, **filters: str) -> None:
    """Type a question (and filters) and press Ask."""
    page.fill("#question", question)
    if filters and page.locator("details.filters").get_attribute("open") is None:
        page.click("details.filters summary")
    for name in ("source", "since", "until"):
        if name in filters:
            page.fill(f"#filter-{name}", filters[name])
    page.click("#ask-button")


def event_stream(body: str) -> Callable[[Route], None]:
    """A route handler that answers with `body` as a Server-Sent Events stream."""
    return lambda route: route.fulfill(status=200, body=body, content_type="text/event-stream")


def flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- with JavaScript


def test_the_answer_streams_in_with_its_sources_and_a_citation_opens_the_article(
    browser: Browser, server: Server, page: Page
) -> None:
    from playwright.sync_api import expect

    watch = Watch(page)
    page.goto(f"{server.url}/")
    assert page.title() == "Newsdesk"
    result = page.locator("#result")
    expect(result).to_have_attribute("data-js", "ready")  # the page's own script runs

    with page.expect_response(lambda r: r.url.endswith("/ask/stream")) as streamed:
        ask(page, QUESTION)
    response = streamed.value
    assert response.request.method == "POST"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert json.loads(response.request.post_data or "{}") == {"question": QUESTION}

    expect(result).to_have_attribute("data-state", "answered")
    assert int(result.get_attribute("data-pieces") or 0) >= 1  # built from `answer` events
    answer = page.locator("#answer")
    expect(answer).to_contain_text("3.4 million euros")
    expect(page.locator("#verdict")).to_be_hidden()
    marker = answer.locator("a.cite").first
    expect(marker).to_have_text("[1]")
    expect(marker).to_have_attribute("href", "#source-1")

    source = page.locator("#source-1")
    expect(source.locator(".source-title")).to_have_text(LIGHTHOUSE["title"])
    expect(source.locator(".source-date")).to_have_text("2 May 2025")
    expect(source.locator(".source-date")).to_have_attribute("datetime", "2025-05-02")
    expect(source.locator(".source-name")).to_have_text("Ouest Wire")
    expect(source.locator(".source-original")).to_have_attribute("href", LIGHTHOUSE["url"])
    quote = flat(source.locator(".source-quote").inner_text())
    assert quote and quote in flat(LIGHTHOUSE["text"])
    screenshot(page, "answer-desktop.png")

    marker.click()  # [1] jumps to source 1
    assert page.url.endswith("#source-1")
    expect(source).to_be_in_viewport()

    source.locator(".source-title").click()  # the source opens the article's page
    page.wait_for_url("**/read/wire/kerlaz-lighthouse?quote=*")
    expect(page.locator("h1")).to_have_text(LIGHTHOUSE["title"])
    expect(page.locator(".article-meta")).to_contain_text("2 May 2025")
    expect(page.locator(".article-meta")).to_contain_text("By Anne Le Goff")
    expect(page.locator("#article-text")).to_contain_text("Work starts in May")
    expect(page.locator("mark#quote")).to_be_in_viewport()
    marked = flat(" ".join(page.locator("#article-text mark").all_inner_texts()))
    assert marked == quote
    screenshot(page, "article-desktop.png")
    assert watch.errors == []


def test_a_follow_up_continues_the_conversation_and_a_reload_shows_both_turns(
    browser: Browser, server: Server, page: Page
) -> None:
    from playwright.sync_api import expect

    watch = Watch(page)
    page.goto(f"{server.url}/")
    result, turns = page.locator("#result"), page.locator("#turns .turn")
    ask(page, QUESTION)
    expect(result).to_have_attribute("data-state", "answered")
    expect(page).to_have_url(re.compile(r"\?conversation=[\w-]{22,}$"))
    conversation = page.url.split("conversation=")[1]

    with page.expect_response(lambda r: r.url.endswith("/ask/stream")) as streamed:
        ask(page, FOLLOW_UP)
    sent = json.loads(streamed.value.request.post_data or "{}")
    assert sent == {"question": FOLLOW_UP, "conversation_id": conversation}
    expect(result).to_have_attribute("data-state", "answered")
    expect(page.locator("#answer")).to_contain_text("May")
    expect(page.locator("#asked")).to_have_text(FOLLOW_UP)
    expect(turns).to_have_count(1)  # the first turn moved up, with its sources
    expect(turns.first.locator(".asked")).to_have_text(QUESTION)
    expect(turns.first.locator(".answer")).to_contain_text("3.4 million euros")
    expect(page.locator("#turn-1-source-1 .source-title")).to_have_text(LIGHTHOUSE["title"])
    screenshot(page, "conversation-desktop.png")

    page.reload()  # the URL holds the conversation: both turns come back from the server
    expect(turns).to_have_count(1)
    expect(turns.first.locator(".asked")).to_have_text(QUESTION)
    expect(page.locator("#turn-1-source-1 .source-title")).to_have_text(LIGHTHOUSE["title"])
    expect(page.locator("#asked")).to_have_text(FOLLOW_UP)
    expect(page.locator("#answer")).to_contain_text("May")
    expect(page.locator("#source-1 .source-title")).to_have_text(LIGHTHOUSE["title"])

    page.click("#new-conversation")  # starts over
    expect(turns).to_have_count(0)
    expect(page.locator("#conversation-id")).to_have_value("")
    expect(result).to_be_hidden()
    assert watch.errors == []


def test_the_page_is_usable_at_phone_width(browser: Browser, server: Server) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, phone=True)
    try:
        page.goto(f"{server.url}/")
        ask(page, QUESTION)
        expect(page.locator("#result")).to_have_attribute("data-state", "answered")
        expect(page.locator("#source-1 .source-title")).to_be_visible()
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways at phone width: {width}"
        button, question = page.locator("#ask-button"), page.locator("#question")
        assert button.bounding_box()["width"] > 300  # full-width button under the box
        assert question.bounding_box()["width"] > 300
        screenshot(page, "answer-phone.png")
    finally:
        page.context.close()


def test_a_script_in_an_article_never_runs(browser: Browser, server: Server, page: Page) -> None:
    from playwright.sync_api import expect

    watch = Watch(page)
    page.goto(f"{server.url}/")
    ask(page, HOSTILE_QUESTION)
    result = page.locator("#result")
    expect(result).to_have_attribute("data-state", "answered")
    source = page.locator("#source-1")
    expect(source.locator(".source-title")).to_have_text(HOSTILE["title"])  # shown as text
    expect(source.locator(".source-name")).to_have_text(HOSTILE["source"])
    expect(source.locator(".source-original")).to_have_count(0)  # no javascript: link
    assert "<script>" in page.locator("#answer").inner_text() + source.inner_text()
    assert result.locator("script, img, b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.title() == "Newsdesk"
    screenshot(page, "hostile-answer.png")

    source.locator(".source-title").click()
    page.wait_for_url("**/read/wire/zorbex-clock-museum*")
    expect(page.locator("h1")).to_have_text(HOSTILE["title"])
    text = page.locator("#article-text")
    expect(text).to_contain_text("<img src=x onerror=")
    expect(text).to_contain_text("<script>alert('pwned')</script>")
    assert page.locator("main script, main img, main b").count() == 0
    expect(page.locator(".source-original")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert page.title().startswith("Zorbex clock museum opens <script>")
    assert watch.errors == []


def test_not_found_looks_different_and_the_filters_narrow_the_search(
    browser: Browser, server: Server, page: Page
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/")
    result, answer = page.locator("#result"), page.locator("#answer")
    ask(page, QUESTION, source="Ouest Wire", since="2025-05-01", until="2025-05-31")
    expect(result).to_have_attribute("data-state", "answered")
    expect(page.locator("#source-1 .source-title")).to_have_text(LIGHTHOUSE["title"])
    answered_style = page.evaluate(
        "(() => { const s = getComputedStyle(document.getElementById('answer'));"
        " return [s.backgroundColor, s.borderTopStyle, s.fontStyle]; })()"
    )

    ask(page, QUESTION, source="Harbour Post", since="", until="")  # not in that source
    expect(result).to_have_attribute("data-state", "not-found")
    expect(answer).to_have_text("I could not find this in the articles.")
    expect(page.locator("#verdict")).to_be_visible()
    expect(page.locator("#verdict")).to_have_text("Not found in the articles")
    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#sources-block")).to_be_hidden()
    not_found_style = page.evaluate(
        "(() => { const s = getComputedStyle(document.getElementById('answer'));"
        " return [s.backgroundColor, s.borderTopStyle, s.fontStyle]; })()"
    )
    assert not_found_style != answered_style
    assert not_found_style[1:] == ["dashed", "italic"]
    screenshot(page, "not-found.png")

    ask(page, QUESTION, source="Ouest Wire", until="2025-01-31")  # before it was published
    expect(result).to_have_attribute("data-state", "not-found")


def test_errors_show_a_short_message(browser: Browser, tmp_path: Path) -> None:
    """A real 429 (rate limit 1 a minute), a 5xx and broken streams (mocked in the page's
    network), and a server that has gone away: each a message, never a blank page."""
    from playwright.sync_api import expect

    env = {
        "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
        "NEWSDESK_ASK_RATE_LIMIT": "1",
    }
    page = open_page(browser)
    nojs = open_page(browser, javascript=False)
    result, status = page.locator("#result"), page.locator("#status")
    try:
        with serving(tmp_path, env) as server:
            page.goto(f"{server.url}/")
            ask(page, QUESTION)
            expect(result).to_have_attribute("data-state", re.compile("^(answered|not-found)$"))

            ask(page, QUESTION)  # the second in a minute
            expect(result).to_have_attribute("data-state", "error")
            expect(status).to_have_text(
                re.compile(r"^Too many questions: try again in \d+ seconds\.$")
            )
            expect(page.locator("#question")).to_have_value(QUESTION)
            screenshot(page, "rate-limited.png")

            nojs.goto(f"{server.url}/")
            ask(nojs, QUESTION)
            expect(nojs.locator("#result")).to_have_attribute("data-state", "error")
            expect(nojs.locator("#status")).to_contain_text("Too many questions")

            page.route(
                "**/ask/stream",
                lambda route: route.fulfill(
                    status=500,
                    json={"error": "internal_server_error", "detail": "x", "request_id": "rid-42"},
                ),
            )
            ask(page, QUESTION)
            expect(status).to_have_text(
                "The server could not answer (request id rid-42): try again later."
            )
            page.unroute("**/ask/stream")

            stream_of = {
                # CRLF line ends, a comment and a two-line data field: parsed as the spec says.
                "answered": ': ping\r\n\r\nevent: citation\r\ndata: {"n": 1, "article_id": '
                '"a/1", "title": "T", "quote": "Q",\r\ndata:  "score": 0.5}\r\n\r\n'
                'event: answer\r\ndata: {"text": "It is so "}\r\n\r\n'
                'event: answer\r\ndata: {"text": "[1]."}\r\n\r\n'
                'event: done\r\ndata: {"answered": true}\r\n\r\n',
                "error": 'event: error\ndata: {"error": "service_unavailable", '
                '"detail": "the store is down", "request_id": "rid-7"}\n\n',
                "cut off": 'event: answer\ndata: {"text": "Half an ans"}\n\n',
            }
            for case, body in stream_of.items():
                page.route("**/ask/stream", event_stream(body))
                ask(page, QUESTION)
                if case == "answered":
                    expect(result).to_have_attribute("data-state", "answered")
                    expect(page.locator("#answer")).to_have_text("It is so [1].")
                    expect(page.locator("#answer a.cite")).to_have_attribute("href", "#source-1")
                elif case == "error":
                    expect(status).to_have_text(
                        "The server could not answer (request id rid-7): the store is down"
                    )
                else:
                    expect(status).to_have_text("The answer was cut off: try again.")
                page.unroute("**/ask/stream")

        ask(page, QUESTION)  # the server has stopped
        expect(result).to_have_attribute("data-state", "error")
        expect(status).to_have_text(
            "Cannot reach the Newsdesk server: check that it is running, then try again."
        )
        expect(page.locator("#ask-form")).to_be_visible()
        screenshot(page, "server-down.png")
    finally:
        page.context.close()
        nojs.context.close()


# --------------------------------------------------------------------------- without JavaScript


def test_without_javascript_the_form_posts_and_the_server_renders_the_answer(
    browser: Browser, server: Server
) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, javascript=False)
    try:
        page.goto(f"{server.url}/")
        ask(page, QUESTION)
        page.wait_for_load_state()
        result = page.locator("#result")
        expect(result).to_have_attribute("data-state", "answered")
        assert result.get_attribute("data-js") is None  # no script ran: the server did this
        expect(page.locator("#answer")).to_contain_text("3.4 million euros")
        expect(page.locator("#answer a.cite").first).to_have_attribute("href", "#source-1")
        expect(page.locator("#source-1 .source-title")).to_have_text(LIGHTHOUSE["title"])
        expect(page.locator("#source-1 .source-date")).to_have_text("2 May 2025")
        expect(page.locator("#asked")).to_have_text(QUESTION)  # the conversation's page
        assert "conversation=" in page.url
        screenshot(page, "answer-no-javascript.png")

        ask(page, QUESTION, source="Harbour Post")
        expect(result).to_have_attribute("data-state", "not-found")
        expect(page.locator("#verdict")).to_be_visible()
        expect(page.locator("#filter-source")).to_have_value("Harbour Post")

        ask(page, QUESTION, source="", since="2025-06-01", until="2025-01-01")
        expect(result).to_have_attribute("data-state", "error")
        expect(page.locator("#status")).to_have_text("'since' must not be after 'until'.")

        page.goto(f"{server.url}/read/{HOSTILE['id']}")
        expect(page.locator("h1")).to_have_text(HOSTILE["title"])
        assert page.locator("main script, main img").count() == 0
    finally:
        page.context.close()


# --------------------------------------------------------------------------- the API docs


def test_the_api_docs_render_from_shipped_files_under_their_csp(
    browser: Browser, server: Server, page: Page
) -> None:
    from playwright.sync_api import expect

    watch = Watch(page)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(server.url) else elsewhere.append(r.url),
    )
    page.goto(f"{server.url}/docs")
    stream = page.locator('.opblock-summary-path[data-path="/ask/stream"]')
    expect(stream).to_be_visible()
    stream.click()  # opens the operation: its parameters and responses
    expect(page.locator(".opblock-body").first).to_be_visible()
    screenshot(page, "api-docs.png")
    assert watch.errors == [] and elsewhere == []
