"""Outbound HTTP: signed GETs and POSTs, SSRF guard, size and time limits.

Each HttpClient is one connection pool (its own aiohttp connector). The node keeps several (clients.Pools), so
that what strangers make it fetch never holds a connection that deliveries or known peers need."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from node import SOFTWARE_NAME, __version__
from node.activitypub.jsonsafe import BadJSON, loads_object
from node.activitypub.netguard import GuardedResolver, is_public, literal_ip

log = logging.getLogger(__name__)

AS_TYPES = ("application/activity+json", "application/ld+json")
ACCEPT_AS = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = f"{SOFTWARE_NAME}/{__version__}"

# What a POST's answer body is read for: a line in the log. A 2xx is never waited on (Epicyon answers 2xx
# without a Content-Length and keeps the body open); an error body is waited on for at most ERROR_BODY_WAIT s.
ANSWER_BODY_BYTES = 2000
ERROR_BODY_WAIT = 2.0

# signer(method, url, body, content_type) -> headers to add
Signer = Callable[[str, str, bytes | None, str | None], dict[str, str]]


class FetchError(Exception):
    """An outbound request was refused or failed; `status` is the remote HTTP status when there was one."""

    def __init__(self, reason: str, status: int | None = None, retry_after: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class PostResult:
    status: int
    body: str
    retry_after: str | None


def connect_host(url: str) -> str | None:
    """The host as aiohttp will connect to it: yarl's IDNA/UTS 46 form, so `１２７．０．０．１` is 127.0.0.1."""
    try:
        return URL(url).raw_host
    except (ValueError, UnicodeError):
        return None


def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and IP literals that are not public (aiohttp skips the resolver for those)."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # "http://[::1" and the like
        raise FetchError(f"refusing to fetch {url!r}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise FetchError(f"refusing to fetch {url!r}: only http(s) URLs with a host")
    if parts.username or parts.password:
        raise FetchError(f"refusing to fetch {url!r}: URLs with credentials are not fetched")
    # Checked in the form the connector will use, not as written: fullwidth digits and dots, circled digits and
    # ideographic full stops all normalise to an ASCII IP literal that would skip the resolver.
    host = connect_host(url)
    if host is None:
        raise FetchError(f"refusing to fetch {url!r}: its host is not a valid name")
    if allow_private:
        return
    ip = literal_ip(host)
    if ip is not None and not is_public(ip):
        raise FetchError(f"refusing to fetch {url!r}: {ip} is not a public address")
    name = host.lower().rstrip(".")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        raise FetchError(f"refusing to fetch {url!r}: localhost is not a public address")


def strip_fragment(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL anyone could fetch; what matters is that it is not an error
        return url.partition("#")[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


async def _read_some(response: aiohttp.ClientResponse, limit: int, wait: float) -> bytes:
    """At most `limit` bytes of the body: what has arrived, plus what arrives within `wait` seconds.

    The status is the answer; a body that never ends must not turn it into a timeout."""
    content = response.content
    data = content.read_nowait(limit)
    if wait > 0 and len(data) < limit and not content.at_eof():
        try:
            async with asyncio.timeout(wait):
                while len(data) < limit and (chunk := await content.read(limit - len(data))):
                    data += chunk
        except TimeoutError:
            pass
    if not content.at_eof():
        # The rest is never read: the connection cannot carry another request, so it is closed, not pooled.
        response.close()
    return data


class HttpClient:
    """Every request this node makes to the outside goes through here."""

    def __init__(self, *, allow_private: bool, max_bytes: int, connect_timeout: float, total_timeout: float,
                 max_redirects: int, signer: Signer | None = None, resolver: AbstractResolver | None = None,
                 limit: int = 100, limit_per_host: int = 8):
        self.allow_private = allow_private
        # Connections open at once, overall and per (host, port): aiohttp queues a request past either.
        self.limit, self.limit_per_host = limit, limit_per_host
        # Resolves behind the guard, never instead of it: a test's MappedResolver maps made-up names to loopback.
        self._resolver = resolver
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.signer = signer
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout,
                                              connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            guard = GuardedResolver(self.allow_private, self._resolver)
            # Every pool is guarded: names resolve behind the guard and the socket checks the address it connects to.
            connector = aiohttp.TCPConnector(resolver=guard, socket_factory=guard.socket_factory, limit=self.limit,
                                             limit_per_host=self.limit_per_host, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  headers={"User-Agent": USER_AGENT}, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{response.url} answered more than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_json(self, url: str, *, sign: bool = True, accept: str = ACCEPT_AS,
                       require_as: bool = True, check_id: bool = True,
                       on_redirect: Callable[[str], None] | None = None) -> dict[str, Any]:
        """GET an ActivityStreams document; its `id` must be the URL finally fetched.

        `on_redirect(url)` is called before a redirect is followed, and may refuse it by raising FetchError."""
        current = url
        for _ in range(self.max_redirects + 1):
            check_url(current, self.allow_private)
            headers = {"Accept": accept}
            if sign and self.signer is not None:
                headers.update(self.signer("GET", current, None, None))
            try:
                async with self.session.get(current, headers=headers, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{current} redirected without a Location", response.status)
                        current = urljoin(current, location)
                        if on_redirect is not None:
                            on_redirect(current)
                        continue
                    if response.status >= 400:
                        raise FetchError(f"{current} answered {response.status}", response.status,
                                         response.headers.get("Retry-After"))
                    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    body = await self._read_capped(response)
            except aiohttp.ClientError as exc:
                raise FetchError(f"cannot fetch {current}: {exc.__class__.__name__}: {exc}") from None
            except TimeoutError:
                raise FetchError(f"fetching {current} timed out") from None
            except OSError as exc:
                raise FetchError(f"cannot fetch {current}: {exc}") from None
            except ValueError as exc:  # UnicodeError too: a host the IDNA codec or the resolver cannot take
                raise FetchError(f"cannot fetch {current}: not a valid URL ({exc})") from None
            if require_as and content_type not in AS_TYPES:
                raise FetchError(f"{current} is not an ActivityStreams document ({content_type or 'no type'})")
            try:
                document = loads_object(body)
            except BadJSON as exc:
                raise FetchError(f"{current}: {exc}") from None
            if check_id and strip_fragment(str(document.get("id", ""))) != strip_fragment(current):
                raise FetchError(f"{current} served a document whose id is {document.get('id')!r}")
            return document
        raise FetchError(f"{url} redirected more than {self.max_redirects} times")

    async def post(self, url: str, body: bytes, content_type: str = "application/activity+json",
                   signer: Signer | None = None) -> PostResult:
        """POST a signed body; never follows redirects (a moved inbox is the sender's problem)."""
        check_url(url, self.allow_private)
        headers = {"Content-Type": content_type}
        sign = signer or self.signer
        if sign is not None:
            headers.update(sign("POST", url, body, content_type))
        try:
            async with self.session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                wait = 0.0 if 200 <= response.status < 300 else ERROR_BODY_WAIT
                text = (await _read_some(response, ANSWER_BODY_BYTES, wait)).decode("utf-8", "replace")
                return PostResult(response.status, text, response.headers.get("Retry-After"))
        except aiohttp.ClientError as exc:
            raise FetchError(f"cannot post to {url}: {exc.__class__.__name__}: {exc}") from None
        except TimeoutError:
            raise FetchError(f"posting to {url} timed out") from None
        except OSError as exc:
            raise FetchError(f"cannot post to {url}: {exc}") from None
        except ValueError as exc:  # UnicodeError too: a host the IDNA codec or the resolver cannot take
            raise FetchError(f"cannot post to {url}: not a valid URL ({exc})") from None
