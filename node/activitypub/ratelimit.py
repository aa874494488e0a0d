"""Per-host allowance for inbox POSTs: a token bucket per verified sending host."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class HostRateLimiter:
    """`rate` requests per second sustained, bursts of up to `burst`; a few thousand hosts remembered."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_hosts: int = 10_000):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_hosts = max_hosts
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, host: str) -> float:
        """0 when the request may go ahead, else the seconds until it may (for Retry-After)."""
        now = self.clock()
        tokens, stamp = self._buckets.pop(host, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._buckets[host] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[host] = (tokens, now)
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0
        if len(self._buckets) > self.max_hosts:
            self._buckets.popitem(last=False)
        return wait


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
