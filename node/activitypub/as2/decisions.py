"""The decision log on the wire: each signed, hash-chained entry as a DecisionRecord that dereferences at its id."""

from __future__ import annotations

import json
from typing import Any

from node.store.proposals import LogEntry


def decisions_uri(group_uri: str) -> str:
    return group_uri + "/decisions"


def log_item(group_uri: str, kid: str, entry: LogEntry) -> dict[str, Any]:
    return {"id": f"{decisions_uri(group_uri)}/{entry.seq}", "type": "DecisionRecord",
            "entry": json.loads(entry.entry), "hash": entry.hash, "hashAlgorithm": "sha-256",
            "signature": entry.signature, "signatureAlgorithm": "rsa-sha256", "signedBy": kid}
