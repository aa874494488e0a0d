"""Sibling Congregations: Groups that follow ours and that ours follows, each approved by the other."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from node.store import follows, remote


@dataclass(frozen=True)
class SiblingState:
    uri: str
    name: str | None
    ours: str | None     # state of our Group's follow of theirs
    theirs: str | None   # state of their follow of our Group

    @property
    def state(self) -> str:
        if self.ours == "accepted" and self.theirs == "accepted":
            return "sibling"
        if self.theirs == "pending":
            return "they asked: approve with `congregation follows approve`"
        if self.ours == "pending":
            return "we asked: waiting for them"
        if "rejected" in (self.ours, self.theirs):
            return "declined"
        return "one-way: " + ("we follow them" if self.ours == "accepted" else "they follow us")


async def sibling_states(db: aiosqlite.Connection, group_uri: str) -> list[SiblingState]:
    """Every remote Group related to ours by a follow in either direction."""
    ours = {f.followee: f.state for f in await follows.list_for(db, follower=group_uri)}
    theirs = {f.follower: f.state for f in await follows.list_for(db, followee=group_uri)}
    result = []
    for uri in sorted(set(ours) | set(theirs)):
        actor = await remote.actor(db, uri)
        if actor is None or actor.kind != "Group" or actor.deleted_at is not None:
            continue
        result.append(SiblingState(uri, actor.display_name, ours.get(uri), theirs.get(uri)))
    return result


async def siblings(db: aiosqlite.Connection, group_uri: str) -> list[SiblingState]:
    return [s for s in await sibling_states(db, group_uri) if s.state == "sibling"]
