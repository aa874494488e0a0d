"""How every command opens the node: its settings as the running node sees them (a setting the Congregation
decided overrides the file), a migrated database that holds a Congregation, and a signing client on demand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from node import config as configuration
from node import db as database
from node.activitypub.clients import signing_client
from node.activitypub.fetch import HttpClient
from node.config import Config, ConfigError
from node.store import local_actors
from node.store import settings as settings_store
from node.store.local_actors import LocalActor


@dataclass
class OpenNode:
    config: Config
    db: aiosqlite.Connection
    group: LocalActor
    _clients: list[HttpClient] = field(default_factory=list)

    def client(self, actor: LocalActor | None = None) -> HttpClient:
        """A client signing as `actor` (the Group by default); closed with the node."""
        made = signing_client(self.config, actor or self.group)
        self._clients.append(made)
        return made


@contextlib.asynccontextmanager
async def open_node(data: str | Path) -> AsyncIterator[OpenNode]:
    """The node's settings and an open, migrated database that holds a Congregation; ConfigError otherwise."""
    config = configuration.load(data)
    if not config.db_path.exists():
        raise ConfigError(f"{config.db_path} does not exist (run `congregation init` first)")
    db = await database.connect(config.db_path)
    node = None
    try:
        await database.migrate(db)
        group = await local_actors.group(db)
        if group is None:
            raise ConfigError(f"{config.db_path} holds no Congregation; run `congregation init`")
        node = OpenNode(configuration.with_decided(config, await settings_store.decided(db)), db, group)
        yield node
    finally:
        for client in node._clients if node else ():
            await client.close()
        await db.close()
