"""The decision log: one entry per closed proposal, each naming the hash of the one before and signed with
the Group's key, so any sibling can check that no entry was altered, dropped or reordered. No blockchain:
one signer (the Congregation) and a hash chain are enough to make its record tamper-evident."""

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

from node.store import proposals as store

GENESIS = ""  # the first entry's `prev`


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes that are hashed and signed: sorted keys, no spaces, UTF-8 (RFC 8785 for this JSON subset:
    strings, integers, lists and objects; the log never holds floats)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def sign(private_key_pem: str, entry: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return base64.b64encode(key.sign(canonical(entry), padding.PKCS1v15(), hashes.SHA256())).decode()


async def append(db: aiosqlite.Connection, private_key_pem: str, record: dict[str, Any]) -> dict[str, Any]:
    """Chain `record` after the last entry, sign it, store it; call inside the transaction that closes the proposal."""
    last = await store.last_entry(db)
    entry = {**record, "seq": (last.seq + 1) if last else 1, "prev": last.hash if last else GENESIS}
    await store.append_entry(db, entry["seq"], record["proposal"], canonical(entry).decode("utf-8"), digest(entry),
                             sign(private_key_pem, entry))
    return entry


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str = ""


def verify_chain(items: list[dict[str, Any]], public_key_pem: str) -> Verification:
    """Check a published log, oldest first: each {entry, hash, signature} must hash and verify, start at seq 1,
    count up by one, and name the previous entry's hash."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        return Verification(False, 0, "the Group's public key cannot be read")
    if not isinstance(key, rsa.RSAPublicKey):
        return Verification(False, 0, "the Group's key is not an RSA key")
    previous = GENESIS
    for position, item in enumerate(items, start=1):
        entry = item.get("entry") if isinstance(item, dict) else None
        if not isinstance(entry, dict):
            return Verification(False, position - 1, f"item {position} holds no entry")
        if entry.get("seq") != position:
            return Verification(False, position - 1, f"entry {position} has seq {entry.get('seq')!r}: an entry is"
                                                      " missing or out of order")
        if entry.get("prev") != previous:
            return Verification(False, position - 1, f"entry {position} does not follow the entry before it")
        if item.get("hash") != digest(entry):
            return Verification(False, position - 1, f"entry {position} was altered: its hash does not match")
        try:
            key.verify(base64.b64decode(str(item.get("signature", "")), validate=True), canonical(entry),
                       padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return Verification(False, position - 1, f"entry {position} is not signed by the Congregation's key")
        previous = item["hash"]
    return Verification(True, len(items))
