"""The decision log: one entry per closed proposal, each naming the hash of the one before and signed with
the Group's key, so any sibling can check that no entry was altered, dropped or reordered. No blockchain:
one signer (the Congregation) and a hash chain are enough to make its record tamper-evident.

Two versions live in one chain. Version 1 (before issue 12): the whole entry in clear, RSA-signed; those entries
are kept as they are, never re-signed (re-signing a published entry looks exactly like rewriting history).
Version 2, written from then on: the signed-record format of node/governance/records.py, whose header alone is
public for entries that are not; its `prev` is the previous entry's hash whatever that entry's version."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import aiosqlite
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from node import uris
from node.config import Config
from node.db import transaction
from node.governance import records
from node.store import local_actors, record_keys
from node.store import proposals as store

GENESIS = ""  # the first entry's `prev`


def canonical(entry: dict[str, Any]) -> bytes:
    """A version-1 entry's bytes, hashed and signed: sorted keys, no spaces, UTF-8 (RFC 8785 for this JSON subset:
    strings, integers, lists and objects; the log never holds floats). Also how a v2 entry is stored."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def sign(private_key_pem: str, entry: dict[str, Any]) -> str:
    """A version-1 signature (RSA): the node no longer writes one; tests make entries of the old format with it."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(canonical(entry), padding.PKCS1v15(), hashes.SHA256())).decode()


async def ensure_key(db: aiosqlite.Connection) -> str:
    """The Group's Ed25519 record key, made the first time it is asked for (at init, or at the first start of a
    node made before there was one)."""
    async with transaction(db):
        group = await local_actors.group(db)
        pem = await record_keys.private_pem(db, group.id)
        if pem is None:
            pem = records.new_private_key()
            await record_keys.insert(db, group.id, pem)
        return pem


async def public_multikey(db: aiosqlite.Connection, actor_id: int) -> str | None:
    """The FEP-521a `publicKeyMultibase` of an actor's record key, if it has one."""
    pem = await record_keys.private_pem(db, actor_id)
    return records.multikey(pem) if pem else None


async def append(db: aiosqlite.Connection, config: Config, record: dict[str, Any], visibility: str) -> dict[str, Any]:
    """Chain `record` after the last entry as a signed version-2 entry and store it; call inside the transaction
    that closes the proposal."""
    group = await local_actors.group(db)
    last = await store.last_entry(db)
    entry = records.make_entry((last.seq + 1) if last else 1, last.hash if last else GENESIS, visibility, record,
                               records.new_salt(), await ensure_key(db), uris.record_key(config, group.username))
    await store.append_entry(db, entry["header"]["seq"], record["proposal"], canonical(entry).decode("utf-8"),
                             records.header_hash(entry["header"]), entry["proof"]["proofValue"],
                             version=records.VERSION)
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str = ""


def verify_chain(items: list[dict[str, Any]], public_key_pem: str, record_key: str | None = None) -> Verification:
    """Check a published log, oldest first: version-1 items ({entry, hash, signature}) must hash and verify with
    the RSA key, version-2 items ({header, proof, and body and salt when shown}) with the Ed25519 `record_key`
    (a FEP-521a multibase); every entry counts up from seq 1 and names the previous entry's hash."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        return Verification(False, 0, "the Group's public key cannot be read")
    if not isinstance(key, rsa.RSAPublicKey):
        return Verification(False, 0, "the Group's key is not an RSA key")
    previous = GENESIS
    for position, item in enumerate(items, start=1):
        if isinstance(item, dict) and "header" in item:
            found = _check_v2(position, item, record_key, previous)
        else:
            found = _check_v1(position, item, key, previous)
        if isinstance(found, Verification):
            return found
        previous = found
    return Verification(True, len(items))


def _check_v1(position: int, item: Any, key: rsa.RSAPublicKey, previous: str) -> str | Verification:
    entry = item.get("entry") if isinstance(item, dict) else None
    if not isinstance(entry, dict):
        return Verification(False, position - 1, f"item {position} holds no entry")
    if problem := _place(position, entry.get("seq"), entry.get("prev"), previous):
        return problem
    if item.get("hash") != digest(entry):
        return Verification(False, position - 1, f"entry {position} was altered: its hash does not match")
    try:
        key.verify(base64.b64decode(str(item.get("signature", "")), validate=True), canonical(entry),
                   padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return Verification(False, position - 1, f"entry {position} is not signed by the Congregation's key")
    return item["hash"]


def _check_v2(position: int, item: dict[str, Any], record_key: str | None, previous: str) -> str | Verification:
    header = item["header"]
    if not isinstance(header, dict):
        return Verification(False, position - 1, f"item {position} holds no header")
    if problem := _place(position, header.get("seq"), header.get("prev"), previous):
        return problem
    if record_key is None:
        return Verification(False, position - 1, f"entry {position} is a version-2 record, and the Congregation"
                                                  " publishes no record key (Multikey) to check it with")
    try:
        checked = records.verify(item, records.public_key(record_key))
    except records.RecordError as exc:
        return Verification(False, position - 1, f"entry {position}: {exc}")
    if "hash" in item and item["hash"] != checked.hash:
        return Verification(False, position - 1, f"entry {position} was altered: its hash does not match")
    return checked.hash


def _place(position: int, seq: Any, prev: Any, previous: str) -> Verification | None:
    if seq != position:
        return Verification(False, position - 1, f"entry {position} has seq {seq!r}: an entry is missing or out of"
                                                  " order")
    if prev != previous:
        return Verification(False, position - 1, f"entry {position} does not follow the entry before it")
    return None
