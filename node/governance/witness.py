"""Cross-witnessed decision logs, the rules (pure: no database, no network). Each node remembers the latest
(seq, hash) it has seen of each sibling's decision log and some of the signed entries before it; every later copy
must extend that. A log that was rewritten shows two different entries signed by the same Group at the same seq:
an **equivocation**, and the pair is its proof, which anyone holding the Group's keys can check for themselves.

A published log item is read here into an `Entry` only once its signature verifies: a version-1 item ({entry,
signature}) with the Group's RSA key, a version-2 item ({header, proof}) with its Ed25519 Multikey (FEP-521a). Only
what the signature covers is kept (`Entry.item`): the header and proof of a version-2 entry, never its body, so a
proof passed on shows nothing the Group did not publish to everyone."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from node.governance import decision_log, records

MAX_HELD = 200  # signed entries kept per sibling: the newest ones (the head always among them)
MAX_PER_POLL = 200  # entries past the head read from a sibling in one poll; the rest wait for the next


class WitnessError(ValueError):
    """A log item that does not verify, or a proof that proves nothing; the message says which part failed."""


@dataclass(frozen=True)
class Entry:
    seq: int
    prev: str
    hash: str
    item: dict[str, Any] = field(compare=False)  # the signed part, as published


def _number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise WitnessError("its seq is not a number from 1")
    return value


def signed_entry(item: Any, keys: Mapping[str, str]) -> Entry:
    """Read a published log item, checking its signature with the Group's keys (`keys`: key id → PEM or
    'multibase:z…', as the Group's actor document lists them); WitnessError naming what failed."""
    if not isinstance(item, dict):
        raise WitnessError("it is not a log item")
    if "header" in item:
        header, proof = item.get("header"), item.get("proof")
        if not isinstance(header, dict) or not isinstance(proof, dict):
            raise WitnessError("it has no header or no proof")
        method = proof.get("verificationMethod")
        material = keys.get(method) if isinstance(method, str) else None
        if material is None or not material.startswith("multibase:"):
            raise WitnessError(f"its proof names a key the Group does not list: {str(method)[:200]}")
        signed = {"header": header, "proof": proof}
        try:
            checked = records.verify(signed, records.public_key(material[len("multibase:"):]))
        except records.RecordError as exc:
            raise WitnessError(str(exc)) from None
        prev = header.get("prev")
        if not isinstance(prev, str):
            raise WitnessError("its prev is not a hash")
        return Entry(_number(header.get("seq")), prev, checked.hash, signed)
    entry, signature = item.get("entry"), item.get("signature")
    if not isinstance(entry, dict) or not isinstance(signature, str):
        raise WitnessError("it holds no entry and signature")
    kid = item.get("signedBy")
    pems = [m for k, m in keys.items() if not m.startswith("multibase:") and (kid is None or k == kid)]
    if not pems:
        raise WitnessError(f"it names a key the Group does not list: {str(kid)[:200]}")
    try:
        key = serialization.load_pem_public_key(pems[0].encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise WitnessError("the Group's key is not an RSA key")
        key.verify(base64.b64decode(signature, validate=True), decision_log.canonical(entry), padding.PKCS1v15(),
                   hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        raise WitnessError("it is not signed by the Group's key") from None
    prev = entry.get("prev")
    if not isinstance(prev, str):
        raise WitnessError("its prev is not a hash")
    signed = {"entry": entry, "signature": signature, **({"signedBy": kid} if kid is not None else {})}
    return Entry(_number(entry.get("seq")), prev, decision_log.digest(entry), signed)


def claimed_hash(item: Any) -> str | None:
    """The hash a log item would have, read without checking any signature (to find a proof already held)."""
    try:
        if isinstance(item, dict) and isinstance(item.get("header"), dict):
            return records.header_hash(item["header"])
        if isinstance(item, dict) and isinstance(item.get("entry"), dict):
            return decision_log.digest(item["entry"])
    except (TypeError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Witnessed:
    """What a new copy of a sibling's log says against what we saw.

    kind: 'extends' (new entries, maybe none, and the new head), 'equivocation' (ours and theirs: two different
    signed entries at one seq, the lowest where they differ), or 'broken' (the copy proves nothing about a rewrite
    but does not hold together: `problem` says how)."""
    kind: str
    new: tuple[Entry, ...] = ()
    head: Entry | None = None
    ours: Entry | None = None
    theirs: Entry | None = None
    problem: str = ""


def witness(held: Mapping[int, Entry], head: tuple[int, str] | None, copy: list[Entry]) -> Witnessed:
    """Check a contiguous copy of a log (oldest first, every entry already verified) against the entries we hold
    and the head we saw. The copy must reach the head (it starts at or before it), so a rewrite anywhere before
    the head shows as a different entry at a seq we hold: the chain carries every change up to the head."""
    for entry in copy:
        ours = held.get(entry.seq)
        if ours is not None and ours.hash != entry.hash:
            return Witnessed("equivocation", ours=ours, theirs=entry,
                             problem=f"entry {entry.seq} was rewritten: it is not the signed entry witnessed before")
    for before, after in itertools.pairwise(copy):
        if after.seq != before.seq + 1:
            return Witnessed("broken", problem=f"entry {before.seq + 1} is missing from the copy")
        if after.prev != before.hash:
            return Witnessed("broken", problem=f"entry {after.seq} does not follow the entry before it")
    if copy:
        first = copy[0]
        if first.seq == 1 and first.prev != decision_log.GENESIS:
            return Witnessed("broken", problem="entry 1 does not start the log")
        before = held.get(first.seq - 1)
        if before is not None and first.prev != before.hash:
            return Witnessed("broken", problem=f"entry {first.seq} does not follow the entry witnessed before it")
    if head is not None:
        seq, _ = head
        if not copy or copy[-1].seq < seq:
            return Witnessed("broken", problem=f"the log ends before entry {seq}, which was witnessed: entries were"
                                               " dropped")
        if copy[0].seq > seq:
            return Witnessed("broken", problem=f"the copy starts after entry {seq}, the last one witnessed")
    after = head[0] if head is not None else 0
    new = tuple(e for e in copy if e.seq > after)
    return Witnessed("extends", new=new, head=copy[-1] if copy else None)


def kept(held: Mapping[int, Entry], new: tuple[Entry, ...], limit: int = MAX_HELD) -> dict[int, Entry]:
    """The entries to hold after taking `new`: the newest `limit`."""
    merged = {**held, **{e.seq: e for e in new}}
    return {seq: merged[seq] for seq in sorted(merged)[-limit:]}


# --- the equivocation proof ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    group: str
    seq: int
    first: Entry
    second: Entry

    @property
    def digest(self) -> str:
        return proof_digest(self.group, self.seq, self.first.hash, self.second.hash)


def proof_digest(group: str, seq: int, hash_a: str, hash_b: str) -> str:
    """What a proof is kept by: the Group, the seq and the two hashes in order, so both orders are one proof."""
    low, high = sorted((hash_a, hash_b))
    return hashlib.sha256(records.jcs([group, seq, low, high])).hexdigest()


def check_proof(group: str, seq: Any, items: Any, keys: Mapping[str, str]) -> Proof:
    """Believe a proof only when both entries verify with the accused Group's own keys, name the same seq and
    differ: WitnessError otherwise (a forged or mistaken proof changes nothing)."""
    if not isinstance(items, list) or len(items) != 2:
        raise WitnessError("a proof is two signed entries")
    seq = _number(seq)
    first, second = (signed_entry(item, keys) for item in items)
    if first.seq != seq or second.seq != seq:
        raise WitnessError(f"its entries are not both entry {seq}")
    if first.hash == second.hash:
        raise WitnessError("its two entries are the same entry")
    return Proof(group, seq, first, second)


@dataclass(frozen=True)
class Finding:
    """What `verify-decisions` says of a log checked against what was witnessed of it."""
    seq: int
    problem: str


def against_witnessed(log: Mapping[int, str], witnessed: Mapping[int, Entry], who: str) -> Finding | None:
    """The first entry where a full log (seq → hash, already verified) differs from, or lacks, an entry someone
    witnessed signed: the log was rewritten there."""
    for seq in sorted(witnessed):
        if seq not in log:
            return Finding(seq, f"entry {seq} was dropped: {who} witnessed it signed")
        if log[seq] != witnessed[seq].hash:
            return Finding(seq, f"entry {seq} was rewritten: {who} witnessed another signed entry {seq}")
    return None
