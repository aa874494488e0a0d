"""Every document the node serves is JSON-LD that a processor (PyLD) reads whole: expanded with the contexts
it names (vendored in tests/jsonld/, the node's own fetched from it), no key is dropped or left as a blank-node
term (ActivityStreams maps every undefined term to `_:term`)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pyld import jsonld

from node.activitypub import signatures
from node.store import local_actors
from tests.fediverse import InProcessNode
from tests.webclient import Visitor

AS2 = {"Accept": "application/activity+json"}
VENDORED = {
    "https://www.w3.org/ns/activitystreams": "activitystreams.jsonld",
    "https://w3id.org/security/v1": "security-v1.jsonld",
}
HERE = Path(__file__).parent / "jsonld"


def document_loader(node_base: str):
    """A PyLD loader: the vendored contexts from disk, the node's own over real HTTP, nothing else."""
    def load(url: str, options: dict | None = None) -> dict[str, Any]:
        if url in VENDORED:
            document = json.loads((HERE / VENDORED[url]).read_text())
        elif url == f"{node_base}/ns":
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.headers["Content-Type"].startswith("application/ld+json")
                document = json.loads(response.read())
        else:
            raise jsonld.JsonLdError(f"the tests have no internet: {url}", "jsonld.LoadDocumentError",
                                     code="loading document failed")
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": document}
    return load


def problems(document: dict[str, Any], loader) -> list[str]:
    """What a JSON-LD processor loses of `document`: dropped keys, blank-node terms and types."""
    dropped: list[str] = []
    expanded = jsonld.expand(document, {"documentLoader": loader}, on_property_dropped=lambda k: dropped.append(k))
    found = [f"dropped: {key!r}" for key in dropped]

    def walk(value: Any, path: str) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if key.startswith("_:"):
                    found.append(f"{path}: {key[2:]!r} is a blank-node term")
                if key == "@type":
                    found.extend(f"{path}: type {t[2:]!r} is a blank-node term"
                                 for t in (inner if isinstance(inner, list) else [inner]) if t.startswith("_:"))
                elif key != "@value":  # a @json literal is kept as it is, keys and all
                    walk(inner, f"{path}.{key.rsplit('#', 1)[-1].rsplit('/', 1)[-1]}")

    walk(expanded, "$")
    return found


async def _get(session: aiohttp.ClientSession, url: str, **headers: str) -> dict[str, Any]:
    async with session.get(url, headers={**AS2, **headers}) as r:
        assert r.status in (200, 410), (url, r.status, await r.text())
        assert r.content_type == "application/activity+json", url
        return await r.json(content_type=None)


async def _served(node: InProcessNode, remote, session, ada: Visitor) -> dict[str, dict[str, Any]]:
    """Every kind of document the node serves, fetched as a server would, by name."""
    ada_id = f"{node.base}/actors/ada"
    await remote.post(session, node.base + "/inbox", remote.activity("Follow", ada_id))
    await node.drain_inbox()
    await ada.post("/posts", {"text": "Soup on Friday", "visibility": "public"}, page="/home")
    await ada.post("/posts", {"text": "Gone soon", "visibility": "public"}, page="/home")
    async with node.db.execute("SELECT uuid FROM posts ORDER BY id") as cur:
        (note,), (gone,) = await cur.fetchall()
    await ada.post(f"/posts/{gone}/delete", {}, page="/home")
    for title, multiple, days in (("Where shall we meet?", "", "1"), ("What shall we cook?", "1", "3")):
        await ada.post("/proposals/new", {
            "kind": "poll", "title": title, "details": "Say", "closes_in": days, "closes_at": "", "scope": "public",
            "options": "Library\nPark", "multiple": multiple, "quorum": "0", "action": "", "member": "",
            "sibling": ""})
    async with node.db.execute("SELECT uuid FROM proposals ORDER BY id") as cur:
        (closed,), (open_,) = await cur.fetchall()
    await node.pass_closing_time(closed)  # the first closes in a day, the second in three: only it is due
    await node.close_proposals()
    await node.run_deliveries()

    group = node.group_id
    ada_actor = await local_actors.by_username(node.db, "ada")
    members_url = group + "/members"
    signed = signatures.sign("GET", members_url, ada_id + "#main-key",
                             signatures.load_private_key(ada_actor.private_key_pem), None, None)
    served = {
        "Group": await _get(session, group),
        "Person": await _get(session, ada_id),
        "Note": await _get(session, f"{node.base}/posts/{note}"),
        "Create(Note)": await _get(session, f"{node.base}/posts/{note}/activity"),
        "Tombstone": await _get(session, f"{node.base}/posts/{gone}"),
        "Question (open)": await _get(session, f"{node.base}/proposals/{open_}"),
        "Question (closed)": await _get(session, f"{node.base}/proposals/{closed}"),
        "decisions collection": await _get(session, group + "/decisions"),
        "decisions page": await _get(session, group + "/decisions?page=1"),
        "decision record": await _get(session, group + "/decisions/1"),
        "Group outbox": await _get(session, group + "/outbox"),
        "Group outbox page": await _get(session, group + "/outbox?page=true"),
        "Person outbox page": await _get(session, ada_id + "/outbox?page=true"),
        "followers": await _get(session, ada_id + "/followers"),
        "followers page": await _get(session, ada_id + "/followers?page=1"),
        "following page": await _get(session, group + "/following?page=1"),
        "members": await _get(session, members_url, **signed),
    }
    # Each holds what it is there to show, so a test of an empty page proves nothing.
    assert served["decisions page"]["orderedItems"] and served["followers page"]["orderedItems"] == [remote.id]
    outbox_types = {item["object"]["type"] for item in served["Group outbox page"]["orderedItems"]
                    if isinstance(item.get("object"), dict)}
    assert "Question" in outbox_types, outbox_types
    assert served["Tombstone"]["type"] == "Tombstone" and "anyOf" in served["Question (open)"]
    return served


