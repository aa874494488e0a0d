"""The Assembly on the wire: the Group's siblings attestation and its Assembly collection (GET), relaying signed
objects to siblings (`Add`, one page per request), checking every object's FEP-8b32 proof before anything is kept,
gathering the roster's attestations when tabling, and pulling what a sibling holds that we lack.

Trust: an object counts for what its proof says, never for who delivered it. A proposal's proof is checked with
the tabling Group's own key (from its actor document, fetched through the guarded client once, or already known);
the roster it carries then vouches for every other Congregation's key, so a stance is checked against the roster
and nobody fetches 199 keys per proposal. An object is kept (and so "seen") only once its proof verified, keyed by
(id, digest): a forged copy that arrives first is refused and cannot stand in for the real one."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiosqlite
from aiohttp import web

from node import uris
from node.activitypub import outbox
from node.activitypub.actors import as_response, require_fetch_signature, signed_fetcher
from node.activitypub.as2 import assembly as wire
from node.activitypub.as2.context import AS_CONTEXT, ASSEMBLY_CONTEXT
from node.activitypub.as2.documents import actor_id, collection_page
from node.activitypub.as2.parse import BadDocument, keys_of, origin, ref, types_of
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.keys import parse_key
from node.appkeys import CONFIG, DB
from node.config import Config
from node.governance import assembly, decision_log, records
from node.governance.errors import Invalid
from node.governance.events import AssemblyRelay, AssemblyTabled, Event
from node.store import assembly as store
from node.store import local_actors, remote
from node.store import posts as posts_store
from node.store.timeline import sibling_uris

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PAGE = wire.MAX_BATCH
GATHER_CONCURRENCY = 8


class Refused(Exception):
    """An Assembly object that is not kept; the message says why (for the inbox row's outcome and the log)."""


# --- what we serve -----------------------------------------------------------------------------------------------


async def own_attestation(db: aiosqlite.Connection, config: Config, now: int) -> dict[str, Any]:
    """Our Group's signed siblings attestation: its record key and its mutual siblings with theirs."""
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    siblings = {}
    for uri in sorted(await sibling_uris(db, group_uri)):
        key = await record_key_of(db, uri)
        if key is not None:
            siblings[uri] = key
    pem = await decision_log.ensure_key(db)
    document = wire.attestation_document(group_uri, records.multikey(pem), siblings, now)
    return records.sign_object(document, pem, uris.record_key(config, group.username), wire.stamp(now))


async def record_key_of(db: aiosqlite.Connection, group_uri: str) -> str | None:
    """A remote Group's FEP-521a record key as we hold it (from its actor document), multibase."""
    rows = await db.execute_fetchall(
        "SELECT public_key_pem FROM remote_keys WHERE owner = ? AND public_key_pem LIKE 'multibase:%'"
        " ORDER BY key_id LIMIT 1", (group_uri,))
    return rows[0][0][len("multibase:"):] if rows else None


async def _our_group(request: web.Request) -> tuple[aiosqlite.Connection, Config, str]:
    db, config = request.app[DB], request.app[CONFIG]
    group = await local_actors.group(db)
    if request.match_info["username"] != group.username:
        raise web.HTTPNotFound(text="only the Congregation's Group takes part in the Assembly")
    if await signed_fetcher(request) is None:
        await require_fetch_signature(request)
    return db, config, actor_id(config, group.username)


@routes.get("/actors/{username}/siblings")
async def get_attestation(request: web.Request) -> web.Response:
    db, config, _ = await _our_group(request)
    from node.clock import clock_of  # the node's clock, so a test's time is the attestation's time
    return as_response(await own_attestation(db, config, int(clock_of(db).now())))


@routes.get("/actors/{username}/assembly")
async def get_assembly(request: web.Request) -> web.Response:
    """Without `proposal`: the Assembly proposals held here, newest first (signed, as received), with their
    withdrawals. With `proposal` (the digest of its signed document, the same on every node: hex, so the URL
    needs no escaping that a signature could disagree on) and `after` (a position): a page of its stances."""
    db, _, group_uri = await _our_group(request)
    collection_uri = group_uri + "/assembly"
    wanted = request.query.get("proposal")
    if wanted is None:
        items: list[Any] = []
        for held in await store.listed(db, limit=PAGE):
            items.append(held.document)
            if held.withdrawal is not None:
                items.append(held.withdrawal)
        document = {"@context": ASSEMBLY_CONTEXT, "id": collection_uri, "type": "OrderedCollection",
                    "totalItems": len(items), "orderedItems": items}
        return as_response(document)
    held = await store.by_digest(db, wanted) if len(wanted) == 64 else None
    if held is None:
        raise web.HTTPNotFound(text="no such Assembly proposal here")
    raw = request.query.get("after", "0")
    after = 0 if raw == "0" else uris.number(raw, 2**62)
    if after is None:
        raise web.HTTPBadRequest(text="after is a position from 0")
    rows = await store.stances(db, held.id, after_id=after, limit=PAGE)
    page_uri = f"{collection_uri}?proposal={held.digest}&after={after}"
    next_uri = f"{collection_uri}?proposal={held.digest}&after={rows[-1].id}" if len(rows) == PAGE else None
    objects = ([held.document] if after == 0 else []) + [row.document for row in rows]
    document = collection_page(page_uri, collection_uri, objects, next_uri)
    document["@context"] = ASSEMBLY_CONTEXT
    return as_response(document)


async def proposal_json(request: web.Request) -> web.Response:
    """An Assembly proposal this Congregation tabled, at its id: the signed Question exactly as it was signed
    (node/web/negotiate.py routes /assembly/{token} here for servers)."""
    db, config = request.app[DB], request.app[CONFIG]
    held = await store.by_uri(db, uris.assembly_proposal(config, request.match_info["token"]))
    if held is None:
        raise web.HTTPNotFound(text="no such Assembly proposal")
    return as_response(held.document)


@routes.get("/assembly/stances/{token}")
async def stance_json(request: web.Request) -> web.Response:
    """One of this Congregation's signed stances, at its id."""
    db, config = request.app[DB], request.app[CONFIG]
    found = await store.stance_by_uri(db, uris.assembly_stance(config, request.match_info["token"]))
    if found is None:
        raise web.HTTPNotFound(text="no such stance")
    return as_response(found.document)


# --- what we send ------------------------------------------------------------------------------------------------


async def tabled(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """Create(Question) from our Group to its followers (public): any server can show the proposal and check its
    proof. Siblings get it relayed too (AssemblyRelay), so their Create is only a copy."""
    assert isinstance(event, AssemblyTabled)
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    document = event.proposal.document
    activity = {"@context": AS_CONTEXT, "id": document["id"] + "/activity", "type": "Create", "actor": group_uri,
                "to": document.get("to"), "cc": document.get("cc"), "object": document}
    inboxes = await posts_store.follower_inboxes(db, group_uri)
    await outbox.publish(db, group, activity, inboxes, True, config=config)


async def relay(db: aiosqlite.Connection, config: Config, event: Event) -> None:
    """What we hold that siblings may lack, as pages of signed objects, to every sibling but the one it came
    from: one delivery row per sibling and page, committed with the change (the outbound registry's line)."""
    assert isinstance(event, AssemblyRelay)
    objects: list[dict[str, Any]] = []
    fresh = await store.by_id(db, event.proposal.id)
    if event.with_proposal:
        objects.append(fresh.document)
    if event.with_withdrawal and fresh.withdrawal is not None:
        objects.append(fresh.withdrawal)
    if event.stance_ids:
        wanted = set(event.stance_ids)
        objects += [row.document for row in await store.stances(db, fresh.id) if row.id in wanted]
    if not objects:
        return
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    targets = sorted(await sibling_uris(db, group_uri) - {event.source})
    inboxes = []
    for target in targets:
        actor = await remote.actor(db, target)
        if actor is not None:
            inboxes.append(actor.shared_inbox or actor.inbox)
    if not inboxes:
        return
    for start in range(0, len(objects), PAGE):
        activity = wire.relay_activity(uris.new_activity(config), group_uri, objects[start:start + PAGE])
        await outbox.publish(db, group, activity, inboxes, False, config=config)


# --- checking what arrives ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedProposal:
    parsed: wire.ProposalIn
    document: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class VerifiedStance:
    parsed: wire.StanceIn
    document: dict[str, Any]
    digest: str


async def tabler_key(db: aiosqlite.Connection, client: HttpClient | None, method: str, tabler: str):
    """The tabling Group's record key named by `method`: held already (its actor document was fetched and
    checked before), else from its actor document, fetched through the guarded client."""
    if not wire.key_origin_matches(method, tabler):
        raise Refused("the proposal's proof is not by its Group's own key")
    held = await remote.key(db, method)
    if held is not None and held[0] == tabler:
        return parse_key(held[1])
    if client is None:
        raise Refused("the tabling Group's key is not known here")
    try:
        document = await client.get_json(tabler)
    except FetchError as exc:
        log.info("fetching the tabling Group %s failed: %s", tabler, exc)
        raise Refused("the tabling Group's key could not be fetched") from None
    found = keys_of(document).get(method) if isinstance(document, dict) and document.get("id") == tabler else None
    if found is None or found[0] != tabler or not found[1].startswith("multibase:"):
        raise Refused("the tabling Group does not list the proposal's key")
    return parse_key(found[1])


async def verify_proposal(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                          document: Any) -> VerifiedProposal:
    try:
        parsed = wire.parse_proposal(document)
    except BadDocument as exc:
        raise Refused(f"not a valid Assembly proposal: {exc}") from None
    key = await tabler_key(db, client, parsed.verification_method, parsed.tabled_by)
    roster_key = next(e.key for e in parsed.roster if e.group == parsed.tabled_by)
    try:
        if records.public_key(roster_key).public_bytes_raw() != key.public_bytes_raw():
            raise Refused("the roster names another key for the tabling Group")
        checked = records.verify_object(document, key)
    except records.RecordError as exc:
        raise Refused(f"the proposal's proof: {exc}") from None
    except AttributeError:
        raise Refused("the tabling Group's key is not an Ed25519 key") from None
    return VerifiedProposal(parsed, document, checked.digest)


def verify_stance(proposal: store.AssemblyProposal, document: Any) -> VerifiedStance:
    """A stance checked against the proposal's frozen roster: on it, signed by the key the roster names, made by
    the closing time, saying something the proposal offers."""
    try:
        parsed = wire.parse_stance(document)
    except BadDocument as exc:
        raise Refused(f"not a valid stance: {exc}") from None
    if parsed.proposal != proposal.uri:
        raise Refused("the stance is on another proposal")
    key = dict(proposal.roster).get(parsed.group)
    if key is None:
        raise Refused("the stance's Congregation is not on the proposal's roster")
    if not wire.key_origin_matches(parsed.verification_method, parsed.group):
        raise Refused("the stance's proof is not by its Group's own key")
    try:
        checked = records.verify_object(document, records.public_key(key))
    except records.RecordError as exc:
        raise Refused(f"the stance's proof: {exc}") from None
    try:
        assembly.check_stance(rules_of(proposal), _as_stance(parsed, checked.digest, 0))
    except Invalid as exc:
        raise Refused(str(exc)) from None
    return VerifiedStance(parsed, document, checked.digest)


def verify_withdrawal(proposal: store.AssemblyProposal, document: Any) -> dict[str, Any]:
    try:
        withdrawn, group = wire.parse_withdrawal(document)
    except BadDocument as exc:
        raise Refused(f"not a valid withdrawal: {exc}") from None
    if withdrawn != proposal.uri or group != proposal.tabled_by:
        raise Refused("only the tabling Group withdraws its proposal")
    try:
        proof = records.object_proof(document)
        if not wire.key_origin_matches(proof["verificationMethod"], group):
            raise Refused("the withdrawal's proof is not by its Group's own key")
        records.verify_object(document, records.public_key(dict(proposal.roster)[group]))
        if wire.seconds(proof["created"]) > proposal.closes_at:
            raise Refused("a proposal is withdrawn before it closes")
    except (records.RecordError, BadDocument) as exc:
        raise Refused(f"the withdrawal's proof: {exc}") from None
    return document


def rules_of(proposal: store.AssemblyProposal) -> assembly.Rules:
    raw = proposal.rules
    return assembly.Rules(raw["kind"], proposal.closes_at, tuple(raw["options"]), raw["weighting"],
                          raw["quorumPercent"], raw["finalitySeconds"])


def _as_stance(parsed: wire.StanceIn, digest: str, received_at: int) -> assembly.Stance:
    return assembly.Stance(parsed.group, parsed.choice, parsed.members, parsed.created, received_at, digest,
                           parsed.reasons)


def kind_of(document: Any) -> str:
    if wire.is_assembly_proposal(document):
        return "proposal"
    kinds = types_of(document) if isinstance(document, dict) else []
    return "stance" if "AssemblyStance" in kinds else "withdrawal" if "AssemblyWithdrawal" in kinds else "other"


def proposal_of(document: Any) -> str | None:
    """The proposal a stance or withdrawal is about."""
    if not isinstance(document, dict):
        return None
    return ref(document.get("inReplyTo")) or ref(document.get("object"))


# --- gathering the roster, and pulling -------------------------------------------------------------------------


async def gather_attestations(db: aiosqlite.Connection, config: Config, client: HttpClient,
                              now: int) -> dict[str, assembly.Attestation]:
    """Our attestation and, breadth first, those of every Group reachable through links we have seen attested
    from both ends, each verified with the key its attesting neighbour names for it (so a chain of signatures
    leads back to us). At most MAX_ROSTER fetches, GATHER_CONCURRENCY at a time."""
    ours = wire.parse_attestation(await own_attestation(db, config, now))
    found = {ours.group: ours}
    frontier = {uri: key for uri, key in ours.siblings.items()}
    semaphore = asyncio.Semaphore(GATHER_CONCURRENCY)

    async def fetch(uri: str, key: str) -> assembly.Attestation | None:
        async with semaphore:
            document = await fetch_attestation(client, uri, key)
            return wire.parse_attestation(document) if document is not None else None

    while frontier and len(found) < assembly.MAX_ROSTER:
        batch = dict(list(frontier.items())[:assembly.MAX_ROSTER - len(found)])
        frontier = {}
        results = await asyncio.gather(*(fetch(uri, key) for uri, key in batch.items()))
        for attestation in results:
            if attestation is None:
                continue
            found[attestation.group] = attestation
            for uri, key in attestation.siblings.items():
                if uri not in found and uri not in batch:
                    frontier.setdefault(uri, key)
    return found


async def fetch_attestation(client: HttpClient, group: str, key: str) -> dict[str, Any] | None:
    """A sibling's attestation, kept only when its proof verifies with the record key we hold for it."""
    try:
        document = await client.get_json(group + "/siblings")
        attestation = wire.parse_attestation(document)
        proof = records.object_proof(document)
        if attestation.group != group or attestation.key != key \
                or not wire.key_origin_matches(proof["verificationMethod"], group):
            return None
        records.verify_object(document, records.public_key(key))
        return document
    except (FetchError, BadDocument, records.RecordError, ValueError) as exc:
        log.info("the attestation of %s was not usable: %s", group, exc)
        return None


async def pull(db: aiosqlite.Connection, config: Config, client: HttpClient, sibling: str,
               proposal_digest: str | None, pages: int = 20) -> list[Any]:
    """Signed objects a sibling holds: its proposals (no digest), or the stances on one, page by page."""
    base = sibling + "/assembly"
    url: str | None = base if proposal_digest is None else f"{base}?proposal={proposal_digest}&after=0"
    objects: list[Any] = []
    while url and pages > 0:
        pages -= 1
        document = await client.get_json(url)
        if not isinstance(document, dict) or origin(str(document.get("id", ""))) != origin(sibling):
            break
        items = document.get("orderedItems")
        if isinstance(items, list):
            objects += items[:PAGE]
        following = document.get("next")
        url = following if isinstance(following, str) and origin(following) == origin(sibling) else None
    return objects


def dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False)
