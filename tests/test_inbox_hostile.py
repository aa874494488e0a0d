"""Hostile inbox traffic: every refusal has its status, and a refused request stores and changes nothing.

The checks run in the order of FEDERATION-NOTES: size, content type, signature headers, Date, Digest, key,
signature, key owner = actor, JSON, origins, dedup. A request refused before the key fetch must not even make
the node ask the sender for its key; one refused later may leave the signer's actor and key cached (the node
fetched them from the signer's own origin to check the signature), and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from node.activitypub import rfc9421, signatures
from node.store import local_actors
from tests.fediverse import AS_JSON, FakeActor, InProcessNode

# --- helpers -------------------------------------------------------------------------------------------------


async def state(node: InProcessNode) -> dict[str, list]:
    """Every row of every table, the key cache included."""
    return await node.snapshot()


def without_cache_of(snapshot: dict[str, list], actor: FakeActor) -> dict[str, list]:
    """The snapshot minus the actor's cached document and keys."""
    return {**snapshot,
            "remote_actors": [row for row in snapshot["remote_actors"] if row[0] != actor.id],
            "remote_keys": [row for row in snapshot["remote_keys"] if row[1] != actor.id]}


@contextlib.asynccontextmanager
async def unchanged(node: InProcessNode, key_cached_for: FakeActor | None = None) -> AsyncIterator[None]:
    """Nothing the node stores changes inside the block, except the cache of `key_cached_for`'s key."""
    before = await state(node)
    yield
    after = await state(node)
    if key_cached_for is None:
        assert after == before
    else:
        assert without_cache_of(after, key_cached_for) == without_cache_of(before, key_cached_for)


