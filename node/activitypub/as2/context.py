"""The JSON-LD contexts of what this node serves: ActivityStreams, the security vocabulary, and the terms of
its own (the Group's `decisions`, the decision record), so a JSON-LD processor keeps every key we send."""

from __future__ import annotations

from typing import Any

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
# A name, not a place: `.example` is reserved (RFC 2606), so no one else can ever define terms in it, and the
# same term has the same IRI on every node. Each node serves the definitions at CONTEXT_PATH.
NAMESPACE = "https://congregation.example/ns#"
CONTEXT_PATH = "/ns"

ACTOR_TERMS: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "lemmy": "https://join-lemmy.org/ns#",
    "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
    "congregation": NAMESPACE,
    "decisions": {"@id": "congregation:decisions", "@type": "@id"},
    "sec": "https://w3id.org/security#",
    # FEP-521a: the Group's Ed25519 record key. The terms of https://w3id.org/security/multikey/v1 and
    # data-integrity/v2, with the same IRIs, so the document needs no context beyond security/v1.
    "assertionMethod": {"@id": "sec:assertionMethod", "@type": "@id", "@container": "@set"},
    "Multikey": "sec:Multikey",
    "controller": {"@id": "sec:controller", "@type": "@id"},
    "publicKeyMultibase": {"@id": "sec:publicKeyMultibase", "@type": "sec:multibase"},
}
# Mastodon's poll term; without it a processor reads `votersCount` as a blank-node property and drops it.
QUESTION_TERMS: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "votersCount": "toot:votersCount",
}
# The entry is what was hashed and signed, byte for byte: a JSON literal (`@json`), so no processor rewrites it
# and its maps keyed by option names stay maps.
RECORD_TERMS: dict[str, Any] = {
    "congregation": NAMESPACE,
    "DecisionRecord": "congregation:DecisionRecord",
    "entry": {"@id": "congregation:entry", "@type": "@json"},
    "hash": "congregation:hash",
    "hashAlgorithm": "congregation:hashAlgorithm",
    "signature": "congregation:signature",
    "signatureAlgorithm": "congregation:signatureAlgorithm",
    "signedBy": {"@id": "congregation:signedBy", "@type": "@id"},
    # A version-2 record (node/governance/records.py): its header, body and proof are JSON whose exact bytes
    # (RFC 8785) are what was committed to and signed, so they are literals too.
    "version": "congregation:recordVersion",
    "header": {"@id": "congregation:header", "@type": "@json"},
    "body": {"@id": "congregation:body", "@type": "@json"},
    "salt": "congregation:salt",
    "proof": {"@id": "congregation:proof", "@type": "@json"},
}

# The Assembly (FEDERATION.md, "The Assembly"): attestations, proposals, stances and withdrawals carry FEP-8b32
# proofs; the frozen rules, the roster and a stance's counts are JSON literals, signed byte for byte (RFC 8785).
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
ASSEMBLY_TERMS: dict[str, Any] = {
    "congregation": NAMESPACE,
    "SiblingsAttestation": "congregation:SiblingsAttestation",
    "AssemblyStance": "congregation:AssemblyStance",
    "AssemblyWithdrawal": "congregation:AssemblyWithdrawal",
    "assemblyRules": {"@id": "congregation:assemblyRules", "@type": "@json"},
    "roster": {"@id": "congregation:roster", "@type": "@json"},
    "siblings": {"@id": "congregation:siblings", "@type": "@json"},
    "selfKey": "congregation:selfKey",
    "choice": "congregation:choice",
    "members": "congregation:members",
    "counts": {"@id": "congregation:counts", "@type": "@json"},
    "reasons": "congregation:reasons",
    "logEntry": {"@id": "congregation:logEntry", "@type": "@json"},
}

# Cross-witnessed decision logs (FEDERATION.md, "Witnessed decision logs"): what a node saw of a sibling's log, and
# the proof that a Group signed two different entries at one seq. The entries are signed JSON, so literals.
WITNESS_TERMS: dict[str, Any] = {
    "congregation": NAMESPACE,
    "LogEquivocation": "congregation:LogEquivocation",
    "WitnessedLog": "congregation:WitnessedLog",
    "accused": {"@id": "congregation:accused", "@type": "@id"},
    "seq": "congregation:seq",
    "entries": {"@id": "congregation:entries", "@type": "@json"},
    "equivocations": {"@id": "congregation:equivocations", "@type": "@json"},
}

ACTOR_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_CONTEXT, ACTOR_TERMS]
ASSEMBLY_CONTEXT: list[Any] = [AS_CONTEXT, DATA_INTEGRITY_CONTEXT, ASSEMBLY_TERMS]
QUESTION_CONTEXT: list[Any] = [AS_CONTEXT, QUESTION_TERMS]
RECORD_CONTEXT: list[Any] = [AS_CONTEXT, RECORD_TERMS]
WITNESS_CONTEXT: list[Any] = [AS_CONTEXT, {**RECORD_TERMS, **WITNESS_TERMS}]


def context_document() -> dict[str, Any]:
    """Every extension term this node serves, as one context document (what GET /ns answers); it names the `as:`
    prefix itself, so it reads the same with or without ActivityStreams before it."""
    return {"@context": {"as": AS_CONTEXT + "#", **ACTOR_TERMS, **QUESTION_TERMS, **RECORD_TERMS, **ASSEMBLY_TERMS,
                        **WITNESS_TERMS}}
