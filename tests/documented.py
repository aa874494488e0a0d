"""FEDERATION.md's JSON examples, and where a served document differs from one in shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FEDERATION_MD = Path(__file__).parent.parent / "FEDERATION.md"
EXAMPLE_RE = re.compile(r"<!-- example: ([a-z0-9-]+) -->\s*```json\n(.*?)```", re.S)
EXACT_KEYS = {"type", "@context", "rel"}


def examples() -> dict[str, Any]:
    found = {name: json.loads(body) for name, body in EXAMPLE_RE.findall(FEDERATION_MD.read_text())}
    assert found, "FEDERATION.md has no examples"
    return {name: _expand(example, found) for name, example in found.items()}


def _expand(value: Any, found: dict[str, Any]) -> Any:
    """Replace {"$example": NAME} by that example, so a nested object is documented once."""
    if isinstance(value, dict):
        if set(value) == {"$example"}:
            return _expand(found[value["$example"]], found)
        return {k: _expand(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, found) for v in value]
    return value


def differences(documented: Any, real: Any, path: str = "$") -> list[str]:
    """Where the documented example and the real document differ in shape (keys, kinds, types)."""
    if isinstance(documented, dict) and isinstance(real, dict):
        problems = [f"{path}.{k}: documented, not sent" for k in documented.keys() - real.keys()]
        problems += [f"{path}.{k}: sent, not documented" for k in real.keys() - documented.keys()]
        for key in documented.keys() & real.keys():
            if key in EXACT_KEYS and documented[key] != real[key]:
                problems.append(f"{path}.{key}: documented {documented[key]!r}, sent {real[key]!r}")
            else:
                problems += differences(documented[key], real[key], f"{path}.{key}")
        return problems
    if isinstance(documented, list) and isinstance(real, list):
        if not documented or not real:
            return [] if len(documented) == len(real) else [f"{path}: one list is empty"]
        return differences(documented[0], real[0], f"{path}[0]")
    if type(documented) is not type(real):
        return [f"{path}: documented {type(documented).__name__}, sent {type(real).__name__}"]
    return []
