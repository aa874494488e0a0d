"""The decision log on the wire: each signed, hash-chained entry as a DecisionRecord that dereferences at its id.
A version-1 entry (signed before issue 12) is shown whole with its RSA signature; a version-2 entry
(node/governance/records.py) shows its header and proof to anyone, and its body and salt only when it is public
or the reader may see it (FEDERATION.md, "Signed records")."""

from __future__ import annotations

import json
from typing import Any

from node.store.proposals import LogEntry


def decisions_uri(group_uri: str) -> str:
    return group_uri + "/decisions"


def log_item(group_uri: str, kid: str, entry: LogEntry, show_body: bool = False) -> dict[str, Any]:
    """The record as served; `show_body` for a reader allowed every body (the members' export)."""
    uri = f"{decisions_uri(group_uri)}/{entry.seq}"
    if entry.version == 1:
        return {"id": uri, "type": "DecisionRecord", "entry": json.loads(entry.entry), "hash": entry.hash,
                "hashAlgorithm": "sha-256", "signature": entry.signature, "signatureAlgorithm": "rsa-sha256",
                "signedBy": kid}
    stored = json.loads(entry.entry)
    item = {"id": uri, "type": "DecisionRecord", "version": stored["header"]["version"], "header": stored["header"],
            "hash": entry.hash, "hashAlgorithm": "sha-256"}
    if show_body or stored["header"]["visibility"] == "public":
        item.update(body=stored["body"], salt=stored["salt"])
    item["proof"] = stored["proof"]
    return item
