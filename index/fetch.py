"""Polite, safe HTTP fetching for feeds and article pages.

Every request: http(s) only; the host is resolved once and the connection goes to that
address (so a second DNS answer cannot swap in another), which must be a public address —
loopback and private networks only with `fetch_allow_private`, link-local (cloud metadata,
169.254.169.254) never; redirects followed by hand, a few at most, each hop checked the same
way; a timeout per read and a deadline for the whole response; a size cap; retries with
backoff on 5xx, 429 and timeouts; one request at a time per host with a delay between them;
robots.txt obeyed; a User-Agent that names Newsdesk. Conditional GET with the validators
(ETag, Last-Modified) of the last response."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from newsdesk.index.errors import NewsdeskError

USER_AGENT = "Newsdesk/0.1 (news question answering; +https://github.com/newsdesk)"
ROBOTS_AGENT = "Newsdesk"
MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
METADATA = {"fd00:ec2::254"}
"""Cloud metadata services outside link-local space (AWS's IPv6 one); refused always."""


class FetchRefused(NewsdeskError):
    """A URL that was not fetched, and why (a `skipped` reason; nothing is changed)."""


class Transient(FetchRefused):
    """A failure worth retrying: a timeout, a dropped connection, 5xx or 429."""


@dataclass(frozen=True)
class Fetched:
    """A response: 200 with its body, or 304 (not modified) with none."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FetchPolicy:
    """The limits a Fetcher keeps (from settings)."""

    timeout: float = 10.0
    max_bytes: int = 10_000_000
    allow_private: bool = False
    host_delay: float = 1.0
    attempts: int = 3
    backoff: float = 0.5


def address_problem(address: str, allow_private: bool) -> str | None:
    """Why a connection to `address` is refused, or None when it may be made."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_link_local or str(ip) in METADATA:  # never a news source
        return f"{address} is a link-local or cloud metadata address"
    if ip.is_unspecified or ip.is_multicast:
        return f"{address} is not a host's address"
    if ip.is_global:
        return None
    if allow_private and (ip.is_loopback or ip.is_private):
        return None
    return (
        f"{address} is a loopback, private or reserved address "
        "(set NEWSDESK_FETCH_ALLOW_PRIVATE=true to fetch from your own network)"
    )


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for `host`: every address it resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if problem := address_problem(address, allow_private):
            raise FetchRefused(f"refused {host}: {problem}")
    return addresses[0]


class Fetcher:
    """Fetches URLs under a FetchPolicy; safe to share between threads."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        timeout = httpx.Timeout(self.policy.timeout, connect=min(self.policy.timeout, 5.0))
        # Proxies from the environment would bypass the address checks: never used.
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self.robots: dict[str, RobotFileParser] = {}
        self.hosts: dict[str, threading.Lock] = {}
        self.last_request: dict[str, float] = {}
        self.guard = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        obey_robots: bool = True,
    ) -> Fetched:
        """GET `url` (conditionally when validators are given), following a few redirects."""
        seen: set[str] = set()
        for _ in range(MAX_REDIRECTS + 1):
            if url in seen:
                raise FetchRefused(f"redirect loop at {url}")
            seen.add(url)
            if obey_robots and not self.allowed_by_robots(url):
                raise FetchRefused(f"robots.txt of {urlsplit(url).netloc} disallows {url}")
            headers = {"User-Agent": USER_AGENT}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            response = self.retrying(url, headers)
            if isinstance(response, str):  # a redirect's target
                url = response
                continue
            return response
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects from {url}")

    def retrying(self, url: str, headers: dict[str, str]) -> Fetched | str:
        """One request with retries on transient failures: the response or a redirect target."""
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential(multiplier=self.policy.backoff, max=8),
            retry=retry_if_exception_type(Transient),
            reraise=True,
        )
        return retrying(self.once, url, headers)

    def once(self, url: str, headers: dict[str, str]) -> Fetched | str:
        """One request to the address `url`'s host resolves to, read within the limits."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise FetchRefused(f"only http and https URLs are fetched, not {url!r}")
        if not parts.hostname:
            raise FetchRefused(f"{url!r} has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(parts.hostname, port, self.policy.allow_private)
        pinned = ipaddress.ip_address(address)
        literal = f"[{address}]" if pinned.version == 6 else address
        target = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        headers = {**headers, "Host": parts.netloc.rsplit("@", 1)[-1]}
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        with self.turn(parts.hostname):
            try:
                return self.read(url, target, headers, extensions)
            except httpx.TimeoutException:
                raise Transient(f"{url} did not answer within {self.policy.timeout:g} s") from None
            except httpx.TransportError as exc:
                raise Transient(f"cannot fetch {url}: {type(exc).__name__}") from None

    def read(
        self, url: str, target: str, headers: dict[str, str], extensions: dict[str, str]
    ) -> Fetched | str:
        request = self.client.build_request("GET", target, headers=headers, extensions=extensions)
        deadline = time.monotonic() + 3 * self.policy.timeout
        response = self.client.send(request, stream=True)
        try:
            status = response.status_code
            if status in REDIRECTS and "location" in response.headers:
                return urljoin(url, response.headers["location"])
            if status == 429 or status >= 500:
                raise Transient(f"{url} answered HTTP {status}")
            if status not in {200, 304}:
                raise FetchRefused(f"{url} answered HTTP {status}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchRefused(f"{url} is over {self.policy.max_bytes:,} bytes")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > self.policy.max_bytes:
                    raise FetchRefused(f"{url} is over {self.policy.max_bytes:,} bytes")
                if time.monotonic() > deadline:
                    raise Transient(f"{url} took over {3 * self.policy.timeout:g} s to send")
            return Fetched(
                url=url,
                status=status,
                content=bytes(body),
                content_type=response.headers.get("content-type", ""),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        finally:
            response.close()

    def turn(self, host: str) -> _Turn:
        """One request at a time per host, `host_delay` seconds apart."""
        with self.guard:
            lock = self.hosts.setdefault(host, threading.Lock())
        return _Turn(self, host, lock)

    def allowed_by_robots(self, url: str) -> bool:
        """Whether the site's robots.txt lets Newsdesk fetch `url` (RFC 9309: a robots.txt
        that is missing or 4xx allows everything; one that cannot be fetched allows nothing)."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        with self.guard:
            parser = self.robots.get(site)
        if parser is None:
            parser = RobotFileParser()
            try:
                fetched = self.get(f"{site}/robots.txt", obey_robots=False)
                parser.parse(fetched.content.decode("utf-8", "replace").splitlines())
            except Transient:
                parser.disallow_all = True
            except FetchRefused:  # 4xx: no rules
                parser.allow_all = True
            with self.guard:
                self.robots[site] = parser
        return parser.can_fetch(ROBOTS_AGENT, url)


class _Turn:
    """Holds a host's lock for one request and keeps the delay since its last one."""

    def __init__(self, fetcher: Fetcher, host: str, lock: threading.Lock) -> None:
        self.fetcher, self.host, self.lock = fetcher, host, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        wait = self.fetcher.last_request.get(self.host, 0.0) + self.fetcher.policy.host_delay
        if (pause := wait - time.monotonic()) > 0:
            time.sleep(pause)

    def __exit__(self, *exc: object) -> None:
        self.fetcher.last_request[self.host] = time.monotonic()
        self.lock.release()
