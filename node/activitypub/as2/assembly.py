"""The Assembly on the wire (FEDERATION.md, "The Assembly"): a Group's siblings attestation, an Assembly proposal
(a `Question` any server can show, with the frozen rules and roster), a Congregation's stance and the tabling
Group's withdrawal. Each carries a FEP-8b32 `eddsa-jcs-2022` proof by its Group's record key, so a copy relayed by
anyone verifies without asking its origin. Built here and read back into typed values; the proofs themselves are
made and checked by node/governance/records.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from node.activitypub.as2.context import ASSEMBLY_CONTEXT
from node.activitypub.as2.parse import PUBLIC, BadDocument, is_http_url, origin, ref, types_of
from node.governance import assembly
from node.governance.records import RecordError, object_proof

MAX_TITLE, MAX_DETAILS, MAX_REASONS = 200, 10_000, 2_000
MAX_BATCH = 50  # signed objects per relayed `Add`: a page of stances, well under the inbox's body limit


def stamp(seconds: int) -> str:
    """Unix seconds as the xsd:dateTime the wire carries."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(value: Any) -> int:
    """An xsd:dateTime read back into whole Unix seconds (BadDocument if it is not one, or has no time zone)."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadDocument("a time is an xsd:dateTime string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadDocument(f"{value[:40]!r} is not a time") from None
    if moment.tzinfo is None:
        raise BadDocument("a time needs its time zone")
    return int(moment.timestamp())


def _text(document: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = document.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise BadDocument(f"`{name}` is not text of at most {limit} characters")
    return value


def _url(value: Any, what: str) -> str:
    if not is_http_url(value) or len(value) > 2048:
        raise BadDocument(f"{what} is not an http(s) URL")
    return value


# --- the siblings attestation ------------------------------------------------------------------------------


def attestation_document(group_uri: str, own_key: str, siblings: dict[str, str], updated: int) -> dict[str, Any]:
    """What the Group attests: its own record key and its mutual siblings with theirs (unsigned)."""
    return {"@context": ASSEMBLY_CONTEXT, "id": group_uri + "/siblings", "type": "SiblingsAttestation",
            "attributedTo": group_uri, "selfKey": own_key,
            "siblings": [{"id": uri, "key": key} for uri, key in sorted(siblings.items())],
            "updated": stamp(updated)}


def parse_attestation(document: Any) -> assembly.Attestation:
    if not isinstance(document, dict) or "SiblingsAttestation" not in types_of(document):
        raise BadDocument("it is not a siblings attestation")
    group = _url(document.get("attributedTo"), "its Group")
    if document.get("id") != group + "/siblings":
        raise BadDocument("an attestation is served at its Group's /siblings")
    own = document.get("selfKey")
    listed = document.get("siblings")
    if not isinstance(own, str) or not isinstance(listed, list) or len(listed) > assembly.MAX_ROSTER:
        raise BadDocument("an attestation names its key and at most a roster's worth of siblings")
    siblings: dict[str, str] = {}
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or len(entry["key"]) > 100:
            raise BadDocument("each sibling is {id, key}")
        siblings[_url(entry.get("id"), "a sibling")] = entry["key"]
    return assembly.Attestation(group, own, siblings)


# --- the Assembly proposal -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalIn:
    uri: str
    tabled_by: str
    title: str
    details: str
    rules: assembly.Rules
    roster: tuple[assembly.RosterEntry, ...]
    verification_method: str
    created: int


def rules_value(rules: assembly.Rules) -> dict[str, Any]:
    return {"kind": rules.kind, "weighting": rules.weighting, "quorumPercent": rules.quorum_percent,
            "finalitySeconds": rules.finality_seconds}


def proposal_document(uri: str, group_uri: str, title: str, details: str, rules: assembly.Rules,
                      roster: tuple[assembly.RosterEntry, ...], published: int, page: str) -> dict[str, Any]:
    """The unsigned Question: Mastodon shows it as a poll (its votes go to the tabling Group and count as nobody's
    Congregation); Congregations read `assemblyRules` and `roster`."""
    paragraphs = "".join(f"<p>{escape(part)}</p>" for part in details.split("\n\n") if part.strip())
    return {
        "@context": ASSEMBLY_CONTEXT, "id": uri, "type": "Question", "attributedTo": group_uri, "name": title,
        "content": f"<p><strong>{escape(title)}</strong></p>{paragraphs}<p>A proposal to the Assembly of "
                   f"{len(roster)} Congregations: each decides for itself and takes one stance.</p>",
        "source": {"content": details, "mediaType": "text/plain"},
        "published": stamp(published), "endTime": stamp(rules.closes_at),
        "oneOf": [{"type": "Note", "name": option} for option in rules.options],
        "to": [PUBLIC], "cc": [group_uri + "/followers"], "url": page,
        "assemblyRules": rules_value(rules),
        "roster": [[entry.group, entry.key] for entry in roster],
    }


def _drop_none(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if v is not None}


def is_assembly_proposal(document: Any) -> bool:
    return isinstance(document, dict) and "Question" in types_of(document) and "assemblyRules" in document


def parse_proposal(document: Any) -> ProposalIn:
    """An Assembly proposal's fields, checked for shape and limits (not yet its proof)."""
    if not is_assembly_proposal(document):
        raise BadDocument("it is not an Assembly proposal")
    uri, group = _url(document.get("id"), "its id"), _url(document.get("attributedTo"), "its Group")
    if origin(uri) != origin(group):
        raise BadDocument("an Assembly proposal is served by the Group that tabled it")
    title = _text(document, "name", MAX_TITLE)
    source = document.get("source")
    details = source.get("content", "") if isinstance(source, dict) else ""
    if not isinstance(details, str) or len(details) > MAX_DETAILS:
        raise BadDocument(f"the details are at most {MAX_DETAILS} characters")
    raw, options = document.get("assemblyRules"), document.get("oneOf")
    if not isinstance(raw, dict) or not isinstance(options, list):
        raise BadDocument("an Assembly proposal has its rules and its options")
    names = tuple(o.get("name") for o in options if isinstance(o, dict))
    if len(names) != len(options) or not all(isinstance(n, str) and 0 < len(n) <= 100 for n in names):
        raise BadDocument("each option is a Note with a name of at most 100 characters")
    try:
        rules = assembly.Rules(
            kind=raw.get("kind"), closes_at=seconds(document.get("endTime")), options=names,
            weighting=raw.get("weighting"), quorum_percent=_integer(raw.get("quorumPercent")),
            finality_seconds=_integer(raw.get("finalitySeconds")))
    except assembly.Invalid as exc:
        raise BadDocument(str(exc)) from None
    roster_raw = document.get("roster")
    if not isinstance(roster_raw, list) or not 0 < len(roster_raw) <= assembly.MAX_ROSTER:
        raise BadDocument(f"a roster lists 1 to {assembly.MAX_ROSTER} Congregations")
    roster = []
    for entry in roster_raw:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str) and len(entry[1]) <= 100):
            raise BadDocument("each roster entry is [Group, key]")
        roster.append(assembly.RosterEntry(_url(entry[0], "a roster Group"), entry[1]))
    if len({e.group for e in roster}) != len(roster):
        raise BadDocument("a Group is on the roster twice")
    if group not in {e.group for e in roster}:
        raise BadDocument("the tabling Group is not on its own roster")
    try:
        proof = object_proof(document)
    except RecordError as exc:
        raise BadDocument(str(exc)) from None
    return ProposalIn(uri, group, title, details, rules, tuple(sorted(roster)), proof["verificationMethod"],
                      seconds(proof["created"]))


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -2**53 < value < 2**53:
        raise BadDocument("a rule's number is an integer")
    return value


