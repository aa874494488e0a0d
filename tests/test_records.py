"""The signed-record format (node/governance/records.py): RFC 8785 bytes, the salted commitment, the
eddsa-jcs-2022 proof over the header, and what a reader without the body can still check."""

from __future__ import annotations

import copy
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from node.governance import records
from tests.fediverse import multikey

KEY = records.new_private_key()
VM = "https://c.example/actors/group#records-key"
BODY = {"title": "Remove bo", "counts": {"agree": 3, "block": 0}, "about": "https://c.example/actors/bo"}


def entry(visibility: str = "members", body=BODY, seq: int = 2, prev: str = "ab" * 32) -> dict:
    return records.make_entry(seq, prev, visibility, body, records.new_salt(), KEY, VM)


def key():
    return records.public_key(records.multikey(KEY))


def test_jcs__rfc8785_key_order_and_numbers():
    # RFC 8785 §3.2.3 sorts by UTF-16 code units (so "\u20ac" before "\ud83d\ude00"), and §3.2.2.3 writes
    # numbers as ECMAScript does.
    assert records.jcs({"\u20ac": 1, "\r": 2, "1": 3, "\U0001f600": 4, "\u0080": 5}) == \
        '{"\\r":2,"1":3,"\u0080":5,"\u20ac":1,"\U0001f600":4}'.encode()
    assert records.jcs([1e30, 4.5, 0.000001, -0.0]) == b"[1e+30,4.5,0.000001,0]"


def test_commitment__is_salted_sha256_of_the_canonical_body():
    salt = "00" * 16
    assert records.commitment(salt, {"b": 1, "a": "é"}) == \
        hashlib.sha256(bytes(16) + '{"a":"é","b":1}'.encode()).hexdigest()
    assert records.commitment("01" * 16, {"b": 1}) != records.commitment(salt, {"b": 1})


def test_multikey__matches_the_fep521a_encoding_used_elsewhere():
    pem = serialization.load_pem_private_key(KEY.encode(), password=None)
    assert isinstance(pem, ed25519.Ed25519PrivateKey)
    assert records.multikey(KEY) == multikey(pem.public_key())


@pytest.mark.parametrize("visibility", records.VISIBILITIES)
def test_verify__a_fresh_entry_of_every_visibility_checks(visibility):
    made = entry(visibility)
    checked = records.verify(made, key())
    assert checked.body_checked and checked.hash == records.header_hash(made["header"])
    assert made["proof"]["cryptosuite"] == "eddsa-jcs-2022" and made["proof"]["verificationMethod"] == VM


def test_verify__header_only_still_checks_the_proof():
    shown = records.published(entry("members"), show_body=False)
    assert set(shown) == {"header", "proof"}
    assert records.verify(shown, key()).body_checked is False


def test_published__public_entries_keep_their_body():
    made = entry("public")
    assert records.published(made, show_body=False) == made


@pytest.mark.parametrize("change", [
    lambda e: e["body"].update(title="Remove ada"),
    lambda e: e["body"]["counts"].update(block=1),
    lambda e: e.update(salt="00" * 16),
    lambda e: e.update(body=None),
])
def test_verify__altering_a_body_is_caught_through_its_commitment(change):
    made = entry()
    change(made)
    with pytest.raises(records.RecordError, match="altered"):
        records.verify(made, key())


@pytest.mark.parametrize("field,value", [("seq", 3), ("prev", "cd" * 32), ("visibility", "public"),
                                         ("commitment", "00" * 32)])
def test_verify__altering_the_header_breaks_the_proof(field, value):
    made = entry()
    made["header"][field] = value
    with pytest.raises(records.RecordError, match="proof"):
        records.verify(made, key())


def test_verify__another_key_is_refused():
    other = records.public_key(records.multikey(records.new_private_key()))
    with pytest.raises(records.RecordError, match="signature"):
        records.verify(entry(), other)


def test_verify__malformed_entries_are_refused_not_crashed():
    for broken in ({}, {"header": {}, "proof": {}}, {**entry(), "proof": {**entry()["proof"], "proofValue": "z0OIl"}}):
        with pytest.raises(records.RecordError):
            records.verify(copy.deepcopy(broken), key())


def test_make_entry__unknown_visibility_is_refused():
    with pytest.raises(records.RecordError, match="visibility"):
        entry("everyone")
