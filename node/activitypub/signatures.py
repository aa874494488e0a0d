"""HTTP signatures, draft-cavage-12 as Mastodon speaks it, written on `cryptography`.

Outbound: rsa-sha256 over (request-target) host date [digest content-type].
Inbound: rsa-sha256 and hs2019 (with RSA keys), (created)/(expires) too. RFC 9421 lives in rfc9421.py;
both return a PendingSignature, which the inbox verifies once it has the key.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class SignatureError(Exception):
    """The request's signature is missing, malformed or does not hold; the message says why."""

    def __init__(self, reason: str, status: int = 401):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class PendingSignature:
    """A signature whose headers have been checked; `verify` needs only the signer's public key."""

    key_id: str
    scheme: str
    verify: Callable[[PublicKey], bool]
    created: float | None = None


_PARAM_RE = re.compile(r'\s*([a-zA-Z]+)\s*=\s*(?:"([^"]*)"|([0-9.]+))\s*(?:,|$)')


def parse_signature_header(value: str) -> dict[str, str]:
    """Parse `keyId="…",algorithm="…",headers="…",signature="…"`; raise on anything else."""
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        match = _PARAM_RE.match(value, pos)
        if not match or match.end() == pos:
            raise SignatureError("Signature header is not a list of key=\"value\" pairs", 400)
        name = match.group(1).lower()
        if name in params:
            raise SignatureError(f"Signature header repeats {name}", 400)
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    for required in ("keyid", "signature"):
        if not params.get(required):
            raise SignatureError(f"Signature header has no {required}", 400)
    return params


def body_digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def check_digest(header: str | None, body: bytes) -> None:
    """The Digest header must name SHA-256 (or SHA-512) of exactly this body."""
    if not header:
        raise SignatureError("a request with a body needs a Digest header")
    for part in header.split(","):
        algorithm, _, value = part.strip().partition("=")
        algorithm = algorithm.strip().lower()
        if algorithm in ("sha-256", "sha-512"):
            func = hashlib.sha256 if algorithm == "sha-256" else hashlib.sha512
            try:
                claimed = base64.b64decode(value.strip(), validate=True)
            except ValueError:
                raise SignatureError("Digest value is not base64", 400) from None
            if claimed != func(body).digest():
                raise SignatureError("Digest does not match the body")
            return
    raise SignatureError("Digest names no supported algorithm (SHA-256, SHA-512)")


@lru_cache(maxsize=1024)
def _http_date(value: str) -> float | None:
    # Many requests share a Date (one-second resolution): parse each string once.
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def check_date(date_header: str | None, now: float, skew: int) -> float:
    if not date_header:
        raise SignatureError("the request has no Date header")
    when = _http_date(date_header)
    if when is None:
        raise SignatureError("the Date header is not an HTTP date", 400)
    if abs(now - when) > skew:
        raise SignatureError(f"the Date header is outside the accepted window of {skew} s")
    return when


