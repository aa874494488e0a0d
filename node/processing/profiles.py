"""A member's profile and avatar: the change and the Update(Person) to everyone who holds a copy, together."""

from __future__ import annotations

import aiosqlite

from node.config import Config
from node.governance import profiles
from node.governance.events import Event
from node.processing.common import apply
from node.store.local_actors import LocalActor


async def update_profile(db: aiosqlite.Connection, config: Config, member: LocalActor, display_name: str,
                         bio: str) -> list[Event]:
    return await apply(db, config, lambda: profiles.update_profile(db, member, display_name, bio))


async def set_avatar(db: aiosqlite.Connection, config: Config, member: LocalActor, data: bytes) -> list[Event]:
    return await apply(db, config, lambda: profiles.set_avatar(db, member, data))


async def delete_avatar(db: aiosqlite.Connection, config: Config, member: LocalActor) -> list[Event]:
    return await apply(db, config, lambda: profiles.delete_avatar(db, member))
