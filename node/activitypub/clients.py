"""The one way an outbound HTTP client is made: the SSRF guard and limits from the settings, and every request
signed with an actor's key (the Group's for the node, the member's where a member acts).

The node's outbound connections are split into pools (`Pools`) so nothing a stranger makes it fetch can hold a
connection another task needs: an unsigned POST naming a silent key server once held all of them, and a real
peer's Follow and our deliveries waited behind it (issue 12, point 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.abc import AbstractResolver

from node import uris
from node.activitypub.fetch import HttpClient
from node.activitypub.netguard import OwnThreadsResolver
from node.activitypub.signatures import load_private_key, sign
from node.config import Config
from node.store.local_actors import LocalActor

# The strangers' pool: keys named by senders we know nothing of. Fetches at once (one connection each: a fetch's
# GETs and redirects run one after another), and how long one may take, connecting and in all. A real server
# answers a key in well under a second; a stranger's slow one is given up on, not waited for.
STRANGER_FETCHES = 32
STRANGER_CONNECT_TIMEOUT = 3.0
STRANGER_TOTAL_TIMEOUT = 5.0
# Threads resolving the names strangers choose (their own: a silent DNS server holds one for its whole timeout).
STRANGER_DNS_THREADS = 8
# Known peers' key fetches (a new account on a server we know, a key rotated), at most so many at once.
KNOWN_KEY_FETCHES = 64
# Deliveries: the worker's concurrency (32 by default) and a margin; per host the worker's own limit applies.
DELIVERY_CONNECTIONS = 64


def signing_client(config: Config, actor: LocalActor, **options) -> HttpClient:
    """An HttpClient whose requests carry `actor`'s HTTP signature (authorized fetch works everywhere)."""
    private_key = load_private_key(actor.private_key_pem)
    kid = uris.key(config, actor.username)

    def signer(method: str, url: str, body: bytes | None, content_type: str | None) -> dict[str, str]:
        return sign(method, url, kid, private_key, body, content_type)

    settings = dict(allow_private=config.allow_private_addresses, max_bytes=config.fetch_max_bytes,
                    connect_timeout=config.fetch_connect_timeout, total_timeout=config.fetch_total_timeout,
                    max_redirects=config.fetch_max_redirects, signer=signer)
    return HttpClient(**{**settings, **options})


@dataclass
class Pools:
    """One connection pool per kind of work; each an HttpClient of its own, each behind the SSRF guard.

    general:    the inbox worker, the decision clock, follows and votes from the web and the CLI
    deliveries: the delivery worker only; nothing inbound can starve it
    known_keys: keys of hosts we hold a live actor on (verified before, followed, siblings); shared per
                registrable domain and per client address as the strangers' pool is (keys.py), 503 past a share
    strangers:  keys anyone else names in a keyId; small, with short timeouts and DNS threads of its own; a
                request finding it full is answered 503 + Retry-After rather than queued (keys.py decides first)
    """

    general: HttpClient
    deliveries: HttpClient
    known_keys: HttpClient
    strangers: HttpClient

    @classmethod
    def open(cls, config: Config, group: LocalActor, resolver: AbstractResolver | None = None) -> Pools:
        def client(**options) -> HttpClient:
            return signing_client(config, group, resolver=resolver, **options)

        return cls(
            general=client(),
            deliveries=client(limit=DELIVERY_CONNECTIONS, limit_per_host=max(8, config.delivery_per_host)),
            known_keys=client(limit=KNOWN_KEY_FETCHES, limit_per_host=8),
            strangers=signing_client(
                config, group, resolver=resolver or OwnThreadsResolver(STRANGER_DNS_THREADS),
                limit=STRANGER_FETCHES, limit_per_host=0,
                connect_timeout=min(config.fetch_connect_timeout, STRANGER_CONNECT_TIMEOUT),
                total_timeout=min(config.fetch_total_timeout, STRANGER_TOTAL_TIMEOUT)))

    async def close(self) -> None:
        for client in (self.general, self.deliveries, self.known_keys, self.strangers):
            await client.close()
