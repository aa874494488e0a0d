"""Cross-witnessed decision logs on the wire (FEDERATION.md, "Witnessed decision logs"): the equivocation proof a
node gossips to its siblings (`Add{LogEquivocation}`), and what a node shows of a sibling's log it witnessed
(`WitnessedLog`). Both carry the accused Group's own signed entries: a reader believes them only once those
signatures verify with that Group's keys (node/governance/witness.py), never for who sent them."""

from __future__ import annotations

from typing import Any

from node.activitypub.as2.context import WITNESS_CONTEXT
from node.activitypub.as2.parse import BadDocument, is_http_url, types_of

MAX_ITEM_CHARS = 8192  # a signed entry as kept: a header and a proof, or a version-1 entry (a title, counts)


def equivocation_object(accused: str, seq: int, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {"type": "LogEquivocation", "accused": accused, "seq": seq, "entries": [first, second]}


def equivocation_activity(activity_id: str, group_uri: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The proof for a sibling: `Add` of the LogEquivocation to what our Group witnessed."""
    return {"@context": WITNESS_CONTEXT, "id": activity_id, "type": "Add", "actor": group_uri,
            "object": obj, "target": group_uri + "/witnessed"}


def parse_equivocation(obj: Any) -> tuple[str, Any, Any]:
    """(accused, seq, entries) as sent; the entries are checked by governance.witness.check_proof."""
    if not isinstance(obj, dict) or "LogEquivocation" not in types_of(obj):
        raise BadDocument("it is not a LogEquivocation")
    accused = obj.get("accused")
    if not is_http_url(accused) or len(accused) > 2048:
        raise BadDocument("its accused Group is not an http(s) URL")
    entries = obj.get("entries")
    if not isinstance(entries, list) or len(entries) != 2:
        raise BadDocument("a proof is two signed entries")
    if any(len(str(e)) > MAX_ITEM_CHARS for e in entries):
        raise BadDocument("a signed entry is at most a header and a proof")
    return accused, obj.get("seq"), entries


def witnessed_document(uri: str, group_uri: str, accused: str, seq: int, hash_: str,
                       entry: dict[str, Any] | None, equivocations: list[dict[str, Any]]) -> dict[str, Any]:
    """What our Group witnessed of a sibling's log: the latest (seq, hash), that signed entry, and the proofs held."""
    document: dict[str, Any] = {"@context": WITNESS_CONTEXT, "id": uri, "type": "WitnessedLog",
                                "attributedTo": group_uri, "object": accused, "seq": seq, "hash": hash_,
                                "equivocations": equivocations}
    if entry is not None:
        document["entry"] = entry
    return document


def log_item_seq(item: Any) -> int | None:
    """A published log item's seq, read without checking anything (to find where a page starts)."""
    if not isinstance(item, dict):
        return None
    inner = item.get("header") if isinstance(item.get("header"), dict) else item.get("entry")
    seq = inner.get("seq") if isinstance(inner, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