# --- the stance -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StanceIn:
    uri: str
    group: str
    proposal: str
    choice: str
    members: int
    reasons: str
    verification_method: str
    created: int


def stance_document(uri: str, group_uri: str, proposal_uri: str, choice: str, members: int,
                    counts: dict[str, int], reasons: str, log_entry: dict[str, Any] | None) -> dict[str, Any]:
    """A Congregation's collective stance (unsigned): what it decided, how many of its members, and the hash of
    the decision-log entry that recorded its own vote."""
    return _drop_none({"@context": ASSEMBLY_CONTEXT, "id": uri, "type": "AssemblyStance", "attributedTo": group_uri,
                       "inReplyTo": proposal_uri, "choice": choice, "members": members, "counts": counts,
                       "reasons": reasons or None, "logEntry": log_entry})


def parse_stance(document: Any) -> StanceIn:
    if not isinstance(document, dict) or "AssemblyStance" not in types_of(document):
        raise BadDocument("it is not an Assembly stance")
    uri, group = _url(document.get("id"), "its id"), _url(document.get("attributedTo"), "its Group")
    if origin(uri) != origin(group):
        raise BadDocument("a stance's id is on its Group's server")
    proposal = _url(ref(document.get("inReplyTo")), "its proposal")
    choice = _text(document, "choice", 100)
    reasons = _text(document, "reasons", MAX_REASONS, required=False)
    members = _integer(document.get("members"))
    try:
        proof = object_proof(document)
    except RecordError as exc:
        raise BadDocument(str(exc)) from None
    return StanceIn(uri, group, proposal, choice, members, reasons, proof["verificationMethod"],
                    seconds(proof["created"]))


# --- the withdrawal ---------------------------------------------------------------------------------------------


def withdrawal_document(uri: str, group_uri: str, proposal_uri: str) -> dict[str, Any]:
    return {"@context": ASSEMBLY_CONTEXT, "id": uri, "type": "AssemblyWithdrawal", "attributedTo": group_uri,
            "object": proposal_uri}


def parse_withdrawal(document: Any) -> tuple[str, str]:
    """(proposal, Group) of a withdrawal."""
    if not isinstance(document, dict) or "AssemblyWithdrawal" not in types_of(document):
        raise BadDocument("it is not a withdrawal")
    group = _url(document.get("attributedTo"), "its Group")
    return _url(ref(document.get("object")), "the withdrawn proposal"), group


# --- relaying -----------------------------------------------------------------------------------------------------


def relay_activity(activity_id: str, group_uri: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A page of signed objects for a sibling: `Add` to the sender's Assembly collection. The objects' proofs are
    what is trusted; the HTTP signature says which sibling sent them (not relayed back to it)."""
    return {"@context": ASSEMBLY_CONTEXT, "id": activity_id, "type": "Add", "actor": group_uri,
            "object": objects, "target": group_uri + "/assembly"}


def relayed_objects(activity: dict[str, Any]) -> list[Any]:
    objects = activity.get("object")
    objects = objects if isinstance(objects, list) else [objects]
    if len(objects) > MAX_BATCH:
        raise BadDocument(f"a relayed page holds at most {MAX_BATCH} objects")
    return objects


def key_origin_matches(verification_method: str, group: str) -> bool:
    """A proof's key must be the Group's own (on its server, below its id) — FEP-fe34's origin rule."""
    try:
        return (origin(verification_method) == origin(group)
                and urlsplit(verification_method)._replace(fragment="").geturl() == group)
    except ValueError:
        return False
