"""A real HTTP server on loopback that serves feeds and pages the tests change between polls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[dict[str, str]], Reply]
UNSIZED = "X-Test-Unsized"
"""A reply header that makes the body go without Content-Length (read until the close)."""


@dataclass
class Site:
    """Routes by path; every request's path and headers are recorded."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def serve(self, path: str, body: bytes | str, content_type: str, etag: bool = True) -> None:
        """A static resource answering conditional GETs with 304."""
        data = body.encode() if isinstance(body, str) else body
        tag = f'"{hash(data) & 0xFFFFFFFF:x}"'
        modified = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)

        def route(headers: dict[str, str]) -> Reply:
            if etag and headers.get("if-none-match") == tag:
                return 304, {"ETag": tag}, b""
            extra = {"ETag": tag, "Last-Modified": modified} if etag else {}
            return 200, {"Content-Type": content_type, **extra}, data

        self.routes[path] = route


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.site.requests.append((self.path, headers))
        route = self.site.routes.get(self.path)
        status, given, body = (
            route(headers) if route else (404, {"Content-Type": "text/plain"}, b"no")
        )
        reply_headers = dict(given)
        self.send_response(status)
        unsized = reply_headers.pop(UNSIZED, None) is not None
        for name, value in reply_headers.items():
            self.send_header(name, value)
        if not unsized and "Content-Length" not in reply_headers and status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_site() -> Iterator[Site]:
    """A Site on a free loopback port, stopped on exit."""
    site = Site()
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


BODY = " ".join(
    f"Sentence {n} of the report on the harbour bridge, which cost money." for n in range(30)
)


def rss(*items: str, title: str = "Harbour News") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.org/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def item(
    guid: str,
    title: str,
    text: str,
    date: str | None = "Mon, 02 Nov 2026 10:00:00 GMT",
    link: str | None = None,
) -> str:
    parts = [
        f'<guid isPermaLink="false">{guid}</guid>',
        f"<title>{title}</title>",
        f"<description>{text}</description>",
    ]
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if link:
        parts.append(f"<link>{link}</link>")
    return "<item>" + "".join(parts) + "</item>"
