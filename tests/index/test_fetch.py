"""Safe fetching against a real HTTP server on loopback: limits, redirects, refusals, robots."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from newsdesk.index.fetch import Fetcher, FetchPolicy, FetchRefused, Transient, address_problem
from tests.support.feed_site import UNSIZED, Reply, Site, running_site

FAST = FetchPolicy(timeout=1.0, max_bytes=1_000_000, allow_private=True, host_delay=0, backoff=0)


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(FAST)
    yield fetcher
    fetcher.close()


@pytest.mark.parametrize(
    ("address", "private_ok", "refused"),
    [
        ("93.184.215.14", False, False),
        ("127.0.0.1", False, True),
        ("127.0.0.1", True, False),
        ("10.1.2.3", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("169.254.169.254", True, True),  # cloud metadata: refused even with private allowed
        ("fe80::1", True, True),
        ("0.0.0.0", True, True),
        ("fd00:ec2::254", True, True),
    ],
)
def test_addresses_refused_by_kind(address: str, private_ok: bool, refused: bool) -> None:
    assert (address_problem(address, private_ok) is not None) is refused


@pytest.mark.e2e
def test_a_conditional_get_sends_the_validators_and_reads_304(site: Site, fetcher: Fetcher) -> None:
    site.serve("/feed.xml", "<rss/>", "application/rss+xml")
    first = fetcher.get(f"{site.base}/feed.xml")
    assert first.status == 200 and first.etag and first.last_modified
    again = fetcher.get(f"{site.base}/feed.xml", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.content == b""
    headers = site.requests[-1][1]
    assert headers["if-none-match"] == first.etag
    assert headers["if-modified-since"] == first.last_modified
    assert headers["user-agent"].startswith("Newsdesk/")


@pytest.mark.e2e
def test_5xx_is_retried_with_backoff_then_given_up(site: Site, fetcher: Fetcher) -> None:
    answers = iter([500, 503, 200])

    def flaky(_: dict[str, str]) -> Reply:
        return next(answers), {"Content-Type": "text/plain"}, b"ok"

    site.routes["/flaky"] = flaky
    assert fetcher.get(f"{site.base}/flaky").content == b"ok"
    site.routes["/down"] = lambda _: (500, {}, b"")
    with pytest.raises(Transient, match="HTTP 500"):
        fetcher.get(f"{site.base}/down")
    assert site.paths().count("/down") == FAST.attempts


@pytest.mark.e2e
def test_a_slow_site_times_out(site: Site, fetcher: Fetcher) -> None:
    def slow(_: dict[str, str]) -> Reply:
        time.sleep(2.5)
        return 200, {}, b"late"

    site.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(Transient, match="did not answer"):
        fetcher.get(f"{site.base}/slow")
    assert time.monotonic() - started < 3 * FAST.attempts * FAST.timeout


@pytest.mark.e2e
def test_redirect_loops_and_chains_stop(site: Site, fetcher: Fetcher) -> None:
    site.routes["/a"] = lambda _: (302, {"Location": "/b"}, b"")
    site.routes["/b"] = lambda _: (302, {"Location": "/a"}, b"")
    with pytest.raises(FetchRefused, match="redirect loop"):
        fetcher.get(f"{site.base}/a")
    for n in range(10):
        site.routes[f"/r{n}"] = lambda _, n=n: (301, {"Location": f"/r{n + 1}"}, b"")
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        fetcher.get(f"{site.base}/r0")


@pytest.mark.e2e
def test_a_redirect_to_the_metadata_address_is_refused(site: Site, fetcher: Fetcher) -> None:
    site.routes["/meta"] = lambda _: (302, {"Location": "http://169.254.169.254/latest/"}, b"")
    with pytest.raises(FetchRefused, match="link-local or cloud metadata"):
        fetcher.get(f"{site.base}/meta")


@pytest.mark.e2e
def test_private_addresses_are_refused_by_default(site: Site) -> None:
    strict = Fetcher(FetchPolicy(timeout=1.0, host_delay=0))
    with pytest.raises(FetchRefused, match="NEWSDESK_FETCH_ALLOW_PRIVATE"):
        strict.get(f"{site.base}/feed.xml")
    assert site.requests == []  # not even robots.txt was asked for


def test_only_http_is_fetched(fetcher: Fetcher) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        fetcher.get("file:///etc/passwd")


@pytest.mark.e2e
@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_response_is_cut_off(site: Site, fetcher: Fetcher, declared: bool) -> None:
    body = b"x" * 50_000_000
    headers = {} if declared else {UNSIZED: "1"}
    site.routes["/huge"] = lambda _: (200, headers, body)
    with pytest.raises(FetchRefused, match="over 1,000,000 bytes"):
        fetcher.get(f"{site.base}/huge")


@pytest.mark.e2e
def test_robots_txt_is_obeyed(site: Site, fetcher: Fetcher) -> None:
    site.serve("/robots.txt", "User-agent: Newsdesk\nDisallow: /private/\n", "text/plain")
    site.serve("/private/feed.xml", "<rss/>", "application/rss+xml")
    site.serve("/public/feed.xml", "<rss/>", "application/rss+xml")
    with pytest.raises(FetchRefused, match=r"robots\.txt"):
        fetcher.get(f"{site.base}/private/feed.xml")
    assert fetcher.get(f"{site.base}/public/feed.xml").status == 200
    assert "/private/feed.xml" not in site.paths()
    assert site.paths().count("/robots.txt") == 1  # read once per site
