"""Remote public keys: cached in memory and in the database, fetched when unknown, refetched once on failure."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite
from cryptography.hazmat.primitives.asymmetric import ed25519

from node.activitypub.as2.parse import BadDocument, host_of, keys_of, origin, own_keys_of, parse_actor, types_of
from node.activitypub.clients import KNOWN_KEY_FETCHES, STRANGER_FETCHES, STRANGER_TOTAL_TIMEOUT
from node.activitypub.fetch import FetchError, HttpClient, connect_host, strip_fragment
from node.activitypub.peers import Peers
from node.activitypub.ratelimit import Allowance, HostRateLimiter, Slots
from node.activitypub.signatures import PublicKey, load_public_key
from node.db import transaction
from node.domains import registrable_domain
from node.store import local_actors, remote
from node.store.remote import RemoteActor

log = logging.getLogger(__name__)
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# All a sender is told when its key cannot be had: the keyId is any URL a stranger likes, and what fetching it
# showed (an answer, a status, an id, a name that resolves inside) is for our log, never for them.
KEY_UNAVAILABLE = "the signing key could not be fetched or used"
# Unknown keys of strangers (hosts we hold no live actor on) are fetched in a pool of their own (clients.Pools):
# STRANGER_FETCHES at once, of which one registrable domain gets at most STRANGER_PER_DOMAIN (a wildcard domain's
# names cannot take the pool) and one client address (IPv6: its /64) at most STRANGER_PER_CLIENT (requests with
# a key already being fetched wait for that fetch, at no cost). All decided before anything is fetched: past the
# pool, 503 + Retry-After; past an allowance (per key host and registrable domain, per client), 429 +
# Retry-After. Known peers' keys come through a pool and allowances of their own: never behind a stranger's.
STRANGER_PER_DOMAIN = 4
STRANGER_PER_CLIENT = 8
# The known peers' pool has the same shares: one registrable domain, and one client address (IPv6: its /64), at
# most so many fetches at once. A client naming keys of many known hosts (new accounts, rotated keys) would
# otherwise fill the pool alone, and a real peer's key would wait behind it (issue 12): past its share, 503.
KNOWN_PER_DOMAIN = 8
KNOWN_PER_CLIENT = 8
# Actor documents fetched with a key whose signature has not verified yet, held in memory only: a stranger's bad
# signatures must not fill the disk with the documents they name (issue 12). Kept once a signature verifies.
MAX_UNVERIFIED_DOCUMENTS = 256


class KeyUnavailable(Exception):
    """The key cannot be had or does not belong to who it claims; `gone` when its actor answered 410.

    `reason` says why, for the log; answers to the sender carry KEY_UNAVAILABLE only. `retry_after` (seconds)
    when the key was not fetched because too many were: the sender may try again then.
    """

    def __init__(self, reason: str, gone: bool = False, retry_after: float | None = None, busy: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.gone = gone
        self.retry_after = retry_after
        # The fetch pool (or the key domain's share of it) is full: not the sender's doing, 503 rather than 429.
        self.busy = busy


@dataclass(frozen=True)
class ResolvedKey:
    key_id: str
    owner: str
    key: PublicKey


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def parse_key(material: str) -> PublicKey:
    """PEM, or a FEP-521a Multikey (`multibase:z…` of an Ed25519 key)."""
    if material.startswith("multibase:"):
        value = material[len("multibase:"):]
        if not value.startswith("z"):
            raise ValueError("only base58btc multibase keys are supported")
        raw = _b58decode(value[1:])
        if raw[:2] != b"\xed\x01" or len(raw) != 34:
            raise ValueError("only Ed25519 Multikeys are supported")
        return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
    return load_public_key(material)


class KeyResolver:
    """key id → (owner, key), with a memory cache in front of the remote_keys table."""

    def __init__(self, db: aiosqlite.Connection, client: HttpClient, refetch_seconds: int,
                 memory_size: int = 20_000, local_base: str | None = None, fetch_rate: float = 20.0,
                 fetch_burst: int = 300, *, strangers: HttpClient | None = None, peers: Peers | None = None,
                 domain_rate: float | None = None, domain_burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.db = db
        # Our own actors' keys are read from our database: fetching them from ourselves with a signed GET
        # (authorized_fetch) would wait on its own key lookup.
        self.local_actors_prefix = f"{local_base}/actors/" if local_base else None
        # Known peers' keys through `client`, everyone else's through `strangers` (without `peers`, all are).
        self.client = client
        self.strangers = strangers or client
        self.peers = peers
        self.refetch_seconds = refetch_seconds
        self.memory_size = memory_size
        self._memory: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._last_refetch: dict[str, float] = {}
        self._unverified: OrderedDict[str, tuple[RemoteActor, str]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[ResolvedKey]] = {}
        domain_rate, domain_burst = domain_rate or fetch_rate, domain_burst or fetch_burst
        self._allowance = Allowance(fetch_rate, fetch_burst, domain_rate, domain_burst, clock)
        self._known_allowance = Allowance(fetch_rate, fetch_burst, domain_rate, domain_burst, clock)
        # A client (a server's address) may name keys on many hosts: it gets what a whole domain gets.
        self._client_allowance = HostRateLimiter(max(domain_rate, fetch_rate), max(domain_burst, fetch_burst), clock)
        self.stranger_slots = Slots(STRANGER_FETCHES, STRANGER_PER_DOMAIN, STRANGER_PER_CLIENT)
        self.known_slots = Slots(KNOWN_KEY_FETCHES, KNOWN_PER_DOMAIN, KNOWN_PER_CLIENT)

    async def resolve(self, key_id: str, client: str | None = None) -> ResolvedKey:
        """The key, from the cache or fetched; `client` is who asks (its address block), for its allowance."""
        cached = self._memory.get(key_id)
        if cached is not None:
            self._memory.move_to_end(key_id)
            return self._resolved(key_id, *cached)
        cached = await remote.key(self.db, key_id)
        if cached is not None:
            self._remember({key_id: cached})
            return self._resolved(key_id, *cached)
        if self.local_actors_prefix and key_id.startswith(self.local_actors_prefix):
            return await self._local(key_id)
        return await self._admitted_fetch(key_id, client)

    async def _admitted_fetch(self, key_id: str, client: str | None) -> ResolvedKey:
        """Fetch the key through the pool its host belongs in, once admitted there (else KeyUnavailable with
        retry_after, `busy` when the pool is full); a fetch of the same key under way is waited for instead."""
        netloc = host_of(key_id)
        if self.peers is not None and netloc and await self.peers.known(netloc):
            return await self._known(key_id, client, own=await self.peers.sibling(origin(key_id)))
        return await self._stranger(key_id, client)

    async def _known(self, key_id: str, client: str | None, own: bool) -> ResolvedKey:
        slots = self.known_slots
        if key_id in self._in_flight:
            return await self._fetch_once(key_id, self.client)
        if slots.client_busy(client):
            raise KeyUnavailable(f"known keys: {client} has its share ({KNOWN_PER_CLIENT}) of the fetch slots",
                                 retry_after=STRANGER_TOTAL_TIMEOUT, busy=True)
        host, domain = _host_and_domain(key_id)
        why = slots.full_for(domain)
        if why:
            raise KeyUnavailable(f"known keys: {why}", retry_after=STRANGER_TOTAL_TIMEOUT, busy=True)
        wait = self._known_allowance.take(host, own=own)
        if wait:
            raise KeyUnavailable(f"too many unknown keys at {host}", retry_after=wait)
        slots.claim([domain])
        slots.claim_client(client)
        try:
            return await self._fetch_once(key_id, self.client)
        finally:
            slots.release([domain])
            slots.release_client(client)

    async def _stranger(self, key_id: str, client: str | None) -> ResolvedKey:
        slots = self.stranger_slots
        if key_id in self._in_flight:  # waiting for a fetch under way costs nothing more: a peer's burst of one key
            return await self._fetch_once(key_id, self.strangers)
        if slots.client_busy(client):
            raise KeyUnavailable(f"{client} has {STRANGER_PER_CLIENT} unknown keys being fetched",
                                 retry_after=STRANGER_TOTAL_TIMEOUT)
        # By host name as the connector will see it: another port, case or a trailing dot is the same server.
        host, domain = _host_and_domain(key_id)
        wait = max(self._allowance.peek(host), self._client_allowance.peek(client) if client else 0.0)
        if wait:
            raise KeyUnavailable(f"too many unknown keys at {host} or from {client}", retry_after=wait)
        why = slots.full_for(domain)
        if why:
            raise KeyUnavailable(f"strangers' keys: {why}", retry_after=STRANGER_TOTAL_TIMEOUT, busy=True)
        self._allowance.take(host)
        if client:
            self._client_allowance.take(client)
        domains = [domain]
        slots.claim(domains)
        slots.claim_client(client)

        def redirected(url: str) -> None:
            """A redirect to another domain needs that domain's share and allowance too (no reflecting off us)."""
            to_host, to_domain = _host_and_domain(url)
            if to_domain in domains:
                return
            why = slots.domain_full(to_domain)
            if why or self._allowance.take(to_host):
                raise FetchError(f"not following the redirect to {to_host}: {why or 'its allowance is used up'}")
            slots.add_domain(to_domain)
            domains.append(to_domain)

        try:
            return await self._fetch_once(key_id, self.strangers, redirected, STRANGER_TOTAL_TIMEOUT)
        finally:
            slots.release(domains)
            slots.release_client(client)

    async def _local(self, key_id: str) -> ResolvedKey:
        path, _, fragment = key_id.partition("#")
        actor = await local_actors.by_username(self.db, path[len(self.local_actors_prefix):])
        if actor is None or fragment != "main-key":
            raise KeyUnavailable(f"no such key here: {key_id}", gone=True)
        return self._resolved(key_id, self.local_actors_prefix + actor.username, actor.public_key_pem)

    async def _fetch_once(self, key_id: str, http: HttpClient, on_redirect: Callable[[str], None] | None = None,
                          within: float | None = None) -> ResolvedKey:
        """One fetch per unknown key, however many requests signed with it arrive meanwhile."""
        waiting = self._in_flight.get(key_id)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[ResolvedKey] = asyncio.get_running_loop().create_future()
        self._in_flight[key_id] = future
        try:
            try:
                async with asyncio.timeout(within):
                    result = await self._fetch(key_id, http, on_redirect)
            except TimeoutError:
                raise KeyUnavailable(f"fetching key {key_id} took longer than {within} s") from None
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._in_flight[key_id]

    def _remember(self, entries: dict[str, tuple[str, str]]) -> None:
        for key_id, entry in entries.items():
            self._memory[key_id] = entry
            self._memory.move_to_end(key_id)
        while len(self._memory) > self.memory_size:
            self._memory.popitem(last=False)

    async def refetch(self, key_id: str, client: str | None = None) -> ResolvedKey | None:
        """Fetch the key again after it failed, at most once per key per refetch window, admitted as a first
        fetch is (a stranger's refetch in the strangers' pool, a known peer's in its own).

        Per key, not per host: one account's bad signatures must not use up the refetch another account on the
        same server needs after rotating its key."""
        if self.local_actors_prefix and key_id.startswith(self.local_actors_prefix):
            return None  # ours, read from our database: a bad signature with it fetched and cached our own actor
        now = time.monotonic()
        if now - self._last_refetch.get(key_id, -1e9) < self.refetch_seconds:
            return None
        if len(self._last_refetch) >= self.memory_size:
            self._last_refetch = {k: t for k, t in self._last_refetch.items() if now - t < self.refetch_seconds}
        self._last_refetch[key_id] = now
        return await self._admitted_fetch(key_id, client)

    async def vouched(self, owner: str) -> None:
        """A signature by `owner`'s key verified: keep the actor document its key was fetched with."""
        held = self._unverified.pop(owner, None)
        if held is not None:
            async with transaction(self.db):
                await remote.upsert_actor(self.db, *held)

    def forget(self, owner: str) -> None:
        for key_id in [k for k, (o, _) in self._memory.items() if o == owner]:
            del self._memory[key_id]

    def _resolved(self, key_id: str, owner: str, material: str) -> ResolvedKey:
        try:
            return ResolvedKey(key_id, owner, parse_key(material))
        except ValueError as exc:
            raise KeyUnavailable(f"key {key_id} cannot be used: {exc}") from None

    @staticmethod
    async def _get(http: HttpClient, url: str, on_redirect: Callable[[str], None] | None) -> dict:
        try:
            return await http.get_json(url, on_redirect=on_redirect)
        except FetchError as exc:
            raise KeyUnavailable(f"cannot fetch key {url}: {exc.reason}", gone=exc.status in (404, 410)) from None

    async def _fetch(self, key_id: str, http: HttpClient, on_redirect: Callable[[str], None] | None) -> ResolvedKey:
        document = await self._get(http, strip_fragment(key_id), on_redirect)
        if not any(t in ("Key", "CryptographicKey", "Multikey") for t in types_of(document)):
            actor_doc = document
        else:
            # A standalone key document: its owner must be fetched and must list this very key.
            owner = document.get("owner") or document.get("controller")
            if not isinstance(owner, str) or origin(owner) != origin(key_id):
                raise KeyUnavailable(f"key {key_id} names no owner on its own origin")
            actor_doc = await self._get(http, owner, on_redirect)
        try:
            actor = parse_actor(actor_doc)
        except BadDocument as exc:
            raise KeyUnavailable(f"key {key_id}: {exc}") from None
        listed = keys_of(actor_doc)
        if key_id not in listed:
            raise KeyUnavailable(f"{actor.uri} does not list the key {key_id}")
        owner, material = listed[key_id]
        if owner != actor.uri:
            raise KeyUnavailable(f"key {key_id} claims owner {owner}, listed by {actor.uri}")
        # An actor vouches only for its own keys: on its origin and named under its URI (or the very key whose URL
        # answered). Listing another account's key id, even on the same server, would plant a wrong key under it.
        own = own_keys_of(actor_doc, fetched_key=key_id)
        if key_id not in own:
            raise KeyUnavailable(f"{actor.uri} lists {key_id}, which is not its own to vouch for")
        resolved = self._resolved(key_id, owner, material)
        stored = {}
        async with transaction(self.db):
            for listed_id, entry in own.items():
                if await remote.upsert_key(self.db, listed_id, *entry):
                    stored[listed_id] = entry
        if key_id not in stored:
            raise KeyUnavailable(f"key {key_id} is cached for another owner than {owner}")
        self._remember(stored)
        text = json.dumps(actor_doc)
        if len(text.encode()) <= remote.MAX_DOCUMENT_BYTES:  # a bigger one is never kept: the key alone is
            self._unverified[actor.uri] = (actor, text)
            self._unverified.move_to_end(actor.uri)
        while len(self._unverified) > MAX_UNVERIFIED_DOCUMENTS:
            self._unverified.popitem(last=False)
        return resolved


def _host_and_domain(url: str) -> tuple[str, str]:
    """The host as the connector will see it (another port, case or a trailing dot is the same server), and its
    registrable domain."""
    host = (connect_host(url) or "").lower().rstrip(".")
    return host, registrable_domain(host)
