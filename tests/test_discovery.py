"""WebFinger, NodeInfo, host-meta, actor documents and collections, as other servers read them."""

from __future__ import annotations

import json

import pytest

from tests.fediverse import run_cli

AS = {"Accept": "application/activity+json"}
LD = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}


async def _get(session, url, headers=None):
    async with session.get(url, headers=headers or {}, allow_redirects=False) as r:
        return r.status, r.headers, await r.read()


async def test_webfinger__group_and_member(node, session):
    assert await run_cli("member", "add", "alice", "--data", str(node.config.data_dir)) == 0
    for handle in ("group", "alice", "ALICE"):
        status, headers, body = await _get(
            session, f"{node.base}/.well-known/webfinger?resource=acct:{handle}@{node.config.host}")
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Content-Type"].startswith("application/jrd+json")
        jrd = json.loads(body)
        self_link = next(link for link in jrd["links"] if link["rel"] == "self")
        assert self_link == {"rel": "self", "type": "application/activity+json",
                             "href": f"{node.base}/actors/{handle.lower()}"}


async def test_webfinger__by_actor_url(node, session):
    status, _, _ = await _get(session, f"{node.base}/.well-known/webfinger?resource={node.group_id}")
    assert status == 200


@pytest.mark.parametrize("query, expected", [
    ("", 400), ("?resource=", 400), ("?resource=acct:group", 400), ("?resource=mailto:x@y", 400),
    ("?resource=acct:nobody@{host}", 404), ("?resource=acct:group@elsewhere.example", 404),
    ("?resource=https://elsewhere.example/actors/group", 404),
])
async def test_webfinger__bad_or_unknown_resource(node, session, query, expected):
    status, headers, _ = await _get(session, f"{node.base}/.well-known/webfinger" +
                                    query.format(host=node.config.host))
    assert status == expected
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_nodeinfo__links_and_document(node, session):
    assert await run_cli("member", "add", "alice", "--data", str(node.config.data_dir)) == 0
    status, _, body = await _get(session, f"{node.base}/.well-known/nodeinfo")
    links = json.loads(body)["links"]
    assert links[0]["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    status, headers, body = await _get(session, links[0]["href"])
    info = json.loads(body)
    assert status == 200 and info["version"] == "2.1"
    assert info["software"]["name"] == "congregation" and info["protocols"] == ["activitypub"]
    assert info["usage"]["users"]["total"] == 1
    assert info["openRegistrations"] is False


async def test_host_meta__points_at_webfinger(node, session):
    status, headers, body = await _get(session, f"{node.base}/.well-known/host-meta")
    assert status == 200 and b"/.well-known/webfinger?resource={uri}" in body


@pytest.mark.parametrize("accept", [AS, LD])
async def test_actor__group_document_at_its_id(node, session, accept):
    status, headers, body = await _get(session, node.group_id, accept)
    assert status == 200 and headers["Content-Type"].startswith("application/activity+json")
    actor = json.loads(body)
    assert actor["id"] == node.group_id and actor["type"] == "Group"
    for field in ("inbox", "outbox", "followers", "following", "publicKey", "preferredUsername", "name", "url"):
        assert field in actor
    assert actor["endpoints"]["sharedInbox"] == f"{node.base}/inbox"
    assert actor["manuallyApprovesFollowers"] is True
    assert actor["publicKey"]["owner"] == node.group_id
    assert "BEGIN PUBLIC KEY" in actor["publicKey"]["publicKeyPem"]


async def test_actor__browser_gets_html(node, session):
    status, headers, body = await _get(session, node.group_id, {"Accept": "text/html,application/xhtml+xml"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"Alpha" in body and b"@group@" in body


async def test_actor__person_document(node, session):
    assert await run_cli("member", "add", "bob", "--name", "Bob <b>", "--data", str(node.config.data_dir)) == 0
    status, _, body = await _get(session, f"{node.base}/actors/bob", AS)
    person = json.loads(body)
    assert status == 200 and person["type"] == "Person" and person["manuallyApprovesFollowers"] is False
    status, _, html = await _get(session, f"{node.base}/actors/bob")
    assert b"Bob &lt;b&gt;" in html and b"Bob <b>" not in html


async def test_actor__unknown_is_404(node, session):
    status, _, _ = await _get(session, f"{node.base}/actors/nobody", AS)
    assert status == 404


async def test_collections__paged(make_node, make_remote, session):
    node = await make_node(public_follows="auto", page_size=2)
    remotes = [await make_remote(f"r{i}") for i in range(3)]
    for remote in remotes:  # one at a time: the worker takes different actors side by side, in no set order
        await remote.post(session, node.base + "/inbox", remote.activity("Follow", node.group_id))
        await node.drain_inbox()
    status, _, body = await _get(session, node.group_id + "/followers", AS)
    collection = json.loads(body)
    assert collection["type"] == "OrderedCollection" and collection["totalItems"] == 3
    seen, url = [], collection["first"]
    while url:
        _, _, body = await _get(session, url, AS)
        page = json.loads(body)
        assert page["type"] == "OrderedCollectionPage" and page["partOf"] == node.group_id + "/followers"
        seen += page["orderedItems"]
        url = page.get("next")
    assert seen == [r.id for r in remotes]
    status, _, body = await _get(session, node.group_id + "/outbox", AS)
    assert json.loads(body)["type"] == "OrderedCollection"
    status, _, _ = await _get(session, node.group_id + "/followers?page=abc", AS)
    assert status == 400
