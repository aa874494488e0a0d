"""Moderation rules: who may block a server for the whole Congregation (one Partner, or a passed proposal for a
sibling), the allowlist and the federation mode, and each member's own mutes and blocks.

The Congregation's actions are written to the moderation log (store/moderation_log.py); a member's own mutes and
blocks are theirs alone and are never logged, listed to others or sent. Hosts arrive already normalised (processing
reads them as the connector would); URIs of our own actors arrive built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from node.governance.errors import Conflict, Invalid, NotAllowed, NotFound
from node.governance.events import Event, FederationChanged, FollowAnswered, FollowUndone
from node.store import follows, moderation_log, remote
from node.store import moderation as store
from node.store.local_actors import LocalActor
from node.store.moderation import ALLOWLIST, OPEN, covers

MAX_REASON = 500
# A member's own list is bounded like everything a person can make us keep.
MAX_FILTERS = 1_000
BLOCKED = "refused: the Congregation blocks this server"
NOT_LISTED = "refused: the Congregation federates only with its siblings and listed servers"


class ModerationError(Invalid):
    """A moderation change cannot be made; the message says why, for a person to read."""


class NotPermitted(ModerationError, NotAllowed):
    """Not for this person, or not without a proposal."""


class AlreadyDone(ModerationError, Conflict):
    """It is already so."""


class NotThere(ModerationError, NotFound):
    """There is no such block, mute or listed server."""


@dataclass(frozen=True)
class Place:
    """Where this node stands, as processing reads it: its own host, its actors' URI prefix, its siblings' hosts."""

    own_host: str
    local_prefix: str
    sibling_hosts: frozenset[str]

    def sibling_covered_by(self, host: str) -> str | None:
        """The sibling's host a block of `host` would reach, or None."""
        return next((s for s in sorted(self.sibling_hosts) if covers(host, s)), None)


def _by(actor: LocalActor | None) -> int | None:
    return actor.id if actor is not None else None


def _partner_or_operator(actor: LocalActor | None, what: str) -> None:
    """None is the operator at the command line; otherwise only a Partner."""
    if actor is not None and actor.tier != "partner":
        raise NotPermitted(f"only Partners {what} for the Congregation")


def _reason(text: str, required: bool) -> str:
    reason = " ".join(text.split())
    if required and not reason:
        raise ModerationError("say why: the reason is recorded in the moderation log for every member")
    if len(reason) > MAX_REASON:
        raise ModerationError(f"a reason is at most {MAX_REASON} characters")
    return reason


def _not_ours(host: str, place: Place) -> None:
    if covers(host, place.own_host):
        raise ModerationError(f"that is this Congregation's own server ({host})")


async def _cut_off(db: aiosqlite.Connection, refused: Callable[[str], bool], why: str) -> None:
    """Nothing more goes to or comes from these hosts: queued deliveries and unread inbox rows are dropped."""
    await store.drop_deliveries(db, refused, why)
    await store.drop_unprocessed(db, refused, why)


# The Congregation


async def block_server(db: aiosqlite.Connection, by: LocalActor | None, host: str, reason: str, place: Place,
                       proposal_id: int | None = None) -> list[Event]:
    """Block a server for everyone here: its follows both ways end, nothing is sent to it or taken from it.

    One Partner (or the operator) may block a server that is not a sibling's; a sibling's only a passed proposal."""
    _partner_or_operator(by, "block a server")
    _not_ours(host, place)
    reason = _reason(reason, required=proposal_id is None)
    sibling = place.sibling_covered_by(host)
    if sibling is not None and proposal_id is None:
        raise NotPermitted(f"the server {sibling} is a sibling Congregation's: blocking it is decided by"
                           " consent (propose it with the action block_server)")
    if not await store.block_server(db, host, reason, _by(by), proposal_id):
        raise AlreadyDone(f"the server {host} is already blocked")
    await moderation_log.record(db, "server_blocked", host, by_id=_by(by), proposal_id=proposal_id, reason=reason)
    # Mastodon's domain block (suspend) ends every relationship silently: the server is sent nothing, not even Undo.
    found = await store.follows_on(db, host, place.local_prefix)
    await store.delete_follows(db, [f[0] for f in found])
    await store.hide_notes_from(db, host)
    await _cut_off(db, lambda h: covers(host, h), BLOCKED)
    return [FederationChanged("server_blocked", host)]


async def unblock_server(db: aiosqlite.Connection, by: LocalActor | None, host: str, reason: str = "",
                         proposal_id: int | None = None) -> list[Event]:
    """Lift a block: new activities are delivered again (what was dropped stays dropped; follows are not restored)."""
    _partner_or_operator(by, "unblock a server")
    reason = _reason(reason, required=False)
    if not await store.unblock_server(db, host):
        raise NotThere(f"the server {host} is not blocked")
    await moderation_log.record(db, "server_unblocked", host, by_id=_by(by), proposal_id=proposal_id, reason=reason)
    return [FederationChanged("server_unblocked", host)]


async def allow_server(db: aiosqlite.Connection, by: LocalActor | None, host: str, place: Place,
                       reason: str = "") -> list[Event]:
    """List a server for allowlist mode: it widens whom we federate with by one server, a Partner's call."""
    _partner_or_operator(by, "list a server")
    _not_ours(host, place)
    reason = _reason(reason, required=False)
    if not await store.allow_server(db, host, _by(by)):
        raise AlreadyDone(f"the server {host} is already listed")
    await moderation_log.record(db, "server_allowed", host, by_id=_by(by), reason=reason)
    return [FederationChanged("server_allowed", host)]