def cavage(actor: FakeActor, url: str, body: bytes | None, covered: str, *, method: str = "POST",
           algorithm: str = "rsa-sha256", date: float | None = None, send_date: bool = True,
           created: int | None = None, expires: int | None = None, digest_of: bytes | None = None,
           key_id: str | None = None) -> dict[str, str]:
    """draft-cavage headers signing exactly `covered` (space-separated): requests a careful peer never sends."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc, "Content-Type": AS_JSON}
    if send_date:
        headers["Date"] = formatdate(time.time() if date is None else date, usegmt=True)
    if body is not None:
        headers["Digest"] = signatures.body_digest(body if digest_of is None else digest_of)
    message = signatures.signing_string(method, parts.path, headers, covered.split(), created, expires)
    signature = base64.b64encode(actor.key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    params = [f'keyId="{key_id or actor.key_id}"', f'algorithm="{algorithm}"', f'headers="{covered}"']
    params += [f"{name}={value}" for name, value in (("created", created), ("expires", expires)) if value is not None]
    headers["Signature"] = ",".join([*params, f'signature="{signature}"'])
    return headers


def rfc9421_headers(url: str, key_id: str, key: Any, body: bytes) -> dict[str, str]:
    return {"Content-Type": AS_JSON, **rfc9421.sign("POST", url, key_id, key, body)}


def encode(activity: dict[str, Any]) -> bytes:
    return json.dumps(activity).encode()


def inbox(node: InProcessNode) -> str:
    return node.base + "/inbox"


# --- refused before the key is fetched -----------------------------------------------------------------------


async def test_inbox__unsigned_post_refused(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers={"Content-Type": AS_JSON})
    assert status == 401
    assert remote.fetched == []


COVERED = 'headers="(request-target) host date digest"'


@pytest.mark.parametrize("signature", [
    pytest.param("keyId={key_id} and then some", id="not-key-value-pairs"),
    pytest.param(f'keyId="{{key_id}}",{COVERED}', id="no-signature"),
    pytest.param(f'{COVERED},signature="AAAA"', id="no-key-id"),
    pytest.param(f'keyId="{{key_id}}",keyId="{{key_id}}",{COVERED},signature="AAAA"', id="repeated-parameter"),
    pytest.param(f'keyId="{{key_id}}",{COVERED},signature="not base64!"', id="signature-not-base64"),
    pytest.param('keyId="{key_id}",headers="(request-target) host (created) digest",created="inf",signature="AAAA"',
                 id="created-infinite"),
    pytest.param('keyId="{key_id}",headers="(request-target) host (created) digest",created=' + "9" * 400
                 + ',signature="AAAA"', id="created-overflows"),
    pytest.param('keyId="{key_id}",headers="(request-target) host (created) digest",signature="AAAA"',
                 id="created-covered-but-missing"),
])
async def test_inbox__unparseable_signature_header_refused(node, remote, session, signature):
    body = encode(remote.activity("Follow", node.group_id))
    headers = {**remote.signed_headers("POST", inbox(node), body), "Signature": signature.format(key_id=remote.key_id)}
    async with unchanged(node):
        status, text = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 400, text
    assert remote.fetched == []


@pytest.mark.parametrize("covered", [
    pytest.param("(request-target) host date", id="without-digest"),
    pytest.param("(request-target) host digest", id="without-date-or-created"),
    pytest.param("host date digest", id="without-request-target"),
    pytest.param("(request-target) date digest", id="without-host"),
])
async def test_inbox__signature_not_covering_a_required_header_refused(node, remote, session, covered):
    body = encode(remote.activity("Follow", node.group_id))
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers=cavage(remote, inbox(node), body, covered))
    assert status == 401
    assert remote.fetched == []


async def test_inbox__digest_not_matching_body_refused(node, remote, session):
    signed = encode(remote.activity("Follow", node.group_id))
    sent = encode(remote.activity("Follow", node.base + "/actors/someone-else"))
    headers = cavage(remote, inbox(node), sent, "(request-target) host date digest", digest_of=signed)
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), sent, headers=headers)
    assert status == 401
    assert remote.fetched == []


@pytest.mark.parametrize("offset", [pytest.param(-7200, id="2h-old"), pytest.param(7200, id="2h-ahead")])
async def test_inbox__date_outside_the_hour_refused(node, remote, session, offset):
    activity = remote.activity("Follow", node.group_id)
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), activity, now=time.time() + offset)
    assert status == 401
    assert remote.fetched == []


async def test_inbox__date_half_an_hour_old_accepted(node, remote, session):
    activity = remote.activity("Follow", node.group_id)
    status, _ = await remote.post(session, inbox(node), activity, now=time.time() - 1800)
    assert status == 202
    assert await node.count("inbox", "activity_id = ?", activity["id"]) == 1


async def test_inbox__signature_for_another_host_refused(node, remote, session):
    # Given a request signed for another server, replayed here with its original Host
    body = encode(remote.activity("Follow", node.group_id))
    headers = remote.signed_headers("POST", "http://other.example/inbox", body)
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 401
    assert remote.fetched == []


async def test_inbox__wrong_content_type_refused(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    headers = remote.signed_headers("POST", inbox(node), body)
    headers["Content-Type"] = "text/plain"
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 415
    assert remote.fetched == []


async def test_inbox__unknown_local_actor_is_404(node, remote, session):
    url = node.base + "/actors/nobody/inbox"
    async with unchanged(node):
        status, _ = await remote.post(session, url, remote.activity("Follow", node.base + "/actors/nobody"))
    assert status == 404
    assert remote.fetched == []


async def test_inbox__body_over_the_limit_refused(make_node, remote, session):
    node = await make_node(max_inbox_bytes=4096)
    activity = remote.activity("Create", {"id": remote.origin + "/notes/1", "type": "Note",
                                          "attributedTo": remote.id, "content": "x" * 8192})
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), activity)
    assert status == 413
    assert remote.fetched == []


async def test_inbox__chunked_body_over_the_limit_refused(make_node, remote, session):
    # Given no Content-Length to refuse up front: the node must stop reading at the limit
    node = await make_node(max_inbox_bytes=4096)
    body = encode(remote.activity("Create", {"id": remote.origin + "/notes/1", "type": "Note",
                                             "attributedTo": remote.id, "content": "x" * 65536}))

    async def chunks():
        for start in range(0, len(body), 1024):
            yield body[start:start + 1024]

    async with unchanged(node), session.post(inbox(node), data=chunks(),
                                             headers=remote.signed_headers("POST", inbox(node), body)) as response:
        assert response.status == 413
    assert remote.fetched == []


async def test_inbox__gzip_bomb_refused(node, remote, session):
    # Given 2 MiB of JSON that travels as a few kilobytes of gzip: the limit holds after decompression
    activity = remote.activity("Create", {"id": remote.origin + "/notes/1", "type": "Note",
                                          "attributedTo": remote.id, "content": " " * (2 * 1024 * 1024)})
    inflated = encode(activity)
    headers = {**remote.signed_headers("POST", inbox(node), inflated), "Content-Encoding": "gzip"}
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), gzip.compress(inflated), headers=headers)
    assert status == 413
    assert remote.fetched == []


async def test_inbox__expired_signature_refused(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    now = int(time.time())
    headers = cavage(remote, inbox(node), body, "(request-target) host (created) (expires) digest",
                     algorithm="hs2019", send_date=False, created=now - 600, expires=now - 300)
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 401
    assert remote.fetched == []


async def test_inbox__rfc9421_content_digest_mismatch_refused(node, remote, session):
    signed = encode(remote.activity("Follow", node.group_id))
    sent = encode(remote.activity("Follow", node.base + "/actors/someone-else"))
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), sent,
                                      headers=rfc9421_headers(inbox(node), remote.key_id, remote.key, signed))
    assert status == 401
    assert remote.fetched == []


async def test_inbox__rfc9421_without_content_digest_refused(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    headers = rfc9421_headers(inbox(node), remote.key_id, remote.key, body)
    headers.pop("Content-Digest")
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 401
    assert remote.fetched == []


# --- refused once the key is known ---------------------------------------------------------------------------


async def test_inbox__signature_for_another_path_refused(node, remote, session):
    # Given a request signed for the Group's inbox, replayed to the shared inbox
    body = encode(remote.activity("Follow", node.group_id))
    headers = remote.signed_headers("POST", node.group_id + "/inbox", body)
    async with unchanged(node, key_cached_for=remote):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 401


async def test_inbox__signature_for_another_host_relayed_with_our_host_refused(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    headers = remote.signed_headers("POST", "http://other.example/inbox", body)
    headers["Host"] = urlsplit(node.base).netloc
    async with unchanged(node, key_cached_for=remote):
        status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 401


async def test_inbox__actor_other_than_key_owner_refused(node, make_remote, session):
    # Given an impostor who signs, with its own key, a Follow that claims to come from the victim
    victim, impostor = await make_remote("victim"), await make_remote("impostor")
    activity = victim.activity("Follow", node.group_id)
    async with unchanged(node, key_cached_for=impostor):
        status, _ = await impostor.post(session, inbox(node), activity)
    assert status == 401
    assert victim.fetched == []


async def test_inbox__key_its_owner_does_not_list_refused(node, remote, session):
    # Given a standalone key document naming the actor as owner, while the actor lists only its main key
    key_id = remote.origin + "/keys/1"
    remote.documents[key_id] = (200, {"@context": "https://w3id.org/security/v1", "id": key_id,
                                      "type": "CryptographicKey", "owner": remote.id,
                                      "publicKeyPem": signatures.public_pem(remote.key)})
    body = encode(remote.activity("Follow", node.group_id))
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), body,
                                      headers=cavage(remote, inbox(node), body, "(request-target) host date digest",
                                                     key_id=key_id))
    assert status == 401
    assert remote.fetched == ["/keys/1", "/users/remote"]


async def test_inbox__key_listed_by_its_owner_accepted(node, remote, session):
    # The counterpart of the refusal above: the same standalone key, listed by the actor
    key_id = remote.origin + "/keys/1"
    key = {"id": key_id, "owner": remote.id, "publicKeyPem": signatures.public_pem(remote.key)}
    remote.documents[key_id] = (200, {"@context": "https://w3id.org/security/v1", "type": "CryptographicKey", **key})
    remote.documents[remote.id] = (200, {**remote.document(), "publicKey": [remote.document()["publicKey"], key]})
    body = encode(remote.activity("Follow", node.group_id))
    status, _ = await remote.post(session, inbox(node), body,
                                  headers=cavage(remote, inbox(node), body, "(request-target) host date digest",
                                                 key_id=key_id))
    assert status == 202


def _pem(der: bytes) -> str:
    return "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"


# SubjectPublicKeyInfo { AlgorithmIdentifier { 1.2.3.4 }, BIT STRING 01 }: well-formed, of no known algorithm.
UNKNOWN_ALGORITHM_PEM = _pem(bytes.fromhex("300b" "3005" "06032a0304" "0302" "0001"))


async def test_inbox__signer_key_of_an_unknown_algorithm_refused(node, remote, session):
    remote.documents[remote.id] = (200, {**remote.document(), "publicKey": {
        "id": remote.key_id, "owner": remote.id, "publicKeyPem": UNKNOWN_ALGORITHM_PEM}})
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), remote.activity("Follow", node.group_id))
    assert status == 401


async def test_inbox__signer_document_with_a_lone_surrogate_refused(node, remote, session):
    # Given an actor document whose name is "\ud800": JSON can spell it, SQLite cannot store it
    remote.documents[remote.id] = (200, {**remote.document(), "name": "\ud800"})
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), remote.activity("Follow", node.group_id))
    assert status == 401


async def test_inbox__delete_from_a_gone_actor_acknowledged_and_not_stored(node, remote, session):
    # Given an actor whose document (and so key) now answers 410, as after Mastodon deletes an account
    remote.documents[remote.id] = (410, {"error": "gone"})
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), remote.activity("Delete", remote.id))
    assert status == 202


async def test_inbox__follow_from_a_gone_actor_refused(node, remote, session):
    remote.documents[remote.id] = (410, {"error": "gone"})
    async with unchanged(node):
        status, _ = await remote.post(session, inbox(node), remote.activity("Follow", node.group_id))
    assert status == 401


async def test_inbox__activity_id_on_another_origin_refused(node, remote, session):
    activity = {**remote.activity("Follow", node.group_id), "id": "http://elsewhere.example/activities/1"}
    async with unchanged(node, key_cached_for=remote):
        status, _ = await remote.post(session, inbox(node), activity)
    assert status == 400


async def test_inbox__create_of_an_object_on_another_origin_refused(node, remote, session):
    note = {"id": "http://elsewhere.example/notes/1", "type": "Note", "attributedTo": remote.id, "content": "hi"}
    async with unchanged(node, key_cached_for=remote):
        status, _ = await remote.post(session, inbox(node), remote.activity("Create", note))
    assert status == 400


def _deep(levels: int) -> bytes:
    return b'{"type": "Follow", "object": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


@pytest.mark.parametrize("make_body", [
    pytest.param(lambda a: _deep(10_000), id="objects-10000-deep"),
    pytest.param(lambda a: b'{"type": "Follow", "object": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
                 id="arrays-10000-deep"),
    pytest.param(lambda a: _deep(100), id="deeper-than-max-json-depth"),
    pytest.param(lambda a: encode(a)[:-1] + b', "score": NaN}', id="nan"),
    pytest.param(lambda a: encode(a)[:-1] + b', "score": -Infinity}', id="infinity"),
    pytest.param(lambda a: encode(a)[:-1] + b', "actor": "http://elsewhere.example/users/x"}', id="duplicate-key"),
    pytest.param(lambda a: encode([a]), id="top-level-array"),
    pytest.param(lambda a: encode(a)[:-1] + b', "name": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(lambda a: encode({**a, "id": a["id"] + "\ud800"}), id="lone-surrogate-in-id"),
    pytest.param(lambda a: encode({**a, "type": "\udfffFollow"}), id="lone-surrogate-in-type"),
    pytest.param(lambda a: b"", id="empty"),
    pytest.param(lambda a: encode(a)[:-1], id="truncated"),
])
async def test_inbox__malformed_json_refused(node, remote, session, make_body):
    # Given a validly signed body that is not one plain JSON object
    body = make_body(remote.activity("Follow", node.group_id))
    async with unchanged(node, key_cached_for=remote):
        status, text = await remote.post(session, inbox(node), body)
    assert status == 400, text


# --- accepted ------------------------------------------------------------------------------------------------


async def test_inbox__replayed_activity_has_one_effect(make_node, remote, session):
    node = await make_node(public_follows="auto")
    follow = remote.activity("Follow", node.group_id)

    # When the same Follow arrives twice, and again after it was processed
    assert (await remote.post(session, inbox(node), follow))[0] == 202
    assert (await remote.post(session, inbox(node), follow))[0] == 202
    await node.drain_inbox()
    assert (await remote.post(session, node.group_id + "/inbox", follow))[0] == 202
    await node.drain_inbox()

    # Then it was stored once and followed once, and one Accept went out
    assert await node.count("inbox") == 1
    assert await node.count("follows", "follower = ? AND state = 'accepted'", remote.id) == 1
    assert await node.count("deliveries") == 1
    assert await node.run_deliveries() == 1
    assert [r["activity"]["type"] for r in remote.received] == ["Accept"]


async def test_inbox__hs2019_with_an_rsa_key_accepted(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    headers = cavage(remote, inbox(node), body, "(request-target) host date digest", algorithm="hs2019")
    status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 202


async def test_inbox__created_and_expires_without_date_accepted(node, remote, session):
    body = encode(remote.activity("Follow", node.group_id))
    now = int(time.time())
    headers = cavage(remote, inbox(node), body, "(request-target) host (created) (expires) digest",
                     algorithm="hs2019", send_date=False, created=now, expires=now + 300)
    status, _ = await remote.post(session, inbox(node), body, headers=headers)
    assert status == 202


async def test_inbox__rfc9421_rsa_signature_accepted(node, remote, session):
    activity = remote.activity("Follow", node.group_id)
    body = encode(activity)
    status, _ = await remote.post(session, inbox(node), body,
                                  headers=rfc9421_headers(inbox(node), remote.key_id, remote.key, body))
    assert status == 202
    assert await node.count("inbox", "activity_id = ? AND actor = ?", activity["id"], remote.id) == 1


async def test_inbox__rfc9421_ed25519_multikey_accepted(node, make_remote, session):
    # Given an actor that publishes an Ed25519 key as a FEP-521a Multikey in assertionMethod
    remote = await make_remote(ed25519_key=ed25519.Ed25519PrivateKey.generate())
    activity = remote.activity("Follow", node.group_id)
    body = encode(activity)
    headers = rfc9421_headers(node.group_id + "/inbox", remote.ed25519_key_id, remote.ed25519_key, body)
    status, _ = await remote.post(session, node.group_id + "/inbox", body, headers=headers)
    assert status == 202
    assert await node.count("inbox", "activity_id = ? AND actor = ?", activity["id"], remote.id) == 1
    assert await node.count("remote_keys", "key_id = ? AND owner = ? AND public_key_pem LIKE 'multibase:z%'",
                            remote.ed25519_key_id, remote.id) == 1


async def test_inbox__actor_cannot_plant_a_key_for_another_origin(node, make_remote, session):
    victim, attacker = await make_remote("victim"), await make_remote("attacker")
    # Given the attacker spent the node's one refetch of the victim's key on a bad signature
    forged = encode(attacker.activity("Follow", node.group_id))
    headers = cavage(attacker, inbox(node), forged, "(request-target) host date digest", key_id=victim.key_id)
    assert (await attacker.post(session, inbox(node), forged, headers=headers))[0] == 401
    # And its own document lists the victim's key id with the attacker's key
    planted = {"id": victim.key_id, "owner": attacker.id, "publicKeyPem": signatures.public_pem(attacker.key)}
    attacker.documents[attacker.id] = (200, {**attacker.document(),
                                             "publicKey": [attacker.document()["publicKey"], planted]})
    assert (await attacker.post(session, inbox(node), attacker.activity("Follow", node.group_id)))[0] == 202

    # When the victim then sends a Follow, signed with its own key
    status, _ = await victim.post(session, inbox(node), victim.activity("Follow", node.group_id))

    # Then the node still knows the victim's real key
    assert status == 202
    assert await node.count("remote_keys", "key_id = ? AND owner = ?", victim.key_id, victim.id) == 1


# --- signed fetches ------------------------------------------------------------------------------------------


async def test_get_actor__authorized_fetch_refuses_unsigned(make_node, session):
    node = await make_node(authorized_fetch=True)
    async with unchanged(node), session.get(node.group_id, headers={"Accept": AS_JSON}) as response:
        assert response.status == 401


async def test_get_actor__authorized_fetch_serves_signed(make_node, remote, session):
    node = await make_node(authorized_fetch=True)
    headers = {**remote.signed_headers("GET", node.group_id, None), "Accept": AS_JSON}
    async with session.get(node.group_id, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["id"] == node.group_id


async def test_get_actor__authorized_fetch_refuses_signature_for_another_path(make_node, remote, session):
    node = await make_node(authorized_fetch=True)
    headers = {**remote.signed_headers("GET", node.group_id + "/followers", None), "Accept": AS_JSON}
    async with session.get(node.group_id, headers=headers) as response:
        assert response.status == 401


async def test_get_actor__authorized_fetch_serves_a_get_signed_by_its_own_group(make_node, session):
    # A GET signed with the node's own key (as `congregation doctor` would send) is checked against the key in
    # the database: fetching it from itself with a signed GET would wait on its own key lookup.
    node = await make_node(authorized_fetch=True)
    group = await local_actors.group(node.db)
    key = signatures.load_private_key(group.private_key_pem)
    headers = {**signatures.sign("GET", node.group_id, node.group_id + "#main-key", key, None, None),
               "Accept": AS_JSON}
    async with asyncio.timeout(10), session.get(node.group_id, headers=headers) as response:
        assert response.status == 200
    forged = {**signatures.sign("GET", node.group_id, node.base + "/actors/nobody#main-key", key, None, None),
              "Accept": AS_JSON}
    async with asyncio.timeout(10), session.get(node.group_id, headers=forged) as response:
        assert response.status == 401


async def test_keys__one_fetch_for_many_concurrent_requests_with_an_unknown_key(node, remote, session):
    activities = [remote.activity("Like", node.group_id) for _ in range(20)]
    statuses = await asyncio.gather(*(remote.post(session, node.base + "/inbox", a) for a in activities))
    assert [s for s, _ in statuses] == [202] * 20
    assert remote.fetched.count("/users/remote") == 1
