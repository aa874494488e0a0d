"""The Assembly's use cases: tabling (the enactor of a passed `table_assembly` proposal), keeping what verified
and relaying it, this Congregation's own decision and stance, the final tally recorded in the decision log, and
catching up from siblings. Every step is idempotent and keyed on what is stored, so the decision clock can run it
again after a crash or a restart and nothing is done twice."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from node import uris
from node.activitypub import assembly as wire_assembly
from node.activitypub.as2 import assembly as wire
from node.activitypub.as2.documents import actor_id
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.outbound import federate
from node.clock import clock_of
from node.config import Config
from node.db import transaction
from node.governance import assembly, decision_log, records, tally
from node.governance import proposals as proposals_rules
from node.governance.errors import GovernanceError
from node.governance.events import AssemblyRelay, AssemblyTabled, Event
from node.store import assembly as store
from node.store import local_actors
from node.store import proposals as proposals_store
from node.store.proposals import Proposal
from node.store.timeline import sibling_uris

log = logging.getLogger(__name__)
Refused = wire_assembly.Refused
# Our own decision closes a tenth of the time before the Assembly does: at least 30 s, at most an hour before.
MAX_LEAD = 3600
MAX_OPEN_PER_TABLER = 20
MAX_VERSIONS = 2  # distinct signed stances kept per Congregation and proposal: two are the equivocation's proof


def _now(db: aiosqlite.Connection) -> int:
    return int(clock_of(db).now())


async def _group_uri(db: aiosqlite.Connection, config: Config) -> str:
    return actor_id(config, (await local_actors.group(db)).username)


# --- tabling -----------------------------------------------------------------------------------------------------


async def prepare_tabling(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                          proposal: Proposal) -> tuple[assembly.RosterEntry, ...]:
    """The roster, gathered over the network before any transaction: every Congregation reachable from ours."""
    if client is None:
        raise GovernanceError("tabling to the Assembly needs the network")
    found = await wire_assembly.gather_attestations(db, config, client, _now(db))
    return assembly.roster(await _group_uri(db, config), found)


async def enact_tabling(db: aiosqlite.Connection, config: Config, proposal: Proposal,
                        roster: tuple[assembly.RosterEntry, ...]) -> list[Event]:
    """The members consented: sign the Assembly proposal with the Group's record key, keep it, open our own
    decision on it, send it to our followers and relay it to our siblings (in the enacting transaction)."""
    if await store.by_tabling_proposal(db, proposal.id) is not None:
        return []
    args, now = proposal.action_args or {}, _now(db)
    closes = int(datetime.fromisoformat(args["closes_at"].replace("Z", "+00:00")).timestamp())
    rules = assembly.Rules(args["kind"], closes, tuple(args["options"]) if args["kind"] == "poll" else assembly.CONSENT,
                           args["weighting"], args["quorum_percent"], args["finality_seconds"])
    if closes <= now + 60:
        raise GovernanceError("the Assembly proposal's closing time has passed (or is less than a minute away)")
    group = await local_actors.group(db)
    group_uri = actor_id(config, group.username)
    token = str(uuid.uuid4())
    uri = uris.assembly_proposal(config, token)
    document = wire.proposal_document(uri, group_uri, args["title"], args.get("details", ""), rules, roster, now, uri)
    pem = await decision_log.ensure_key(db)
    signed = records.sign_object(document, pem, uris.record_key(config, group.username), wire.stamp(now))
    proposal_id = await store.insert_proposal(
        db, uri=uri, tabled_by=group_uri, title=args["title"], kind=rules.kind, closes_at=rules.closes_at,
        final_at=rules.final_at, rules=wire.rules_value(rules) | {"options": list(rules.options)},
        roster=[[e.group, e.key] for e in roster], document=signed, digest=records.digest(signed),
        received_from=None, received_at=now, tabling_proposal_id=proposal.id)
    held = await store.by_id(db, proposal_id)
    await _open_own_decision(db, config, held, now)
    held = await store.by_id(db, proposal_id)
    return [AssemblyTabled(held), AssemblyRelay(held, with_proposal=True)]


async def withdraw(db: aiosqlite.Connection, config: Config, assembly_id: int) -> list[Event]:
    """The tabling Congregation takes its proposal back before it closes: a signed withdrawal, relayed."""
    async with transaction(db):
        held = await store.by_id(db, assembly_id)
        group_uri = await _group_uri(db, config)
        if held is None or held.tabled_by != group_uri:
            raise GovernanceError("only the Congregation that tabled a proposal withdraws it")
        now = _now(db)
        if held.state != "open" or now >= held.closes_at:
            raise GovernanceError("only an open Assembly proposal can be withdrawn")
        group = await local_actors.group(db)
        document = wire.withdrawal_document(held.uri + "/withdrawal", group_uri, held.uri)
        signed = records.sign_object(document, await decision_log.ensure_key(db),
                                     uris.record_key(config, group.username), wire.stamp(now))
        await store.set_withdrawn(db, held.id, signed)
        events: list[Event] = [AssemblyRelay(await store.by_id(db, held.id), with_withdrawal=True)]
        await federate(db, config, events)
        return events


# --- what arrives (already verified by node/activitypub/assembly.py) ---------------------------------------------


async def keep_proposal(db: aiosqlite.Connection, config: Config, verified: wire_assembly.VerifiedProposal,
                        source: str | None) -> tuple[store.AssemblyProposal | None, str]:
    """Keep a verified proposal that names us on its roster, open our own decision on it and relay it on.

    It is taken only from a sibling (the tabling Group itself, or one that kept it, which took it from a sibling in
    turn): a valid proof and a roster naming us are not enough, since anyone can sign a roster that lists us — a
    stranger must not make our members vote. A tabling Group has at most MAX_OPEN_PER_TABLER unfinished here."""
    parsed, now = verified.parsed, _now(db)
    group_uri = await _group_uri(db, config)
    if source is None or source not in await sibling_uris(db, group_uri):
        return None, "stored nothing: an Assembly proposal is taken only from a sibling Congregation"
    roster = dict((e.group, e.key) for e in parsed.roster)
    our_key = records.multikey(await decision_log.ensure_key(db))
    if roster.get(group_uri) != our_key:
        return None, "stored nothing: this Congregation is not on the proposal's roster (with its key)"
    if source not in roster:
        return None, "stored nothing: the sibling that sent it is not on its roster"
    if await store.by_uri(db, parsed.uri) is None and \
            await store.unfinished_from(db, parsed.tabled_by) >= MAX_OPEN_PER_TABLER:
        return None, f"stored nothing: {parsed.tabled_by} has {MAX_OPEN_PER_TABLER} Assembly proposals open here"
    async with transaction(db):
        rules = parsed.rules
        proposal_id = await store.insert_proposal(
            db, uri=parsed.uri, tabled_by=parsed.tabled_by, title=parsed.title, kind=rules.kind,
            closes_at=rules.closes_at, final_at=rules.final_at,
            rules=wire.rules_value(rules) | {"options": list(rules.options)},
            roster=[[e.group, e.key] for e in parsed.roster], document=verified.document, digest=verified.digest,
            received_from=source, received_at=now)
        if proposal_id is None:
            return await store.by_uri(db, parsed.uri), "already held"
        held = await store.by_id(db, proposal_id)
        await _open_own_decision(db, config, held, now)
        held = await store.by_id(db, proposal_id)
        events: list[Event] = [AssemblyRelay(held, with_proposal=True, source=source)]
        await federate(db, config, events)
    return held, "kept and relayed"


async def keep_stances(db: aiosqlite.Connection, config: Config, proposal: store.AssemblyProposal,
                       verified: list[wire_assembly.VerifiedStance], source: str | None) -> int:
    """Keep the verified stances not held yet and relay those on, in one page; how many were new."""
    now = _now(db)
    async with transaction(db):
        new_ids = []
        for stance in verified:
            parsed = stance.parsed
            if await store.versions(db, proposal.id, parsed.group, stance.digest) >= MAX_VERSIONS:
                continue  # a third different stance proves nothing more, and would only take our disk
            if await store.insert_stance(db, proposal.id, group=parsed.group, digest=stance.digest,
                                         choice=parsed.choice, members=parsed.members, created=parsed.created,
                                         received_at=now, reasons=parsed.reasons, document=stance.document,
                                         received_from=source):
                rows = await db.execute_fetchall(
                    "SELECT id FROM assembly_stances WHERE proposal_id = ? AND grp = ? AND digest = ?",
                    (proposal.id, parsed.group, stance.digest))
                new_ids.append(rows[0][0])
        if new_ids:
            await federate(db, config, [AssemblyRelay(proposal, stance_ids=tuple(new_ids), source=source)])
    return len(new_ids)


async def keep_withdrawal(db: aiosqlite.Connection, config: Config, proposal: store.AssemblyProposal,
                          document: dict[str, Any], source: str | None) -> str:
    async with transaction(db):
        if not await store.set_withdrawn(db, proposal.id, document):
            return "already withdrawn"
        if proposal.local_proposal_id is not None:
            local = await proposals_store.by_id(db, proposal.local_proposal_id)
            if local is not None and local.is_open:
                await proposals_store.set_state(db, local.id, "withdrawn")
        await federate(db, config, [AssemblyRelay(await store.by_id(db, proposal.id), with_withdrawal=True,
                                                  source=source)])
    return "withdrawn and relayed"


async def _open_own_decision(db: aiosqlite.Connection, config: Config, held: store.AssemblyProposal,
                             now: int) -> None:
    """Our members decide our stance through a local proposal that closes before the Assembly does."""
    if held.local_proposal_id is not None or held.closes_at <= now + 60:
        return
    lead = max(30, min(MAX_LEAD, (held.closes_at - now) // 10))
    closes = datetime.fromtimestamp(held.closes_at - lead, UTC)
    rules = wire_assembly.rules_of(held)
    options = rules.options if rules.kind == "poll" else tally.CONSENT_OPTIONS
    details = (f"{held.document.get('source', {}).get('content', '')}\n\nTabled to the Assembly by {held.tabled_by}."
               f" What we decide here becomes our Congregation's one stance.")
    local = await proposals_rules.open_for_assembly(
        db, await local_actors.group(db), title=f"Assembly: {held.title}", details=details.strip(),
        kind=rules.kind, options=tuple(options), closes_at=closes)
    await store.set_local_proposal(db, held.id, local.id)


# --- the decision clock's part -------------------------------------------------------------------------------------


async def make_stances(db: aiosqlite.Connection, config: Config) -> list[Event]:
    """For each Assembly proposal whose local decision closed and has no stance yet: our collective stance, signed
    and kept, relayed to every sibling."""
    events: list[Event] = []
    rows = await db.execute_fetchall(
        "SELECT a.id FROM assembly_proposals a JOIN proposals p ON p.id = a.local_proposal_id"
        " WHERE a.stance_digest IS NULL AND a.state = 'open' AND p.state IN ('passed', 'failed', 'no_quorum')")
    for (assembly_id,) in rows:
        async with transaction(db):
            held = await store.by_id(db, assembly_id)
            if held is None or held.stance_digest is not None:
                continue
            local = await proposals_store.by_id(db, held.local_proposal_id)
            result = await proposals_rules.current_tally(db, config, local)
            choice = assembly.collective_stance(local.kind, local.state, result.counts, local.options)
            reasons = ""
            if choice == "block":
                standing = await proposals_rules.standing_stances(db, local)
                reasons = "; ".join(s.reason for s in standing if "block" in s.choices and s.reason)[:2000]
            now = _now(db)
            if now > held.closes_at:
                log.warning("Assembly proposal %s closed before our stance was made; none is sent", held.uri)
                await store.set_stance_digest(db, held.id, "")
                continue
            group = await local_actors.group(db)
            group_uri = actor_id(config, group.username)
            entry = await db.execute_fetchall("SELECT seq, hash FROM decision_log WHERE proposal_uuid = ?",
                                              (uris.proposal(config, local.uuid),))
            document = wire.stance_document(
                uris.assembly_stance(config, str(uuid.uuid4())), group_uri, held.uri, choice,
                len(await local_actors.members(db)), dict(result.counts), reasons,
                {"seq": entry[0][0], "hash": entry[0][1]} if entry else None)
            signed = records.sign_object(document, await decision_log.ensure_key(db),
                                         uris.record_key(config, group.username), wire.stamp(now))
            digest = records.digest(signed)
            await store.insert_stance(db, held.id, group=group_uri, digest=digest, choice=choice,
                                      members=document["members"], created=now, received_at=now, reasons=reasons,
                                      document=signed, received_from=None)
            await store.set_stance_digest(db, held.id, digest)
            ids = await db.execute_fetchall("SELECT id FROM assembly_stances WHERE proposal_id = ? AND digest = ?",
                                            (held.id, digest))
            made = [AssemblyRelay(held, stance_ids=(ids[0][0],))]
            await federate(db, config, made)
            events += made
    return events


async def current_result(db: aiosqlite.Connection, held: store.AssemblyProposal, now: int | None = None
                         ) -> assembly.Result:
    """The tally as this node can compute it now: a pure function of the proposal and the stances held."""
    rows = await store.stances(db, held.id)
    stances = [assembly.Stance(r.group, r.choice, r.members, r.created, r.received_at, r.digest, r.reasons)
               for r in rows]
    roster = [assembly.RosterEntry(group, key) for group, key in held.roster]
    return assembly.tally(wire_assembly.rules_of(held), roster, stances, _now(db) if now is None else now)


async def finalize(db: aiosqlite.Connection, config: Config) -> int:
    """Each proposal past its finality window gets its final result, recorded in our decision log (a passed one
    is a resolution of the Assembly; a failed one is on the record too). How many were finalized."""
    done, now = 0, _now(db)
    for held in await store.unfinished(db):
        if held.final_at > now:
            break
        async with transaction(db):
            fresh = await store.by_id(db, held.id)
            if fresh is None or fresh.result is not None:
                continue
            if fresh.state == "withdrawn":
                await store.set_result(db, fresh.id, {"phase": "final", "outcome": "withdrawn"}, None)
                continue
            result = await current_result(db, fresh, now)
            record = {"proposal": fresh.uri, "title": fresh.title, "kind": f"assembly {fresh.kind}",
                      "scope": "assembly", "tabledBy": fresh.tabled_by, "result": result.outcome,
                      "winner": result.winner, "counts": dict(result.counts), "voices": result.voices,
                      "rosterSize": result.roster_size, "closesAt": wire.stamp(fresh.closes_at),
                      "tally": records.digest(result.document())}
            entry = await decision_log.append(db, config, record, "public")
            await store.set_result(db, fresh.id, result.document(), entry["header"]["seq"])
            done += 1
    return done


async def catch_up(db: aiosqlite.Connection, config: Config, client: HttpClient | None, *,
                   everything: bool = False) -> int:
    """Pull from each sibling what we may have missed: on start (`everything`: their proposals and the stances on
    every unfinished one), and once per proposal after it closes, within its finality window. New objects count."""
    if client is None:
        return 0
    group_uri, now, new = await _group_uri(db, config), _now(db), 0
    siblings = sorted(await sibling_uris(db, group_uri))
    if everything:
        for sibling in siblings:
            new += await _take(db, config, client, sibling, None)
    for held in await store.unfinished(db):
        due = everything or (held.closes_at <= now and (held.pulled_at or 0) < held.closes_at)
        if not due or held.state != "open":
            continue
        for sibling in siblings:
            new += await _take(db, config, client, sibling, held.digest)
        async with transaction(db):
            await store.set_pulled(db, held.id, now)
    return new


async def _take(db: aiosqlite.Connection, config: Config, client: HttpClient, sibling: str,
                proposal_digest: str | None) -> int:
    try:
        objects = await wire_assembly.pull(db, config, client, sibling, proposal_digest)
    except FetchError as exc:
        log.info("pulling the Assembly from %s failed: %s", sibling, exc)
        return 0
    return await receive(db, config, client, objects, sibling)


async def receive(db: aiosqlite.Connection, config: Config, client: HttpClient | None, objects: list[Any],
                  source: str | None) -> int:
    """Verify and keep a page of signed objects (proposals first, then withdrawals and stances), relaying what is
    new; refused objects change nothing. How many objects were new."""
    new = 0
    ordered = sorted(objects, key=lambda o: {"proposal": 0, "withdrawal": 1}.get(wire_assembly.kind_of(o), 2))
    stances: dict[str, list[wire_assembly.VerifiedStance]] = {}
    for document in ordered:
        kind = wire_assembly.kind_of(document)
        try:
            if kind == "proposal":
                verified = await wire_assembly.verify_proposal(db, config, client, document)
                _, outcome = await keep_proposal(db, config, verified, source)
                new += outcome == "kept and relayed"
                continue
            held = await store.by_uri(db, wire_assembly.proposal_of(document) or "")
            if held is None:
                raise Refused("it is about an Assembly proposal not held here")
            if kind == "withdrawal":
                checked = wire_assembly.verify_withdrawal(held, document)
                new += await keep_withdrawal(db, config, held, checked, source) == "withdrawn and relayed"
            elif kind == "stance":
                stances.setdefault(held.uri, []).append(wire_assembly.verify_stance(held, document))
            else:
                raise Refused("it is not an Assembly object")
        except Refused as exc:
            log.info("an Assembly object from %s was refused: %s", source, exc)
    for proposal_uri, verified in stances.items():
        held = await store.by_uri(db, proposal_uri)
        new += await keep_stances(db, config, held, verified, source)
    return new


async def run_once(db: aiosqlite.Connection, config: Config, client: HttpClient | None, *,
                   starting: bool = False) -> list[Event]:
    """One step of the Assembly's clock: stances for closed local decisions, catch-up pulls, final results, and
    our siblings' attestations once an hour (for introductions)."""
    events = await make_stances(db, config)
    await catch_up(db, config, client, everything=starting)
    await finalize(db, config)
    await refresh_attestations(db, config, client)
    return events


