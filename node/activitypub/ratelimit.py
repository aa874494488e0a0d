"""What a sender may make us spend: token buckets per host, per registrable domain and per client address, and
the slots of a fetch pool, all decided before anything is fetched."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from node.domains import _ip, address_block, bare_host, registrable_domain


class HostRateLimiter:
    """`rate` requests per second sustained, bursts of up to `burst`; a few thousand hosts remembered."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_hosts: int = 10_000):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_hosts = max_hosts
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, host: str, now: float) -> float:
        tokens, stamp = self._buckets.get(host, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - stamp) * self.rate)

    def _wait(self, tokens: float) -> float:
        if tokens >= 1.0:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0

    def peek(self, host: str) -> float:
        """What take() would answer, taking nothing."""
        return self._wait(self._tokens(host, self.clock()))

    def take(self, host: str) -> float:
        """0 when the request may go ahead, else the seconds until it may (for Retry-After)."""
        now = self.clock()
        tokens = self._tokens(host, now)
        self._buckets.pop(host, None)
        wait = self._wait(tokens)
        self._buckets[host] = (tokens - 1.0 if wait == 0.0 else tokens, now)
        if len(self._buckets) > self.max_hosts:
            self._buckets.popitem(last=False)
        return wait


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))

class Allowance:
    """One bucket per host and a larger one per registrable domain: a request takes from both, or from neither.

    A wildcard-DNS domain's thousand names share one domain allowance. `own` (a sibling Congregation) counts in
    buckets of its own at the domain's rate: never drawn down by strangers under the same domain, nor drawing
    theirs down."""

    def __init__(self, rate: float, burst: int, domain_rate: float, domain_burst: int,
                 clock: Callable[[], float] = time.monotonic):
        domain_rate, domain_burst = max(domain_rate, rate), max(domain_burst, burst)
        self.hosts = HostRateLimiter(rate, burst, clock)
        self.domains = HostRateLimiter(domain_rate, domain_burst, clock)
        self.own = HostRateLimiter(domain_rate, domain_burst, clock)

    def peek(self, host: str, *, own: bool = False) -> float:
        """What take() would answer, taking nothing."""
        if own:
            return self.own.peek(host)
        return max(self.hosts.peek(host), self.domains.peek(registrable_domain(bare_host(host))))

    def take(self, host: str, *, own: bool = False) -> float:
        """0 when the request may go ahead (one token taken from each bucket), else the seconds to wait."""
        if own:
            return self.own.take(host)
        wait = self.peek(host)
        if wait:
            return wait
        self.hosts.take(host)
        self.domains.take(registrable_domain(bare_host(host)))
        return 0.0


class Slots:
    """Fetches running at once: at most `size`, of which at most `per_domain` for one registrable domain (a fair
    share: one domain's wildcard names cannot take the pool) and `per_client` for one client block."""

    def __init__(self, size: int, per_domain: int, per_client: int | None = None):
        self.size, self.per_domain, self.per_client = size, per_domain, per_client
        self.used = 0
        self._domains: dict[str, int] = {}
        self._clients: dict[str, int] = {}

    def full_for(self, domain: str) -> str | None:
        """Why a fetch for `domain` cannot be had now (the pool or that domain's share is full), else None."""
        if self.used >= self.size:
            return f"all {self.size} fetch slots are taken"
        return self.domain_full(domain)

    def domain_full(self, domain: str) -> str | None:
        if self._domains.get(domain, 0) >= self.per_domain:
            return f"{domain} has its share ({self.per_domain}) of the fetch slots"
        return None

    def client_busy(self, client: str | None) -> bool:
        return (client is not None and self.per_client is not None
                and self._clients.get(client, 0) >= self.per_client)

    def claim_client(self, client: str | None) -> None:
        if client is not None:
            self._clients[client] = self._clients.get(client, 0) + 1

    def release_client(self, client: str | None) -> None:
        if client is not None:
            _decrement(self._clients, client)

    def claim(self, domains: Iterable[str]) -> None:
        self.used += 1
        for domain in domains:
            self._domains[domain] = self._domains.get(domain, 0) + 1

    def add_domain(self, domain: str) -> None:
        self._domains[domain] = self._domains.get(domain, 0) + 1

    def release(self, domains: Iterable[str]) -> None:
        self.used -= 1
        for domain in domains:
            _decrement(self._domains, domain)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def client_block(remote: str | None, forwarded: Iterable[str], trusted: tuple) -> str:
    """Who is asking, as the per-client allowances count it: the peer's address block, or, when the peer is a
    trusted proxy (`trusted`: the trusted_proxies networks), that of the nearest X-Forwarded-For hop that is not
    one of them; hops left of that were written by the client itself and are not believed (the sign-in
    throttle's rule, node/web/auth.py)."""
    address = remote or "?"
    if trusted and _within(address, trusted):
        hops = [hop.strip() for value in forwarded for hop in value.split(",")]
        for hop in reversed([h for h in hops if h]):
            if not _within(hop, trusted):
                address = hop[:64]
                break
    return address_block(address)


def _within(address: str, networks: tuple) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)
