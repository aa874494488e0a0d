"""Cross-witnessed decision logs, the use cases: polling each sibling's log (the witness clock's step, and whenever
we read a sibling's log), keeping what we saw, and on a rewrite keeping both signed entries as the proof, showing
it to our members (their notices) and gossiping it on; believing a gossiped proof only once both entries verify
with the accused Group's own keys; and checking a sibling's whole log against what we witnessed
(`congregation verify-decisions --sibling`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node.activitypub import witness as wire_witness
from node.activitypub.as2 import witness as wire
from node.activitypub.as2.documents import actor_id
from node.activitypub.as2.parse import BadDocument
from node.activitypub.fetch import HttpClient
from node.activitypub.outbound import federate
from node.clock import clock_of
from node.config import Config
from node.db import transaction
from node.governance import witness
from node.governance.events import Event, LogEquivocation
from node.store import local_actors
from node.store import witness as store
from node.store.timeline import sibling_uris

log = logging.getLogger(__name__)
POLL_EVERY = 600  # seconds between two polls of one sibling's log


def _now(db: aiosqlite.Connection) -> int:
    return int(clock_of(db).now())


@dataclass(frozen=True)
class Polled:
    """One poll's outcome: what the rules said, and the proof kept (None when nothing new was found)."""
    group: str
    witnessed: witness.Witnessed
    proof: store.Equivocation | None = None


async def run_once(db: aiosqlite.Connection, config: Config, client: HttpClient | None,
                   every: int = POLL_EVERY) -> list[Polled]:
    """Poll every sibling whose log was not read in the last `every` seconds (by the node's clock)."""
    if client is None:
        return []
    group_uri = actor_id(config, (await local_actors.group(db)).username)
    now, done = _now(db), []
    for sibling in sorted(await sibling_uris(db, group_uri)):
        head = await store.head(db, sibling)
        if head is not None and head.checked_at + every > now:
            continue
        done.append(await poll(db, config, client, sibling))
    return done


async def poll(db: aiosqlite.Connection, config: Config, client: HttpClient, group: str, *,
               limit: int | None = witness.MAX_PER_POLL, from_start: bool = False) -> Polled:
    """Read the Group's log from the oldest entry we still hold (or from its start) to at most `limit` entries
    past the last one we witnessed, check every signature and link against what we saw, and keep the outcome."""
    head = await store.head(db, group)
    held = await store.held(db, group)
    start = 1 if from_start or not held else held[0].seq
    seen = head.seq if head is not None else 0
    try:
        actor, keys = await wire_witness.group_keys(client, group)
        items = await wire_witness.log_items(client, actor, start, None if limit is None else seen + limit)
    except wire_witness.Unreadable as exc:
        result = witness.Witnessed("broken", problem=str(exc))
        async with transaction(db):
            await store.set_checked(db, group, _now(db), result.problem)
        log.info("the decision log of %s could not be witnessed: %s", group, result.problem)
        return Polled(group, result)
    return await observe(db, config, group, items, keys)


async def observe(db: aiosqlite.Connection, config: Config, group: str, items: list[Any],
                  keys: dict[str, str]) -> Polled:
    """A copy of the Group's log was read (oldest first): verify each entry, compare with what we hold, keep."""
    copy: list[witness.Entry] = []
    for item in items:
        try:
            copy.append(witness.signed_entry(item, keys))
        except witness.WitnessError as exc:
            seq = wire.log_item_seq(item)
            result = witness.Witnessed("broken", problem=f"entry {seq}: {exc}")
            async with transaction(db):
                await store.set_checked(db, group, _now(db), result.problem)
            return Polled(group, result)
    now = _now(db)
    async with transaction(db):
        head = await store.head(db, group)
        held = {e.seq: witness.Entry(e.seq, "", e.hash, e.item) for e in await store.held(db, group)}
        seen = (head.seq, head.hash) if head is not None and head.seq else None
        result = witness.witness(held, seen, copy)
        if result.kind == "equivocation":
            kept = await _keep_proof(db, config, witness.Proof(group, result.ours.seq, result.ours, result.theirs),
                                     source=None, now=now)
            await store.set_checked(db, group, now, result.problem)
            return Polled(group, result, kept)
        if result.kind == "broken":
            await store.set_checked(db, group, now, result.problem)
            return Polled(group, result)
        if result.head is None:
            await store.set_checked(db, group, now, None)
            return Polled(group, result)
        keep = witness.kept(held, result.new)
        await store.keep_entries(db, group, [(e.seq, e.hash, e.item) for e in result.new], now, min(keep))
        await store.set_head(db, group, result.head.seq, result.head.hash, now)
    return Polled(group, result)


async def _keep_proof(db: aiosqlite.Connection, config: Config, proof: witness.Proof, *, source: str | None,
                      now: int) -> store.Equivocation | None:
    """Keep a proof not held yet and gossip it on (inside the caller's transaction); None when held already."""
    new_id = await store.insert_equivocation(db, digest=proof.digest, group=proof.group, seq=proof.seq,
                                             first=proof.first.item, second=proof.second.item,
                                             received_from=source, now=now)
    if new_id is None:
        return None
    kept = await store.equivocation(db, new_id)
    events: list[Event] = [LogEquivocation(kept, source=source)]
    await federate(db, config, events)
    log.warning("the decision log of %s was rewritten at entry %d (proof %s)", proof.group, proof.seq, proof.digest)
    return kept


async def receive_proof(db: aiosqlite.Connection, config: Config, client: HttpClient | None, obj: Any,
                        source: str) -> str:
    """A sibling gossiped a proof: believe it only if both entries verify with the accused Group's own keys (fetched
    from its actor document through the guarded client), name one seq and differ. The outcome, for the inbox row."""
    try:
        accused, seq, items = wire.parse_equivocation(obj)
    except BadDocument as exc:
        return f"refused: {exc}"
    hashes = [witness.claimed_hash(item) for item in items]
    if isinstance(seq, int) and None not in hashes and \
            await store.has_equivocation(db, witness.proof_digest(accused, seq, *hashes)):
        return "already held"
    if client is None:
        return "refused: the accused Group's keys cannot be fetched"
    try:
        _, keys = await wire_witness.group_keys(client, accused)
        proof = witness.check_proof(accused, seq, items, keys)
    except (wire_witness.Unreadable, witness.WitnessError) as exc:
        log.info("an equivocation proof from %s was refused: %s", source, exc)
        return f"refused: {exc}"
    async with transaction(db):
        kept = await _keep_proof(db, config, proof, source=source, now=_now(db))
    return "kept and gossiped" if kept is not None else "already held"


# --- verify-decisions ----------------------------------------------------------------------------------------------


async def check_sibling(db: aiosqlite.Connection, config: Config, client: HttpClient, group: str
                        ) -> witness.Finding | None:
    """The Group's whole log read now, checked against what we witnessed of it (and kept, as any read is): the
    first entry where it was rewritten, or None when it extends everything we saw."""
    polled = await poll(db, config, client, group, limit=None, from_start=True)
    result = polled.witnessed
    if result.kind == "equivocation":
        return witness.Finding(result.ours.seq, result.problem)
    held_proofs = await store.equivocations(db, group, limit=1)
    if held_proofs:
        proof = held_proofs[0]
        found = "witnessed here" if proof.received_from is None else f"gossiped by {proof.received_from}"
        return witness.Finding(proof.seq, f"entry {proof.seq} was rewritten: two different signed entries"
                                          f" {proof.seq} are held as proof ({found})")
    if result.kind == "broken":
        return witness.Finding(0, result.problem)
    return None