ATTESTATIONS_EVERY = 3600


async def refresh_attestations(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                               force: bool = False) -> int:
    """Fetch each sibling's signed attestation (verified with the record key we hold for it) when the one we keep
    is older than an hour or missing; forget those of former siblings. How many were fetched."""
    if client is None:
        return 0
    now, held = _now(db), await store.attestations(db)
    siblings = await sibling_uris(db, await _group_uri(db, config))
    fetched = 0
    for sibling in sorted(siblings):
        if not force and sibling in held and now - held[sibling][1] < ATTESTATIONS_EVERY:
            continue
        key = await wire_assembly.record_key_of(db, sibling)
        document = await wire_assembly.fetch_attestation(client, sibling, key) if key else None
        if document is not None:
            async with transaction(db):
                await store.save_attestation(db, sibling, document, now)
            fetched += 1
    async with transaction(db):
        await store.forget_attestations_except(db, siblings)
    return fetched


async def introductions(db: aiosqlite.Connection, config: Config) -> list[tuple[str, list[str]]]:
    """The siblings of our siblings that are not ours (nor us): each with the siblings that attest it, for our
    members to read as suggestions. Becoming siblings stays a decision of each side's people."""
    group_uri = await _group_uri(db, config)
    ours = await sibling_uris(db, group_uri)
    suggested: dict[str, list[str]] = {}
    for sibling, (document, _) in sorted((await store.attestations(db)).items()):
        if sibling not in ours:
            continue
        for entry in document.get("siblings", []):
            other = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(other, str) and other != group_uri and other not in ours:
                suggested.setdefault(other, []).append(sibling)
    return sorted(suggested.items())
