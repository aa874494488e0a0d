"""Crews: home crews of 3–8 people joined only with the consent of everyone already in them, and working
groups that any member may join. Call these outside a transaction; each makes its change in one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import aiosqlite

from node.db import now_iso, transaction
from node.governance.errors import Invalid
from node.store import crews as store
from node.store.crews import Crew, JoinRequest
from node.store.local_actors import LocalActor

KINDS = ("home", "working")
CREW_MIN = 3  # below this a crew is told it is small; a crew is people who can hold each other
MAX_NAME, MAX_PURPOSE, MAX_RHYTHM, MAX_MESSAGE = 80, 2_000, 200, 1_000


class CrewError(Invalid):
    """A crew change cannot be made; the message says why, for a person to read."""


@dataclass(frozen=True)
class CrewEvent:
    kind: str  # started | joined | requested | declined | left | answered
    crew: Crew
    actor_id: int


def _member(actor: LocalActor) -> None:
    if actor.tier is None:
        raise CrewError("only members of the Congregation can be in a crew")


def _text(value: str, limit: int, what: str, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise CrewError(f"a crew needs a {what}")
    if len(value) > limit:
        raise CrewError(f"a crew's {what} is at most {limit} characters")
    return value


def size_note(crew: Crew, crew_max: int) -> str | None:
    """What to tell people about the crew's size, if anything."""
    if len(crew.members) < CREW_MIN:
        return f"{crew.name} has {len(crew.members)} of at least {CREW_MIN} people a crew needs to hold together"
    if len(crew.members) >= crew_max:
        return f"{crew.name} is full ({crew_max})"
    return None


async def get(db: aiosqlite.Connection, crew_id: int) -> Crew:
    crew = await store.by_id(db, crew_id)
    if crew is None or crew.closed_at is not None:
        raise CrewError(f"there is no crew {crew_id}")
    return crew


async def start(db: aiosqlite.Connection, founder: LocalActor, name: str, purpose: str, rhythm: str,
                kind: str) -> list[CrewEvent]:
    """A member starts a crew and is its first member."""
    _member(founder)
    if kind not in KINDS:
        raise CrewError(f"a crew is a home crew or a working group, not {kind!r}")
    name = _text(name, MAX_NAME, "name", required=True)
    purpose, rhythm = _text(purpose, MAX_PURPOSE, "purpose"), _text(rhythm, MAX_RHYTHM, "rhythm")
    async with transaction(db):
        crew_id = await store.insert(db, str(uuid.uuid4()), name, purpose, rhythm, kind, founder.id)
        await store.add_member(db, crew_id, founder.id)
        return [CrewEvent("started", await store.by_id(db, crew_id), founder.id)]


async def join(db: aiosqlite.Connection, actor: LocalActor, crew_id: int, message: str, crew_max: int
               ) -> list[CrewEvent]:
    """A working group takes anyone at once; a home crew gets a request its members answer."""
    _member(actor)
    message = _text(message, MAX_MESSAGE, "message")
    async with transaction(db):
        crew = await get(db, crew_id)
        if actor.id in crew.members:
            raise CrewError(f"you are already in {crew.name}")
        if len(crew.members) >= crew_max:
            raise CrewError(f"{crew.name} is full: a crew is at most {crew_max} people")
        if crew.kind == "working" or not crew.members:
            await store.add_member(db, crew.id, actor.id)
            return [CrewEvent("joined", await store.by_id(db, crew.id), actor.id)]
        if await store.pending_request(db, crew.id, actor.id) is not None:
            raise CrewError(f"you have already asked to join {crew.name}; its members are answering")
        await store.insert_request(db, crew.id, actor.id, message)
        return [CrewEvent("requested", crew, actor.id)]


async def answer(db: aiosqlite.Connection, member: LocalActor, request_id: int, consent: bool, reason: str,
                 crew_max: int) -> list[CrewEvent]:
    """A crew member consents to or declines a request; one decline ends it, everyone's consent admits."""
    reason = _text(reason, MAX_MESSAGE, "reason")
    async with transaction(db):
        request = await store.request_by_id(db, request_id)
        if request is None or request.state != "pending":
            raise CrewError("there is no open request to answer")
        crew = await get(db, request.crew_id)
        if member.id not in crew.members:
            raise CrewError(f"only members of {crew.name} answer requests to join it")
        await store.answer(db, request.id, member.id, "consent" if consent else "decline", reason)
        if not consent:
            await store.set_request_state(db, request.id, "declined")
            return [CrewEvent("declined", crew, request.actor_id)]
        request = await store.request_by_id(db, request.id)
        if set(crew.members) <= set(request.consents):
            if len(crew.members) >= crew_max:
                raise CrewError(f"{crew.name} is full: a crew is at most {crew_max} people")
            await store.add_member(db, crew.id, request.actor_id)
            await store.set_request_state(db, request.id, "joined")
            return [CrewEvent("joined", await store.by_id(db, crew.id), request.actor_id)]
        return [CrewEvent("answered", crew, request.actor_id)]


async def withdraw(db: aiosqlite.Connection, actor: LocalActor, crew_id: int) -> None:
    async with transaction(db):
        request = await store.pending_request(db, crew_id, actor.id)
        if request is None:
            raise CrewError("you have no open request to join that crew")
        await store.set_request_state(db, request.id, "withdrawn")


async def leave(db: aiosqlite.Connection, actor: LocalActor, crew_id: int) -> list[CrewEvent]:
    async with transaction(db):
        crew = await get(db, crew_id)
        if actor.id not in crew.members:
            raise CrewError(f"you are not in {crew.name}")
        await store.remove_member(db, crew.id, actor.id)
        # A request waiting on the leaver's answer may now have everyone's consent.
        for request in await store.pending_requests(db, crew.id):
            await _admit_if_all_consented(db, request.id)
        return [CrewEvent("left", await store.by_id(db, crew.id), actor.id)]


async def membership_ended(db: aiosqlite.Connection, actor_id: int) -> None:
    """Someone left the Congregation or was removed (a MembershipEnded event): they leave every crew, their own
    requests to join are withdrawn, and requests that waited only on their answer are now admitted. Processing
    runs this in the transaction that ended the membership, so the two changes commit together."""
    for crew in await store.of_member(db, actor_id):
        await store.remove_member(db, crew.id, actor_id)
        for request in await store.pending_requests(db, crew.id):
            await _admit_if_all_consented(db, request.id)
    await db.execute("UPDATE crew_requests SET state = 'withdrawn', decided_at = ? WHERE actor_id = ?"
                     " AND state = 'pending'", (now_iso(),  actor_id))


async def _admit_if_all_consented(db: aiosqlite.Connection, request_id: int) -> None:
    request = await store.request_by_id(db, request_id)
    crew = await store.by_id(db, request.crew_id)
    if crew.members and set(crew.members) <= set(request.consents):
        await store.add_member(db, crew.id, request.actor_id)
        await store.set_request_state(db, request.id, "joined")


async def overview(db: aiosqlite.Connection, actor: LocalActor, crew_max: int
                   ) -> tuple[list[Crew], list[Crew], list[JoinRequest]]:
    """The crews the member is in, the ones open to them, and requests waiting for their answer."""
    mine = await store.of_member(db, actor.id)
    open_to_me = [c for c in await store.all_open(db) if actor.id not in c.members and len(c.members) < crew_max]
    return mine, open_to_me, await store.requests_awaiting(db, actor.id)
