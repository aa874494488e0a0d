"""RFC 9421 signatures: round trips, RFC Appendix B vectors, and one test per refusal."""

import base64
import hashlib
from datetime import UTC, datetime
from types import SimpleNamespace

import http_sf
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms
from multidict import CIMultiDict, CIMultiDictProxy

from node.activitypub import rfc9421
from node.activitypub.signatures import SignatureError, load_public_key

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
KEY_ID = "https://peer.example/actor#main-key"
URL = "https://node.example/inbox"
HOST = "node.example"
NOW = 1_700_000_000
BODY = b'{"type": "Follow"}'

# RFC 9421 Appendix B.1.2, B.1.4 test keys and the B.2 test-request.
RFC_RSA_PSS_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""
RFC_ED25519_PUBLIC = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_CREATED = 1618884473
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
                      "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
}
B23_INPUT = ('sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
             '"content-length");created=1618884473;keyid="test-key-rsa-pss"')
B23_SIGNATURE = (
    "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2vo"
    "Tp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIko"
    "QoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX"
    "2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:"
)
B26_INPUT = ('sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
             ';created=1618884473;keyid="test-key-ed25519"')
B26_SIGNATURE = ("sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
                 "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:")


def _headers(**extra: str) -> CIMultiDict:
    return CIMultiDict({"Host": HOST, "Content-Type": "application/activity+json", **extra})


def _signed(key=RSA_KEY, body: bytes | None = BODY, now: float = NOW, method: str = "POST") -> CIMultiDict:
    headers = _headers()
    headers.update(rfc9421.sign(method, URL, KEY_ID, key, body=body, now=now))
    return headers


def _custom(covered: list[str], key=RSA_KEY, body: bytes | None = BODY, extra: dict | None = None,
            **params) -> CIMultiDict:
    """Sign arbitrary components and parameters, to build requests `sign` would never make."""
    headers = _headers(**(extra or {}))
    if body is not None:
        headers["Content-Digest"] = rfc9421.content_digest(body)
    params = {"created": NOW, "keyid": KEY_ID, **params}
    headers["Signature-Input"] = http_sf.ser({"sig1": ([(name, {}) for name in covered], params)})
    raw = headers["Signature-Input"].partition("=")[2]
    base = rfc9421.signature_base("POST", URL, headers, tuple(covered), raw)
    if params.get("alg") == "rsa-pss-sha512":
        signature = key.sign(base, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512())
    else:
        signature = key.sign(base) if isinstance(key, ed25519.Ed25519PrivateKey) else \
            key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    headers["Signature"] = http_sf.ser({"sig1": (signature, {})})
    return headers


def _extract(headers, body: bytes | None = BODY, method: str = "POST", now: float = NOW, url: str = URL,
             host: str = HOST):
    return rfc9421.extract(method, url, CIMultiDictProxy(headers), body, host, now=now)


def _refused(headers, **kwargs) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        _extract(headers, **kwargs)
    return caught.value


FULL = ["@method", "@target-uri", "@authority", "content-digest"]


def test_rfc9421__rsa_round_trip():
    pending = _extract(_signed())
    assert (pending.key_id, pending.scheme, pending.created) == (KEY_ID, "rfc9421", float(NOW))
    assert pending.verify(RSA_KEY.public_key())


def test_rfc9421__ed25519_round_trip():
    headers = _signed(ED_KEY)
    assert 'alg="ed25519"' in headers["Signature-Input"]
    assert _extract(headers).verify(ED_KEY.public_key())


def test_rfc9421__get_round_trip_needs_no_digest():
    headers = _signed(body=None, method="GET")
    assert "Content-Digest" not in headers
    assert _extract(headers, body=None, method="GET").verify(RSA_KEY.public_key())


def test_rfc9421__sign_output_shape():
    headers = rfc9421.sign("post", URL, KEY_ID, RSA_KEY, body=BODY, now=NOW, label="fedi")
    assert headers["Signature-Input"] == (
        f'fedi=("@method" "@target-uri" "@authority" "content-digest");created={NOW}'
        f';keyid="{KEY_ID}";alg="rsa-v1_5-sha256"')
    assert headers["Signature"].startswith("fedi=:") and headers["Content-Digest"].startswith("sha-256=:")


def test_rfc9421__rsa_pss_sha512_alg():
    headers = _custom(FULL, alg="rsa-pss-sha512")
    assert _extract(headers).verify(RSA_KEY.public_key())


