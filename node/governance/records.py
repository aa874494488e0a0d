"""One signed-record format for everything the Congregation keeps on the record (the decision log today; the
Assembly's stances, the split and the fund ledger later). A version-2 entry is

    {"header": {"version": 2, "seq", "prev", "visibility", "commitment"}, "body", "salt", "proof"}

`commitment` is sha256(salt || JCS(body)) in hex, JCS being RFC 8785: the header commits to a body it does not
show, and the 16 random bytes of salt keep a guessable body (a title, a count) from being found by hashing
candidates. The header is what is hashed (its hash is the next entry's `prev`) and signed, by a FEP-8b32
`DataIntegrityProof` with the `eddsa-jcs-2022` cryptosuite and the Group's Ed25519 key. Anyone can check the
chain and the signatures from headers alone; whoever is shown the body and salt can check it is the one signed.

Pure: no database, no network; the caller names the verification method (a URI from node/uris.py)."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

VERSION = 2
VISIBILITIES = ("public", "members", "partners", "crew")
CRYPTOSUITE = "eddsa-jcs-2022"
SALT_BYTES = 16
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_PUB = b"\xed\x01"  # the multicodec prefix FEP-521a puts before a raw Ed25519 public key


class RecordError(ValueError):
    """An entry that cannot be made or does not verify; the message says which part failed."""


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON: the exact bytes a commitment or a proof covers."""
    return rfc8785.dumps(value)


def commitment(salt: str, body: Any) -> str:
    """sha256(salt bytes || JCS(body)), hex; `salt` is the hex the entry carries."""
    return hashlib.sha256(bytes.fromhex(salt) + jcs(body)).hexdigest()


def header_hash(header: dict[str, Any]) -> str:
    """The entry's hash, named by the next entry's `prev`: sha256 of the JCS header, hex."""
    return hashlib.sha256(jcs(header)).hexdigest()


def new_salt() -> str:
    return os.urandom(SALT_BYTES).hex()


def new_private_key() -> str:
    """A fresh Ed25519 key as PKCS#8 PEM, for the Group's records."""
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _b58encode(raw: bytes) -> str:
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + text


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise RecordError(f"{char!r} is not a base58btc character")
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def multikey(private_key_pem: str) -> str:
    """The FEP-521a `publicKeyMultibase` of a private key's public half: 'z' + base58btc(0xed01 || key)."""
    key = _load_private(private_key_pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + _b58encode(_ED25519_PUB + raw)


def public_key(multibase: str) -> ed25519.Ed25519PublicKey:
    """Read a FEP-521a `publicKeyMultibase` Ed25519 key."""
    if not isinstance(multibase, str) or not multibase.startswith("z"):
        raise RecordError("the key is not base58btc multibase")
    raw = _b58decode(multibase[1:])
    if raw[:2] != _ED25519_PUB or len(raw) != 34:
        raise RecordError("the key is not an Ed25519 Multikey")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])


def _load_private(private_key_pem: str) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise RecordError("records are signed with an Ed25519 key")
    return key


def _hash_data(proof_config: dict[str, Any], header: dict[str, Any]) -> bytes:
    # eddsa-jcs-2022: sha256(JCS(proof options)) || sha256(JCS(document without proof)).
    return hashlib.sha256(jcs(proof_config)).digest() + hashlib.sha256(jcs(header)).digest()


def make_entry(seq: int, prev: str, visibility: str, body: Any, salt: str, private_key_pem: str,
               verification_method: str) -> dict[str, Any]:
    """A signed version-2 entry: {header, body, salt, proof}."""
    if visibility not in VISIBILITIES:
        raise RecordError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
    header = {"version": VERSION, "seq": seq, "prev": prev, "visibility": visibility,
              "commitment": commitment(salt, body)}
    config = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE, "verificationMethod": verification_method,
              "proofPurpose": "assertionMethod"}
    signature = _load_private(private_key_pem).sign(_hash_data(config, header))
    proof = {**config, "proofValue": "z" + _b58encode(signature)}
    return {"header": header, "body": body, "salt": salt, "proof": proof}


@dataclass(frozen=True)
class Checked:
    hash: str
    body_checked: bool  # False when the entry was published without its body (header only)


