"""RFC 9421 HTTP Message Signatures on `cryptography` and `http_sf`; draft-cavage lives in signatures.py.

Inbound: `extract` checks a Signature-Input's coverage, times and Content-Digest and returns a
PendingSignature. Outbound: `sign` covers @method @target-uri @authority (+ content-digest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from .signatures import PendingSignature, PublicKey, SignatureError, check_date

ALGORITHMS = ("rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519")
DERIVED = ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query")
_TARGETS = {"@target-uri", "@path", "@request-target"}
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
# RFC 9110 §5.6.2 token; RFC 9421 §2.1 wants field names lowercased in component identifiers.
_FIELD_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+\Z")
# RFC 9421 §3.3.1: MGF1 with SHA-512 and a 64-byte salt.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)


@dataclass(frozen=True)
class SignatureInput:
    """One signature as received: its label, covered components, parameters, raw params text, bytes."""

    label: str
    covered: tuple[str, ...]
    params: dict[str, Any]
    raw_params: str
    signature: bytes


def extract(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
            expected_host: str, now: float | None = None, skew: int = 3600) -> PendingSignature:
    """Check an RFC 9421 signature's coverage, times and Content-Digest; return what is left to verify."""
    now = time.time() if now is None else now
    sig = parse(headers)
    key_id, alg, created = _check_params(sig.params, now, skew)
    _check_coverage(sig.covered, url, headers, expected_host)
    if body or method.upper() not in ("GET", "HEAD"):
        if "content-digest" not in sig.covered:
            raise SignatureError("the signature does not cover content-digest")
        check_content_digest(_field(headers, "content-digest"), body or b"")
    if "date" in sig.covered:
        check_date(_field(headers, "date"), now, skew)
    base = signature_base(method, url, headers, sig.covered, sig.raw_params)
    signature = sig.signature
    return PendingSignature(key_id=key_id, scheme="rfc9421", created=float(created),
                            verify=lambda key: verify_signature(alg, key, signature, base))


def sign(method: str, url: str, key_id: str, private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
         body: bytes | None = None, now: float | None = None, label: str = "sig1") -> dict[str, str]:
    """Signature-Input, Signature (and Content-Digest with a body) headers for an RFC 9421 request."""
    is_ed25519 = isinstance(private_key, ed25519.Ed25519PrivateKey)
    headers: dict[str, str] = {}
    covered = ["@method", "@target-uri", "@authority"]
    if body is not None:
        headers["Content-Digest"] = content_digest(body)
        covered.append("content-digest")
    params = {"created": int(time.time() if now is None else now), "keyid": key_id,
              "alg": "ed25519" if is_ed25519 else "rsa-v1_5-sha256"}
    headers["Signature-Input"] = http_sf.ser({label: ([(name, {}) for name in covered], params)})
    raw_params = headers["Signature-Input"].partition("=")[2]
    # aiohttp sends the method upper-cased, and @method is case-sensitive (RFC 9421 §2.2.1).
    base = signature_base(method.upper(), url, headers, tuple(covered), raw_params)
    signature = (private_key.sign(base) if is_ed25519
                 else private_key.sign(base, padding.PKCS1v15(), hashes.SHA256()))
    headers["Signature"] = http_sf.ser({label: (signature, {})})
    return headers


