"""Issue 12, point 4 and acceptance 3, attacked again with the SSRF guard on (the node under a made-up name).

A log of two version-1 entries followed by version-2 signed records of every visibility (public, members,
partners, crew) verifies with the command's own checks; whatever a stranger fetches (signed out, or signed by a
remote actor; AS2 or HTML; the log, its pages, its entries, the outbox, the proposals) shows no body, title or
count of an entry that is not public, and changes nothing; a body altered at any visibility, or a header whose
visibility is widened, is caught.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from node.activitypub.as2.decisions import log_item
from node.commands.verify_decisions import verify
from node.governance import crews, decision_log, proposals
from node.store import local_actors
from node.store import proposals as proposals_store
from tests.factories import legacy_log_entry, member

# Verifying a signature caches the signer's key and document: not an effect of the request (see inbox.py).
KEY_CACHE = {"remote_keys", "remote_actors"}
SCOPES = ("public", "congregation", "partners", "crew")
VISIBILITIES = ("public", "members", "partners", "crew")
# What a stranger must never read: the titles and details of the proposals that are not public.
HIDDEN = ["Secret congregation plan", "Secret partners plan", "Secret crew plan", "hidden-details-", "zebulon",
          "Zebulon"]


@pytest.fixture
async def logged(make_guarded_node):
    """A node whose log holds two version-1 entries, then one version-2 entry per scope (seq 3 to 6), then a
    Partners-only removal (seq 7)."""
    node = await make_guarded_node()
    ada = await member(node, "ada", "partner")
    await legacy_log_entry(node, "Garden on Saturdays")
    await legacy_log_entry(node, "A shared tool shed")
    [started] = await crews.start(node.db, ada, "Kitchen", "", "", "home")
    uuids = {}
    for hours, scope in enumerate(SCOPES, start=1):
        [opened] = await proposals.create(node.db, node.config, ada, kind="consent", title=f"Secret {scope} plan",
                                          details=f"hidden-details-{scope}" if scope != "public" else "in the open",
                                          scope=scope, crew_id=started.crew.id if scope == "crew" else None,
                                          closes_at=datetime.now(UTC) + timedelta(hours=hours))
        uuids[scope] = opened.proposal.uuid
    # Seq 7: who a Partners-only removal is about is theirs to know
    await member(node, "zebulon", "friend")
    [opened] = await proposals.create(node.db, node.config, ada, kind="consent", title="A quiet word", scope="partners",
                                      action="remove_member", action_args={"member": "zebulon"},
                                      closes_at=datetime.now(UTC) + timedelta(hours=9))
    uuids["removal"] = opened.proposal.uuid
    await node.pass_closing_time()
    await node.close_proposals()
    node.uuids = uuids
    return node


async def _verify(node):
    return await verify(node.group_id, allow_http=True, resolver=node.resolver)


async def test_decisions__v1_then_v2_of_every_visibility_verifies_with_the_guard_on(logged):
    rows = await proposals_store.entries(logged.db)
    assert [r.version for r in rows] == [1, 1, 2, 2, 2, 2, 2]
    assert [json.loads(r.entry)["header"]["visibility"] for r in rows[2:]] == [*VISIBILITIES, "partners"]
    assert "zebulon" in json.dumps(json.loads(rows[6].entry)["body"])  # what the stranger test must not find
    result = await _verify(logged)
    assert (result.ok, result.entries) == (True, 7), result.problem


async def test_decisions__a_stranger_reads_no_hidden_entry_anywhere(logged, guarded_session, make_guarded_remote):
    node, session = logged, guarded_session
    stranger = await make_guarded_remote("stranger")
    group = node.group_id
    urls = [group, f"{group}/decisions", f"{group}/decisions?page=1", f"{group}/outbox", f"{group}/outbox?page=1",
            *[f"{group}/decisions/{seq}" for seq in range(1, 8)],
            *[f"{node.base}/proposals/{uuid}" for uuid in node.uuids.values()], f"{node.base}/", "/feed.atom"]
    urls[-1] = node.base + urls[-1]
    before = await node.snapshot()
    seen = []
    for url in urls:
        for accept in ("application/activity+json", "text/html"):
            for signed in (False, True):
                headers = {"Accept": accept}
                if signed:
                    headers |= stranger.signed_headers("GET", url, None)
                async with session.get(url, headers=headers) as r:
                    text = await r.text()
                assert r.status < 500, (url, accept, r.status)
                leaked = [word for word in HIDDEN if word in text]
                if leaked:
                    seen.append((url, accept, signed, r.status, leaked))
    assert seen == []
    # The hidden entries are there, as headers with their proofs: seq 4, 5, 6
    for seq, visibility in ((4, "members"), (5, "partners"), (6, "crew"), (7, "partners")):
        async with session.get(f"{group}/decisions/{seq}", headers={"Accept": "application/activity+json"}) as r:
            item = await r.json(content_type=None)
        assert item["header"]["visibility"] == visibility and "body" not in item and "salt" not in item
        assert item["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    # And nothing changed but the stranger's verified key and document, cached (not an effect of a GET)
    after = await node.snapshot()
    assert {t: r for t, r in after.items() if t not in KEY_CACHE} == {t: r for t, r in before.items()
                                                                      if t not in KEY_CACHE}
    assert [row[0] for row in after["remote_actors"]] == [stranger.id]


@pytest.mark.parametrize("seq, visibility", [(3, "public"), (4, "members"), (5, "partners"), (6, "crew")])
async def test_decisions__a_body_altered_at_any_visibility_is_caught_through_its_commitment(logged, seq, visibility):
    # Given the body of one version-2 entry altered in the database
    row = (await proposals_store.entries(logged.db, after=seq - 1, limit=1))[0]
    stored = json.loads(row.entry)
    assert stored["header"]["visibility"] == visibility
    stored["body"]["result"] = "failed" if stored["body"].get("result") != "failed" else "passed"
    await logged.db.execute("UPDATE decision_log SET entry = ? WHERE seq = ?", (json.dumps(stored), seq))
    # Then a reader shown every body (the crew's, a Partner's export) catches it at that entry
    group = await local_actors.group(logged.db)
    items = [log_item(logged.group_id, "", e, show_body=True) for e in await proposals_store.entries(logged.db)]
    check = decision_log.verify_chain(items, group.public_key_pem,
                                      await decision_log.public_multikey(logged.db, group.id))
    assert (check.ok, check.entries) == (False, seq - 1)
    assert f"entry {seq}: its body was altered" in check.problem
    # And the public one is caught by anyone, through the command
    if visibility == "public":
        result = await _verify(logged)
        assert not result.ok and "does not match the commitment" in result.problem


@pytest.mark.parametrize("seq", [4, 5, 6, 7])
async def test_decisions__widening_an_entrys_visibility_is_caught(logged, seq, guarded_session):
    # Given a hidden entry whose header is rewritten as public (to publish a body that was never meant to be)
    row = (await proposals_store.entries(logged.db, after=seq - 1, limit=1))[0]
    stored = json.loads(row.entry)
    stored["header"]["visibility"] = "public"
    await logged.db.execute("UPDATE decision_log SET entry = ? WHERE seq = ?", (json.dumps(stored), seq))
    # Then the chain fails at that entry for anyone who verifies it
    result = await _verify(logged)
    assert (result.ok, result.entries) == (False, seq - 1), result.problem
