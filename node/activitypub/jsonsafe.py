"""Strict JSON for untrusted bodies: UTF-8, one object, no NaN or overflowing numbers, no duplicate keys, bounded
depth."""

from __future__ import annotations

import json
import math
from typing import Any


class BadJSON(Exception):
    """The body is not a JSON document we accept; the message says why."""


def _no_constants(name: str) -> Any:
    raise BadJSON(f"JSON constant {name} is not allowed")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadJSON(f"JSON object repeats the key {key!r}")
            seen.add(key)
    return result


def _finite_float(text: str) -> float:
    # 1e999 is valid JSON that overflows to inf: it would be stored, and written back out, as Infinity.
    value = float(text)
    if math.isinf(value):
        raise BadJSON("JSON number is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_pairs,
                            parse_float=_finite_float)


def _depth(value: Any, limit: int, check_strings: bool) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise BadJSON(f"JSON is nested deeper than {limit} levels")
        if isinstance(item, dict):
            if check_strings:
                _no_surrogates(item.keys())
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if check_strings:
            _no_surrogates(v for v in children if isinstance(v, str))
        stack.extend((v, depth + 1) for v in children if isinstance(v, dict | list))


def _no_surrogates(strings: Any) -> None:
    # A \ud800 escape decodes to a lone surrogate: not Unicode, and SQLite cannot store it (RFC 8259 §8.2).
    for text in strings:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadJSON("JSON string holds a lone surrogate escape") from None


def loads_object(body: bytes, max_depth: int = 64) -> dict[str, Any]:
    """Parse an untrusted body into a dict, or raise BadJSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJSON("body is not valid UTF-8") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise BadJSON(f"JSON is nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise BadJSON(f"body is not JSON ({exc.msg} at {exc.pos})") from None
    except ValueError:  # an integer past Python's int_max_str_digits (4300 digits): was a 500
        raise BadJSON("JSON number has too many digits") from None
    if not isinstance(value, dict):
        raise BadJSON("body must be a JSON object")
    check_strings = "\\u" in text
    # Nesting needs an opening bracket per level: few brackets in all, no walk needed (the hot path).
    if check_strings or text.count("{") + text.count("[") > max_depth:
        _depth(value, max_depth, check_strings)
    return value