@pytest.fixture
async def member_ada(node, signed_in) -> Visitor:
    return await signed_in("ada")


async def test_jsonld__every_served_document_expands_with_no_key_lost(node, remote, session, member_ada):
    served = await _served(node, remote, session, member_ada)
    loader = document_loader(node.base)
    found = {name: await asyncio.to_thread(problems, document, loader) for name, document in served.items()}
    assert not any(found.values()), {name: p for name, p in found.items() if p}


async def test_jsonld__the_terms_keep_their_meaning_and_records_dereference(node, remote, session, member_ada):
    """Our terms expand to their IRIs, the record's entry stays the JSON that was signed, a record's id answers
    with the page's item, and GET /ns defines the same terms as the documents carry inline."""
    served = await _served(node, remote, session, member_ada)
    loader = document_loader(node.base)
    [group] = await asyncio.to_thread(jsonld.expand, served["Group"], {"documentLoader": loader})
    assert group["https://congregation.example/ns#decisions"] == [{"@id": node.group_id + "/decisions"}]
    [question] = await asyncio.to_thread(jsonld.expand, served["Question (closed)"], {"documentLoader": loader})
    assert question["http://joinmastodon.org/ns#votersCount"] == [{"@value": 0}]
    [record] = await asyncio.to_thread(jsonld.expand, served["decision record"], {"documentLoader": loader})
    # (a public poll: a signed record whose header, body and proof stay the JSON that was committed to and signed)
    [header] = record["https://congregation.example/ns#header"]
    assert header == {"@type": "@json", "@value": served["decision record"]["header"]}
    assert header["@value"]["visibility"] == "public"
    [body] = record["https://congregation.example/ns#body"]
    assert body == {"@type": "@json", "@value": served["decision record"]["body"]}
    assert body["@value"]["counts"] == {"Library": 0, "Park": 0}
    [proof] = record["https://congregation.example/ns#proof"]
    assert proof["@value"]["cryptosuite"] == "eddsa-jcs-2022"
    [method] = group["https://w3id.org/security#assertionMethod"]
    assert method["@type"] == ["https://w3id.org/security#Multikey"]

    item = served["decisions page"]["orderedItems"][0]
    assert item["id"] == node.group_id + "/decisions/1"
    assert {k: v for k, v in served["decision record"].items() if k != "@context"} == item
    for missing in ("2", "0", "x"):
        async with session.get(f"{node.group_id}/decisions/{missing}", headers=AS2) as r:
            assert r.status == 404, missing

    for name in ("Group", "Question (closed)", "decision record"):
        document = served[name]
        by_url = {**document, "@context": [c if isinstance(c, str) else f"{node.base}/ns"
                                           for c in document["@context"]]}
        inline = await asyncio.to_thread(jsonld.expand, document, {"documentLoader": loader})
        assert inline == await asyncio.to_thread(jsonld.expand, by_url, {"documentLoader": loader}), name


def test_jsonld__the_check_catches_an_undefined_key_and_type():
    loader = document_loader("http://127.0.0.1:9")
    good = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://a.example/1", "type": "Note",
            "content": "hi"}
    assert problems(good, loader) == []
    assert problems({**good, "votersCount": 3}, loader) == ["$: 'votersCount' is a blank-node term"]
    assert problems({**good, "type": "DecisionRecord"}, loader) == ["$: type 'DecisionRecord' is a blank-node term"]
    no_vocab = {"@context": {"name": "https://www.w3.org/ns/activitystreams#name"}, "name": "x", "counts": {}}
    assert problems(no_vocab, loader) == ["dropped: 'counts'"]
    with pytest.raises(jsonld.JsonLdError):
        jsonld.expand({**good, "@context": "https://elsewhere.example/context"}, {"documentLoader": loader})
