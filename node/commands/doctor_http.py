"""The doctor's HTTP: one bounded GET (no redirects, 10 s, 1 MiB), through the SSRF guard unless it is the
operator's own `--url`, with failures as one readable reason."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from node.activitypub.fetch import USER_AGENT, check_url
from node.activitypub.netguard import AddressRefused, GuardedResolver
from node.config import Config

HTTP_TIMEOUT = 10.0
MAX_BODY = 1 << 20


class Unreachable(Exception):
    """No HTTP answer; the message says why in a few words."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {HTTP_TIMEOUT:.0f} s"
    if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(exc, aiohttp.ClientSSLError):
        cause = exc.os_error
        if isinstance(cause, AddressRefused):
            return f"{cause} (allow_private_addresses is false)"
        if isinstance(cause, OSError) and cause.errno and cause.errno > 0:
            return os.strerror(cause.errno)  # "Connection refused", not asyncio's "Connect call failed (…)"
        return (cause.strerror or str(cause)) if isinstance(cause, OSError) else str(exc)
    return f"{exc.__class__.__name__}: {exc}"


async def fetch(url: str, headers: dict[str, str], allow_private: bool | None,
                server_hostname: str | None = None) -> Answer:
    """One GET, no redirects, 10 s in all. `allow_private` None: the operator's own `--url`, not guarded."""
    if allow_private is not None:
        check_url(url, allow_private)
    resolver = GuardedResolver(allow_private) if allow_private is not None else None
    connector = aiohttp.TCPConnector(resolver=resolver) if resolver else aiohttp.TCPConnector()
    try:
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT},
                                         timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT)) as session, \
                session.get(url, headers=headers, allow_redirects=False,
                            server_hostname=server_hostname) as response:
            body = b""
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > MAX_BODY:
                    break
            return Answer(response.status, response.headers, body)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise Unreachable(_reason(exc)) from None


@dataclass(frozen=True)
class Target:
    """Where this node is reached: its base URL, or `--url` with the base URL's Host header."""

    url: str
    headers: dict[str, str]
    allow_private: bool | None
    server_hostname: str | None
    label: str

    @classmethod
    def of(cls, config: Config, url: str | None) -> Target:
        if url is None:
            return cls(config.base_url, {}, config.allow_private_addresses, None, config.base_url)
        hostname = urlsplit(config.base_url).hostname if url.startswith("https:") else None
        return cls(url, {"Host": config.host}, None, hostname, f"{url} (as {config.host})")

    async def get(self, path: str, accept: str, extra: Mapping[str, str] | None = None) -> Answer:
        return await fetch(self.url + path, {**self.headers, "Accept": accept, **(extra or {})}, self.allow_private,
                           self.server_hostname)


def json_object(answer: Answer) -> dict | None:
    try:
        document = json.loads(answer.body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def public_key_pem(document: dict) -> str:
    key = document.get("publicKey")
    if isinstance(key, list):
        key = key[0] if key else None
    return str(key.get("publicKeyPem", "")) if isinstance(key, dict) else ""