def content_digest(body: bytes) -> str:
    """The RFC 9530 Content-Digest value for a body, as sha-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def check_content_digest(header: str | None, body: bytes) -> None:
    """Every sha-256/sha-512 in Content-Digest must hash exactly this body, and one must be there."""
    if not header:
        raise SignatureError("a request with a body needs a Content-Digest header")
    digests = _parse_dictionary(header, "Content-Digest")
    known = [name for name in _DIGESTS if name in digests]
    if not known:
        raise SignatureError("Content-Digest names no supported algorithm (sha-256, sha-512)")
    for name in known:
        claimed = digests[name][0]
        if not isinstance(claimed, bytes):
            raise SignatureError("Content-Digest values must be byte sequences", 400)
        if not hmac.compare_digest(claimed, _DIGESTS[name](body).digest()):
            raise SignatureError("Content-Digest does not match the body")


def parse(headers: Mapping[str, str]) -> SignatureInput:
    """Read the first label present in both Signature-Input and Signature."""
    inputs_field, signatures_field = _field(headers, "signature-input"), _field(headers, "signature")
    if inputs_field is None or signatures_field is None:
        raise SignatureError("the request has no RFC 9421 Signature-Input and Signature")
    inputs = _parse_dictionary(inputs_field, "Signature-Input")
    signatures = _parse_dictionary(signatures_field, "Signature")
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise SignatureError("no label appears in both Signature-Input and Signature", 400)
    items, params = inputs[label]
    signature = signatures[label][0]
    if not isinstance(items, list):
        raise SignatureError("the Signature-Input member is not an inner list", 400)
    if not isinstance(signature, bytes):
        raise SignatureError("the Signature member is not a byte sequence", 400)
    covered = tuple(_component_name(item) for item in items)
    if len(set(covered)) != len(covered):
        raise SignatureError("the signature covers a component twice", 400)
    return SignatureInput(label, covered, params, _raw_members(inputs_field)[label], signature)


def signature_base(method: str, url: str, headers: Mapping[str, str], covered: tuple[str, ...],
                   raw_params: str) -> bytes:
    """The signature base of RFC 9421 §2.5: a `"name": value` line per component, then @signature-params."""
    derived = _derived(method, url)
    lines = [f'"{name}": {derived[name] if name in derived else _covered_field(headers, name)}'
             for name in covered]
    lines.append(f'"@signature-params": {raw_params}')
    base = "\n".join(lines)
    if not base.isascii():
        raise SignatureError("the signature base is not ASCII", 400)
    return base.encode()


def verify_signature(alg: str | None, key: PublicKey, signature: bytes, base: bytes) -> bool:
    """Whether `signature` over `base` holds for `key` under `alg`; False, never an exception, if not."""
    if alg is None:  # RFC 9421 §3.2: without alg, the key material decides.
        alg = "ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "rsa-v1_5-sha256"
    try:
        if alg == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, base)
        elif alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, base, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, base, _PSS, hashes.SHA512())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_params(params: dict[str, Any], now: float, skew: int) -> tuple[str, str | None, int]:
    """keyid, alg and created are present and usable; created is recent and expires is ahead."""
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("Signature-Input has no keyid", 400)
    alg = params.get("alg")
    if alg is not None and not isinstance(alg, str):
        raise SignatureError("the signature's alg is not a string", 400)
    if alg is not None and alg not in ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {alg}")
    created = _int_param(params, "created")
    if created is None:
        raise SignatureError("the signature has no created parameter")
    if abs(now - created) > skew:
        raise SignatureError(f"the signature's created time is outside the accepted window of {skew} s")
    expires = _int_param(params, "expires")
    if expires is not None and expires <= now:
        raise SignatureError("the signature has expired")
    return key_id, alg, created


def _check_coverage(covered: tuple[str, ...], url: str, headers: Mapping[str, str],
                    expected_host: str) -> None:
    """@method, the target and the authority must be covered, and the authority must be ours."""
    if "@method" not in covered:
        raise SignatureError("the signature does not cover @method")
    if not _TARGETS.intersection(covered):
        raise SignatureError("the signature covers none of @target-uri, @path, @request-target")
    parts = urlsplit(url)
    hosts = []
    if "@authority" in covered or "@target-uri" in covered:
        hosts.append(_authority(parts.netloc, parts.scheme))
    if "host" in covered:
        hosts.append(_authority(_field(headers, "host") or "", parts.scheme))
    if not hosts:
        raise SignatureError("the signature covers none of @authority, host, @target-uri")
    if any(host != _authority(expected_host, parts.scheme) for host in hosts):
        raise SignatureError("the request is for another host")


def _component_name(item: tuple[Any, dict[str, Any]]) -> str:
    """A covered component we can compute: a derived one we know, or a plain lowercase field name."""
    name, params = item
    if not isinstance(name, str):
        raise SignatureError("component identifiers must be strings", 400)
    if params:  # sf, key, bs, req, name, tr (RFC 9421 §2.1) change the value; we compute none of them.
        raise SignatureError(f"component parameters are not supported ({name})")
    if name.startswith("@"):
        if name not in DERIVED:
            raise SignatureError(f"unsupported derived component {name}")
    elif not _FIELD_NAME.match(name):
        raise SignatureError(f"{name!r} is not a lowercase field name", 400)
    return name


def _derived(method: str, url: str) -> dict[str, str]:
    """The derived components of RFC 9421 §2.2 for this request."""
    parts = urlsplit(url)
    path = parts.path or "/"  # §2.2.6: an empty path is "/"
    query = "?" + parts.query  # §2.2.7: an absent query is "?"
    return {"@method": method, "@target-uri": url, "@authority": _authority(parts.netloc, parts.scheme),
            "@scheme": parts.scheme.lower(), "@path": path, "@query": query,
            "@request-target": path + query if parts.query else path}


def _covered_field(headers: Mapping[str, str], name: str) -> str:
    """The value of a covered header field, which must be present."""
    value = _field(headers, name)
    if value is None:
        raise SignatureError(f"the signature covers {name} but the request has no such header")
    return value


def _authority(netloc: str, scheme: str) -> str:
    """Host and port, lowercased, without the scheme's default port (RFC 9421 §2.2.3)."""
    netloc = netloc.strip().lower()
    default = _DEFAULT_PORTS.get(scheme.lower())
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


def _field(headers: Mapping[str, str], name: str) -> str | None:
    """All lines of a header field, trimmed and joined with ", " (RFC 9421 §2.1); None if absent."""
    if hasattr(headers, "getall"):
        values = list(headers.getall(name, []))
    else:
        values = [value for key, value in headers.items() if key.lower() == name]
    return ", ".join(value.strip() for value in values) if values else None


def _int_param(params: dict[str, Any], name: str) -> int | None:
    """An integer signature parameter, or None if absent."""
    value = params.get(name)
    if value is not None and type(value) is not int:
        raise SignatureError(f"the signature's {name} is not an integer", 400)
    return value


def _parse_dictionary(value: str, what: str) -> dict[str, Any]:
    """Parse a structured-field dictionary (RFC 8941 §3.2), refusing repeated keys."""
    try:
        return http_sf.parse(value.encode(), tltype="dictionary", on_duplicate_key=_reject_duplicate)
    except (ValueError, UnicodeError) as exc:
        raise SignatureError(f"{what} is not a valid structured field: {exc}", 400) from None


def _reject_duplicate(key: str, context: str) -> None:
    """A repeated label or parameter would make the parsed and the raw member disagree."""
    raise ValueError(f"repeated {context} key {key}")


def _raw_members(field: str) -> dict[str, str]:
    """Each dictionary member's value text as received, so @signature-params is byte-exact (§3.2)."""
    members: dict[str, str] = {}
    start, depth, quoted, escaped = 0, 0, False, False
    for index, char in enumerate(field + ","):
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "," and depth == 0:
            label, _, value = field[start:index].strip(" \t").partition("=")
            members[label] = value
            start = index + 1
    return members