def test_rfc9421__sha512_content_digest():
    digest = "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":"
    rfc9421.check_content_digest(digest, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        rfc9421.check_content_digest(digest, BODY + b" ")


def test_rfc9421__plain_dict_headers():
    headers = dict(_signed())
    assert rfc9421.extract("POST", URL, headers, BODY, HOST, now=NOW).verify(RSA_KEY.public_key())


def test_rfc9421__vector_b26_ed25519():
    headers = CIMultiDict(RFC_HEADERS, **{"Signature-Input": B26_INPUT, "Signature": B26_SIGNATURE})
    sig = rfc9421.parse(headers)
    base = rfc9421.signature_base("POST", RFC_URL, headers, sig.covered, sig.raw_params)
    assert base.decode() == "\n".join([
        '"date": Tue, 20 Apr 2021 02:07:55 GMT', '"@method": POST', '"@path": /foo',
        '"@authority": example.com', '"content-type": application/json', '"content-length": 18',
        '"@signature-params": ' + B26_INPUT.partition("=")[2]])
    assert rfc9421.verify_signature(None, load_public_key(RFC_ED25519_PUBLIC), sig.signature, base)


def test_rfc9421__vector_b26_refused_by_policy_for_uncovered_digest():
    headers = CIMultiDict(RFC_HEADERS, **{"Signature-Input": B26_INPUT, "Signature": B26_SIGNATURE})
    error = _refused(headers, body=RFC_BODY, now=RFC_CREATED, url=RFC_URL, host="example.com")
    assert "content-digest" in error.reason


def test_rfc9421__vector_b23_rsa_pss_full_coverage():
    headers = CIMultiDict(RFC_HEADERS, **{"Signature-Input": B23_INPUT, "Signature": B23_SIGNATURE})
    key = load_public_key(RFC_RSA_PSS_PUBLIC)
    pending = _extract(headers, body=RFC_BODY, now=RFC_CREATED, url=RFC_URL, host="example.com")
    assert not pending.verify(key)  # no alg parameter: an RSA key means rsa-v1_5-sha256
    sig = rfc9421.parse(headers)
    base = rfc9421.signature_base("POST", RFC_URL, headers, sig.covered, sig.raw_params)
    assert b'"@query": ?param=Value&Pet=dog\n' in base
    assert rfc9421.verify_signature("rsa-pss-sha512", key, sig.signature, base)


def test_rfc9421__raw_signature_params_kept_as_received():
    headers = _custom(FULL)
    headers["Signature-Input"] = headers["Signature-Input"].replace(" ", "  ")  # legal, but not canonical
    assert not _extract(headers).verify(RSA_KEY.public_key())  # the base used the received text


def test_rfc9421__picks_label_present_in_both_headers():
    headers = _signed()
    headers["Signature-Input"] = 'other=("@method");created=1;keyid="x", ' + headers["Signature-Input"]
    assert _extract(headers).verify(RSA_KEY.public_key())


def test_rfc9421__missing_headers():
    headers = _signed()
    del headers["Signature"]
    assert _refused(headers).status == 401
    assert _refused(_headers()).status == 401


def test_rfc9421__unparseable():
    headers = _signed()
    headers["Signature-Input"] = "sig1=(@method"
    assert _refused(headers).status == 400


def test_rfc9421__body_changed_after_signing():
    error = _refused(_signed(), body=BODY + b" ")
    assert (error.reason, error.status) == ("Content-Digest does not match the body", 401)


def test_rfc9421__content_digest_not_covered_on_post():
    assert "content-digest" in _refused(_custom(["@method", "@target-uri", "@authority"])).reason


def test_rfc9421__authority_not_covered():
    assert "@authority" in _refused(_custom(["@method", "@path", "content-digest"])).reason


def test_rfc9421__method_not_covered():
    assert "@method" in _refused(_custom(["@target-uri", "content-digest"])).reason


def test_rfc9421__wrong_host():
    assert "another host" in _refused(_signed(), host="other.example").reason


def test_rfc9421__created_two_hours_old_rejected():
    assert "created" in _refused(_signed(now=NOW - 7200)).reason


def test_rfc9421__created_two_hours_ahead_rejected():
    assert "created" in _refused(_signed(now=NOW + 7200)).reason


def test_rfc9421__created_thirty_minutes_old_accepted():
    assert _extract(_signed(now=NOW - 1800)).verify(RSA_KEY.public_key())


def test_rfc9421__created_missing():
    headers = _custom(FULL)
    headers["Signature-Input"] = headers["Signature-Input"].replace(f";created={NOW}", "")
    assert "created" in _refused(headers).reason


def test_rfc9421__expired():
    assert "expired" in _refused(_custom(FULL, expires=NOW - 1)).reason
    assert _extract(_custom(FULL, expires=NOW + 60)).verify(RSA_KEY.public_key())


def test_rfc9421__unknown_alg():
    assert "hmac-sha256" in _refused(_custom(FULL, alg="hmac-sha256")).reason


def test_rfc9421__unknown_derived_component():
    headers = _custom(FULL)
    headers["Signature-Input"] = headers["Signature-Input"].replace('"@method"', '"@method" "@status"')
    assert "@status" in _refused(headers).reason


def test_rfc9421__date_outside_window():
    headers = _custom([*FULL, "date"], extra={"Date": "Tue, 20 Apr 2021 02:07:55 GMT"})
    assert "Date" in _refused(headers).reason


def test_rfc9421__tampered_signature():
    headers = _signed()
    signature = bytearray(http_sf.parse(headers["Signature"].encode(), tltype="dictionary")["sig1"][0])
    signature[0] ^= 1
    headers["Signature"] = http_sf.ser({"sig1": (bytes(signature), {})})
    assert _extract(headers).verify(RSA_KEY.public_key()) is False


def test_rfc9421__signature_by_another_key():
    pending = _extract(_signed())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert pending.verify(other.public_key()) is False
    assert pending.verify(ED_KEY.public_key()) is False


def test_rfc9421__interop_with_http_message_signatures_library():
    resolver = MappingKeyResolver(public_keys={KEY_ID: ED_KEY.public_key()}, private_keys={KEY_ID: ED_KEY})
    theirs = SimpleNamespace(method="POST", url=URL, headers=_headers())
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=resolver).sign(
        theirs, key_id=KEY_ID, created=datetime.fromtimestamp(NOW, UTC), label="sig1", body=BODY)
    assert _extract(theirs.headers).verify(ED_KEY.public_key())
    ours = SimpleNamespace(method="POST", url=URL, headers=_signed(ED_KEY))
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    assert verifier.verify(ours, max_age=None, body=BODY)
