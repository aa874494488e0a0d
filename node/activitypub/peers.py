"""Who a host is to us, for the admission checks: a known peer, or a sibling Congregation, or a stranger."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import aiosqlite

from node.store import follows, remote

# How long an answer is remembered: a new sibling (or a lost one) is seen within a minute, and the inbox's hot
# path reads the database once a minute per sending origin, not once a request.
REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 10_000


class Peers:
    def __init__(self, db: aiosqlite.Connection, group_uri: str, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.group_uri = group_uri
        self.clock = clock
        self._siblings: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    async def known(self, host: str) -> bool:
        """We hold a live actor on `host` (host[:port]): it verified before, we follow it, or it follows us."""
        return await remote.host_known(self.db, host.lower())

    async def sibling(self, origin: str) -> bool:
        """A Group on `origin` (scheme://host[:port]) and ours follow each other: a sibling Congregation."""
        now = self.clock()
        remembered = self._siblings.get(origin)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        answer = await follows.mutual_group_on(self.db, self.group_uri, origin)
        self._siblings.pop(origin, None)
        self._siblings[origin] = (answer, now + REMEMBER_SECONDS)
        while len(self._siblings) > MAX_REMEMBERED:
            self._siblings.popitem(last=False)
        return answer