async def disallow_server(db: aiosqlite.Connection, by: LocalActor | None, host: str, place: Place,
                          reason: str = "") -> list[Event]:
    """Take a server off the list; in allowlist mode nothing more is sent to it (unless it is a sibling's)."""
    _partner_or_operator(by, "take a server off the list")
    reason = _reason(reason, required=False)
    if not await store.disallow_server(db, host):
        raise NotThere(f"the server {host} is not listed")
    await moderation_log.record(db, "server_disallowed", host, by_id=_by(by), reason=reason)
    if await store.mode(db) == ALLOWLIST:
        policy = await store.policy(db)
        await _cut_off(db, lambda h: not _allowed(policy, place, h), NOT_LISTED)
    return [FederationChanged("server_disallowed", host)]


def _allowed(policy: store.Policy, place: Place, host: str) -> bool:
    return covers(place.own_host, host) or any(covers(s, host) for s in place.sibling_hosts) or policy.lists(host)


async def set_mode(db: aiosqlite.Connection, mode: str, place: Place, proposal_id: int,
                   reason: str = "") -> list[Event]:
    """Enter or leave allowlist mode, as a passed proposal decided; idempotent (enacting twice changes nothing)."""
    if mode not in (OPEN, ALLOWLIST):
        raise ModerationError(f"the federation mode is {OPEN} or {ALLOWLIST}, not {mode!r}")
    if await store.mode(db) == mode:
        return []
    await store.set_mode(db, mode, proposal_id)
    kind = "allowlist_mode_on" if mode == ALLOWLIST else "allowlist_mode_off"
    await moderation_log.record(db, kind, mode, proposal_id=proposal_id, reason=_reason(reason, required=False))
    if mode == ALLOWLIST:
        policy = await store.policy(db)
        await _cut_off(db, lambda h: not _allowed(policy, place, h), NOT_LISTED)
    return [FederationChanged(kind, mode)]


# A member's own


TARGET_KINDS = ("account", "server")
FILTER_KINDS = ("mute", "block")


def _member(member: LocalActor) -> None:
    if member.tier is None:
        raise NotPermitted("only members keep mutes and blocks")


async def filter_target(db: aiosqlite.Connection, member: LocalActor, me: str, target_kind: str, target: str,
                        kind: str, place: Place) -> list[Event]:
    """Mute or block an account (its URI) or a server (its host) for `member` (`me` is their URI) alone.

    A mute hides; a block also hides, ends the follows between them both ways (Undo of ours, Reject of theirs, as
    Mastodon sends them) and refuses their later Follows. No Block activity is sent: a member's block is private."""
    _member(member)
    if target_kind not in TARGET_KINDS or kind not in FILTER_KINDS:
        raise ModerationError(f"a member mutes or blocks an account or a server, not {kind} {target_kind}")
    if target_kind == "server":
        _not_ours(target, place)
    else:
        target = store.canonical_actor(target)  # stored as it is compared: the host's case, a trailing slash
        if store.host_in_uri(target) == place.own_host or target.lower().startswith(place.local_prefix.lower()):
            raise ModerationError("that is a member of this Congregation: raise it with the Partners instead")
    held = {(f.target_kind, store.canonical_actor(f.target) if f.target_kind == "account" else f.target): f.kind
            for f in await store.filters_of(db, member.id)}
    if held.get((target_kind, target)) == kind:
        raise AlreadyDone(f"you already {kind} {target}")
    if (target_kind, target) not in held and len(held) >= MAX_FILTERS:
        raise ModerationError(f"you can keep at most {MAX_FILTERS} mutes and blocks; lift some first")
    await store.set_filter(db, member.id, target_kind, target, kind)
    return await _end_follows(db, member, me, target_kind, target) if kind == "block" else []


async def _end_follows(db: aiosqlite.Connection, member: LocalActor, me: str, target_kind: str,
                       target: str) -> list[Event]:
    mine = await follows.list_for(db, follower=me)
    theirs = await follows.list_for(db, followee=me)

    def hit(uri: str) -> bool:
        if target_kind == "account":
            return store.canonical_actor(uri) == target
        return covers(target, store.host_in_uri(uri))

    events: list[Event] = []
    for row in [f for f in mine if hit(f.followee)] + [f for f in theirs if hit(f.follower)]:
        other = row.followee if row.follower == me else row.follower
        actor = await remote.actor(db, other)
        await follows.delete(db, row.id)
        if actor is None or row.state == "rejected":
            continue
        if row.follower == me:
            events.append(FollowUndone(member, row, actor.inbox))
        else:
            events.append(FollowAnswered(member, row, False, actor.inbox))
    return events


async def unfilter_target(db: aiosqlite.Connection, member: LocalActor, target_kind: str,
                          target: str) -> list[Event]:
    """Lift a member's mute or block (follows ended by a block are not restored)."""
    _member(member)
    removed = await store.remove_filter(db, member.id, target_kind, target)
    if not removed and target_kind == "account":
        removed = await store.remove_filter(db, member.id, target_kind, store.canonical_actor(target))
    if not removed:
        raise NotThere(f"you do not mute or block {target}")
    return []