def verify(entry: dict[str, Any], key: ed25519.Ed25519PublicKey) -> Checked:
    """Check a version-2 entry's proof over its header and, when its body is shown, the body's commitment;
    raise RecordError naming what failed."""
    header, proof = entry.get("header"), entry.get("proof")
    if not isinstance(header, dict) or not isinstance(proof, dict):
        raise RecordError("it has no header or no proof")
    if header.get("version") != VERSION or set(header) != {"version", "seq", "prev", "visibility", "commitment"}:
        raise RecordError("its header is not a version-2 header")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise RecordError(f"its proof is not a DataIntegrityProof with {CRYPTOSUITE}")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise RecordError("its proofValue is not base58btc multibase")
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        key.verify(_b58decode(value[1:]), _hash_data(config, header))
    except (InvalidSignature, RecordError):
        raise RecordError("its proof is not the Congregation's signature of its header") from None
    shown = "body" in entry
    if shown:
        salt = entry.get("salt")
        if not isinstance(salt, str) or len(salt) != 2 * SALT_BYTES:
            raise RecordError("its body is shown without its salt")
        try:
            expected = commitment(salt, entry["body"])
        except (ValueError, rfc8785.CanonicalizationError):
            raise RecordError("its body or salt cannot be read") from None
        if not hmac.compare_digest(expected, str(header["commitment"])):
            raise RecordError("its body was altered: it does not match the commitment")
    return Checked(header_hash(header), shown)


def published(entry: dict[str, Any], show_body: bool) -> dict[str, Any]:
    """What a reader is shown: public entries (or a reader allowed the body) get it all, others the header and
    proof only."""
    if show_body or entry["header"]["visibility"] == "public":
        return entry
    return {"header": entry["header"], "proof": entry["proof"]}


# FEP-8b32 object integrity proofs: the same eddsa-jcs-2022 cryptosuite over a whole JSON object (an Assembly
# proposal, a stance, an attestation), so a copy relayed by anyone verifies without asking where it came from.


def sign_object(document: dict[str, Any], private_key_pem: str, verification_method: str,
                created: str) -> dict[str, Any]:
    """`document` with a `proof` added (Data Integrity "Add Proof", eddsa-jcs-2022). The proof options take the
    document's `@context` when it has one, as the cryptosuite asks, and `created` (an XML Schema dateTime)."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config: dict[str, Any] = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE,
                              "verificationMethod": verification_method, "proofPurpose": "assertionMethod",
                              "created": created}
    if "@context" in unsecured:
        config = {"@context": unsecured["@context"], **config}
    signature = _load_private(private_key_pem).sign(_hash_data(config, unsecured))
    return {**unsecured, "proof": {**config, "proofValue": "z" + _b58encode(signature)}}


@dataclass(frozen=True)
class ObjectProof:
    verification_method: str
    created: str
    digest: str  # sha256 of the JCS of the whole signed object, proof included: what "seen" is keyed by


def object_proof(document: Any) -> dict[str, Any]:
    """The proof an object carries, or RecordError saying why it has none we read."""
    if not isinstance(document, dict):
        raise RecordError("it is not a JSON object")
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise RecordError("it carries no single integrity proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise RecordError(f"its proof is not a DataIntegrityProof with {CRYPTOSUITE}")
    if proof.get("proofPurpose") != "assertionMethod":
        raise RecordError("its proof's purpose is not assertionMethod")
    for name in ("verificationMethod", "created", "proofValue"):
        if not isinstance(proof.get(name), str):
            raise RecordError(f"its proof has no {name}")
    return proof


def verify_object(document: Any, key: ed25519.Ed25519PublicKey) -> ObjectProof:
    """Check an object's FEP-8b32 proof with `key` (the caller chose it from the method the proof names and
    checked that method belongs to the object's owner); raise RecordError naming what failed."""
    proof = object_proof(document)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in config and config["@context"] != unsecured.get("@context"):
        raise RecordError("its proof's @context is not the object's")
    value = proof["proofValue"]
    if not value.startswith("z"):
        raise RecordError("its proofValue is not base58btc multibase")
    try:
        key.verify(_b58decode(value[1:]), _hash_data(config, unsecured))
    except (InvalidSignature, RecordError, ValueError, rfc8785.CanonicalizationError):
        raise RecordError("its proof does not verify: the object was altered or signed by another key") from None
    return ObjectProof(proof["verificationMethod"], proof["created"], digest(document))


def digest(document: Any) -> str:
    """sha256 of an object's JCS, hex: two copies are the same object exactly when their digests are equal."""
    return hashlib.sha256(jcs(document)).hexdigest()
