"""Leaving and removal: the membership ends, and what builds on it (crews) reacts in the same transaction."""

from __future__ import annotations

import aiosqlite

from node.config import Config
from node.governance import crews, membership
from node.governance.events import Event, MembershipEnded
from node.processing.common import apply
from node.store.local_actors import LocalActor


async def ended(db: aiosqlite.Connection, events: list[Event]) -> list[Event]:
    for event in events:
        if isinstance(event, MembershipEnded):
            await crews.membership_ended(db, event.actor.id)
    return events


async def leave(db: aiosqlite.Connection, config: Config, member: LocalActor, reason: str = "") -> list[Event]:
    """A member leaves of their own accord; their sessions end, their crews let them go, their posts stay."""
    async def change() -> list[Event]:
        return await ended(db, await membership.leave(db, member, reason))

    return await apply(db, config, change)


async def remove(db: aiosqlite.Connection, config: Config, member: str | int, by: LocalActor | None,
                 reason: str) -> LocalActor:
    """Remove a member (by a Partner, the operator, or a passed decision); returns who was removed."""
    async def change() -> list[Event]:
        return await ended(db, await membership.remove(db, member, by, reason))

    events = await apply(db, config, change)
    return next(e.actor for e in events if isinstance(e, MembershipEnded))


async def promote(db: aiosqlite.Connection, member: str | int, by: LocalActor | None, reason: str = "") -> LocalActor:
    return await membership.promote(db, member, by, reason)


async def demote(db: aiosqlite.Connection, member: str | int, by: LocalActor | None, reason: str = "") -> LocalActor:
    return await membership.demote(db, member, by, reason)