@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> PublicKey:
    """Parse a PEM public key once; raises ValueError for keys we cannot use."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except UnsupportedAlgorithm as exc:  # an algorithm OID or curve that `cryptography` does not know
        raise ValueError(str(exc)) from None
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("unsupported key type")
    return key


def _rsa_verify(key: PublicKey, signature: bytes, message: bytes) -> bool:
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _verify_any(key: PublicKey, signature: bytes, message: bytes) -> bool:
    if isinstance(key, ed25519.Ed25519PublicKey):
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
    return _rsa_verify(key, signature, message)


def extract(method: str, path_qs: str, headers: Mapping[str, str], body: bytes | None,
            expected_host: str, now: float | None = None, skew: int = 3600) -> PendingSignature:
    """Check a draft-cavage Signature's coverage, Date and Digest; return what is left to verify."""
    now = time.time() if now is None else now
    raw = headers.get("Signature")
    if raw is None:
        auth = headers.get("Authorization", "")
        if auth[:10].lower() == "signature ":
            raw = auth[10:]
    if raw is None:
        raise SignatureError("the request is not signed")
    params = parse_signature_header(raw)
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ("rsa-sha256", "hs2019", "ed25519"):
        raise SignatureError(f"unsupported signature algorithm {algorithm}")
    covered = params.get("headers", "date").lower().split()
    created = _int_param(params, "created")
    expires = _int_param(params, "expires")
    if "(created)" in covered:
        if created is None:
            raise SignatureError("(created) is covered but the created parameter is missing", 400)
        if created > now + skew or created < now - skew:
            raise SignatureError("the signature's created time is outside the accepted window")
    if "(expires)" in covered and expires is None:
        raise SignatureError("(expires) is covered but the expires parameter is missing", 400)
    if expires is not None and expires < now:
        raise SignatureError("the signature has expired")
    if "date" in covered:
        check_date(headers.get("Date"), now, skew)
    elif "(created)" not in covered:
        raise SignatureError("the signature covers neither date nor (created)")
    if "host" not in covered:
        raise SignatureError("the signature does not cover host")
    if headers.get("Host", "").lower() != expected_host.lower():
        raise SignatureError("the request is for another host", 401)
    if method.upper() != "GET" and method.upper() != "HEAD":
        if "(request-target)" not in covered:
            raise SignatureError("the signature does not cover (request-target)")
        if "digest" not in covered:
            raise SignatureError("the signature does not cover digest")
        check_digest(headers.get("Digest"), body or b"")
    elif "(request-target)" not in covered:
        raise SignatureError("the signature does not cover (request-target)")
    message = signing_string(method, path_qs, headers, covered, created, expires)
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except ValueError:
        raise SignatureError("the signature is not base64", 400) from None
    check = _rsa_verify if algorithm == "rsa-sha256" else _verify_any
    return PendingSignature(
        key_id=params["keyid"],
        scheme="draft-cavage",
        verify=lambda key: check(key, signature, message),
        created=float(created) if created is not None else None,
    )


def signing_string(method: str, path_qs: str, headers: Mapping[str, str], covered: Sequence[str],
                   created: int | None = None, expires: int | None = None) -> bytes:
    """The draft-cavage string to sign: one `name: value` line per covered header or pseudo-header."""
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path_qs}")
        elif name == "(created)":
            lines.append(f"(created): {created}")
        elif name == "(expires)":
            lines.append(f"(expires): {expires}")
        else:
            values = _header_values(headers, name)
            if not values:
                raise SignatureError(f"the signature covers {name} but the request has no such header")
            lines.append(f"{name}: {', '.join(v.strip() for v in values)}")
    try:
        return "\n".join(lines).encode()
    except UnicodeEncodeError:  # a covered header's bytes are not UTF-8 (aiohttp hands them over escaped): was a 500
        raise SignatureError("a covered header is not UTF-8", 400) from None


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    if hasattr(headers, "getall"):
        return list(headers.getall(name, []))
    return [value for key, value in headers.items() if key.lower() == name]


def _int_param(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return int(float(params[name]))
    except (ValueError, OverflowError):  # float("inf") parses; int() of it overflows
        raise SignatureError(f"the signature's {name} is not a number", 400) from None


def sign(method: str, url: str, key_id: str, private_key: rsa.RSAPrivateKey, body: bytes | None = None,
         content_type: str | None = None, now: float | None = None) -> dict[str, str]:
    """Headers for a draft-cavage rsa-sha256 signed request (Host, Date, Digest, Signature)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = {"Host": parts.netloc, "Date": formatdate(now if now is not None else time.time(), usegmt=True)}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = body_digest(body)
        covered.append("digest")
        if content_type:
            headers["Content-Type"] = content_type
            covered.append("content-type")
    message = signing_string(method, target, headers, covered)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(signature).decode()}"'
    )
    return headers


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@lru_cache(maxsize=256)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA private keys are used for signing")
    return key
