"""`congregation verify-decisions` against a node serving its log: a log of version-1 entries (signed before
issue 12) followed by version-2 signed records of every visibility passes; an edited, dropped, reordered or
foreign-signed entry is caught, each with a one-line reason and exit status 1; a signed-out reader of an entry
that is not public gets its header and proof, never its body."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from node.activitypub import signatures
from node.activitypub.as2.decisions import log_item
from node.governance import crews, decision_log, proposals, records
from node.store import local_actors
from node.store import proposals as proposals_store
from tests.factories import legacy_log_entry, member
from tests.fediverse import InProcessNode

pytestmark = pytest.mark.slow
# The proposals closed after the two version-1 entries, in closing order (seq 3, 4, 5, 6).
SCOPES = ("public", "congregation", "partners", "crew")


@pytest.fixture
async def logged(node):
    """A node whose log holds two version-1 entries, then one version-2 entry per scope."""
    ada = await member(node, "ada", "partner")
    await legacy_log_entry(node, "Garden on Saturdays")
    await legacy_log_entry(node, "A shared tool shed")
    [started] = await crews.start(node.db, ada, "Kitchen", "", "", "home")
    for hours, scope in enumerate(SCOPES, start=1):
        await proposals.create(node.db, node.config, ada, kind="consent", title=f"Secret {scope} plan", scope=scope,
                               crew_id=started.crew.id if scope == "crew" else None,
                               closes_at=datetime.now(UTC) + timedelta(hours=hours))
    await node.pass_closing_time()
    await node.close_proposals()
    return node


async def verify(node) -> tuple[int, str]:
    """The command as a real process; this loop keeps serving the node while it runs."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "node", "verify-decisions", node.group_id,
                                                "--allow-private-addresses", stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"Traceback" not in err
    return proc.returncode, out.decode()


async def _rows(node):
    async with node.db.execute("SELECT seq, entry FROM decision_log ORDER BY seq") as cur:
        return await cur.fetchall()


async def test_verify_decisions__untouched_log_passes(logged):
    code, out = await verify(logged)
    assert code == 0 and out.startswith("OK: 6 decisions"), out
    rows = await proposals_store.entries(logged.db)
    assert [r.version for r in rows] == [1, 1, 2, 2, 2, 2]
    assert [json.loads(r.entry)["header"]["visibility"] for r in rows[2:]] == ["public", "members", "partners",
                                                                                "crew"]


async def test_verify_decisions__edited_entry_is_caught(logged):
    seq, entry = (await _rows(logged))[1]
    edited = json.dumps({**json.loads(entry), "result": "failed"}, sort_keys=True, separators=(",", ":"))
    await logged.db.execute("UPDATE decision_log SET entry = ? WHERE seq = ?", (edited, seq))
    code, out = await verify(logged)
    assert code == 1 and "entry 2 was altered" in out


async def test_verify_decisions__dropped_entry_is_caught(logged):
    await logged.db.execute("DELETE FROM decision_log WHERE seq = 2")
    code, out = await verify(logged)
    assert code == 1 and "entry 2 has seq 3" in out


async def test_verify_decisions__reordered_entries_are_caught(logged):
    await logged.db.execute("UPDATE decision_log SET seq = -seq WHERE seq IN (1, 2)")
    await logged.db.execute("UPDATE decision_log SET seq = CASE seq WHEN -1 THEN 2 ELSE 1 END WHERE seq < 0")
    code, out = await verify(logged)
    assert code == 1 and "FAILED after 0 good entries" in out


async def test_verify_decisions__entry_signed_by_another_key_is_caught(logged):
    seq, entry = (await _rows(logged))[1]
    other = signatures.private_pem(signatures.generate_private_key())
    forged = json.loads(entry)
    await logged.db.execute("UPDATE decision_log SET signature = ? WHERE seq = ?",
                            (decision_log.sign(other, forged), seq))
    code, out = await verify(logged)
    assert code == 1 and "entry 2 is not signed by the Congregation's key" in out
    # the untouched key still verifies the untouched entries
    assert (await local_actors.group(logged.db)).public_key_pem


async def test_decisions__a_signed_out_fetch_of_a_members_only_entry_shows_its_header_only(logged, session):
    # When a stranger fetches the members-only entry and the public one, unsigned
    async with session.get(f"{logged.group_id}/decisions/4", headers={"Accept": "application/activity+json"}) as r:
        assert r.status == 200
        text = await r.text()
    async with session.get(f"{logged.group_id}/decisions/3", headers={"Accept": "application/activity+json"}) as r:
        public = await r.json()
    # Then the members-only one has its header and proof, and nothing of its body
    item = json.loads(text)
    assert set(item["header"]) == {"version", "seq", "prev", "visibility", "commitment"}
    assert item["header"]["visibility"] == "members" and item["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert "body" not in item and "salt" not in item and "Secret" not in text
    # And the public one shows its body
    assert public["body"]["title"] == "Secret public plan" and public["salt"]


async def test_decisions__the_group_lists_its_record_key_as_a_multikey(logged, session):
    async with session.get(logged.group_id, headers={"Accept": "application/activity+json"}) as r:
        actor = await r.json()
    [method] = actor["assertionMethod"]
    assert (method["type"], method["controller"], method["id"]) == ("Multikey", actor["id"],
                                                                  actor["id"] + "#records-key")
    records.public_key(method["publicKeyMultibase"])


async def _edit_v2(node, seq: int, change) -> None:
    row = (await proposals_store.entries(node.db, after=seq - 1, limit=1))[0]
    stored = json.loads(row.entry)
    change(stored)
    await node.db.execute("UPDATE decision_log SET entry = ? WHERE seq = ?", (json.dumps(stored), seq))


async def test_verify_decisions__an_altered_public_body_is_caught_through_its_commitment(logged):
    await _edit_v2(logged, 3, lambda e: e["body"].update(result="failed"))
    code, out = await verify(logged)
    assert code == 1 and "entry 3: its body was altered: it does not match the commitment" in out


async def test_verify_decisions__an_altered_members_only_body_is_caught_by_whoever_may_read_it(logged):
    # Given a members-only body altered in the database (the wire never shows it)
    await _edit_v2(logged, 4, lambda e: e["body"].update(title="Another plan"))
    group = await local_actors.group(logged.db)
    items = [log_item(logged.group_id, "", e, show_body=True) for e in await proposals_store.entries(logged.db)]
    record_key = await decision_log.public_multikey(logged.db, group.id)
    # Then a reader shown the bodies (the members' export) catches it through the commitment
    check = decision_log.verify_chain(items, group.public_key_pem, record_key)
    assert (check.ok, check.entries) == (False, 3) and "entry 4: its body was altered" in check.problem


async def test_verify_decisions__a_version_2_entry_signed_by_another_key_is_caught(logged):
    other = records.new_private_key()

    def resign(entry):
        entry.update(records.make_entry(**{k: entry["header"][k] for k in ("seq", "prev", "visibility")},
                                        body=entry["body"], salt=entry["salt"], private_key_pem=other,
                                        verification_method=entry["proof"]["verificationMethod"]))
    await _edit_v2(logged, 5, resign)
    code, out = await verify(logged)
    assert code == 1 and "entry 5: its proof is not the Congregation's signature" in out


async def _signed_get(session, node, url: str, handle: str) -> tuple[dict, str]:
    """GET signed with a local member's key, as the member's own client would."""
    actor = await local_actors.by_username(node.db, handle)
    headers = signatures.sign("GET", url, f"{node.base}/actors/{handle}#main-key",
                              signatures.load_private_key(actor.private_key_pem), None, None)
    async with session.get(url, headers={**headers, "Accept": "application/activity+json"}) as r:
        assert r.status == 200
        return await r.json(content_type=None), r.headers.get("Cache-Control", "")


async def test_decisions__a_members_signed_fetch_gets_the_bodies_it_may_read(logged, session, remote):
    # Given a friend who is in no crew, besides ada (a Partner in the crew)
    await member(logged, "bo", "friend")
    page = f"{logged.group_id}/decisions?page=1"
    # When ada fetches the log with her signature, Then every body is there, and checks against its commitment
    ada_page, cache = await _signed_get(session, logged, page, "ada")
    assert ["body" in i for i in ada_page["orderedItems"]] == [False, False, True, True, True, True]
    assert "no-store" in cache
    assert [i["body"]["title"] for i in ada_page["orderedItems"][2:]] == [f"Secret {s} plan" for s in SCOPES]
    group = await local_actors.group(logged.db)
    check = decision_log.verify_chain(ada_page["orderedItems"], group.public_key_pem,
                                      await decision_log.public_multikey(logged.db, group.id))
    assert check.ok, check.problem
    # And bo, a friend in no crew, reads the members' body only
    bo_page, _ = await _signed_get(session, logged, page, "bo")
    assert [i["header"]["visibility"] for i in bo_page["orderedItems"][2:] if "body" in i] == ["public", "members"]
    # And a remote actor's signed fetch is a stranger's: header only
    async with session.get(f"{logged.group_id}/decisions/4", headers={
            **remote.signed_headers("GET", f"{logged.group_id}/decisions/4", None),
            "Accept": "application/activity+json"}) as r:
        assert r.status == 200
        stranger = await r.json(content_type=None)
    assert stranger["header"]["visibility"] == "members" and "body" not in stranger


async def test_decisions__a_node_from_before_records_gets_its_key_at_start_and_keeps_its_v1_entries(node, session):
    # Given a node as it was before signed records: no record key, two version-1 entries
    await legacy_log_entry(node, "Garden on Saturdays")
    await legacy_log_entry(node, "A shared tool shed")
    await node.db.execute("DELETE FROM record_keys")
    before = await _rows(node)
    config = node.config
    await node.close()
    # When it starts again
    restarted = await InProcessNode(config).start()
    try:
        # Then its Group lists a new record key, and its old entries are as they were (never re-signed)
        async with session.get(restarted.group_id, headers={"Accept": "application/activity+json"}) as r:
            [method] = (await r.json(content_type=None))["assertionMethod"]
        group = await local_actors.group(restarted.db)
        assert method["publicKeyMultibase"] == await decision_log.public_multikey(restarted.db, group.id)
        assert await _rows(restarted) == before
        # And the next decision is a version-2 record after them, and the whole chain verifies
        ada = await member(restarted, "ada", "partner")
        await proposals.create(restarted.db, restarted.config, ada, kind="consent", title="Meet monthly",
                               closes_at=datetime.now(UTC) + timedelta(hours=1))
        await restarted.pass_closing_time()
        await restarted.close_proposals()
        code, out = await verify(restarted)
        assert code == 0 and out.startswith("OK: 3 decisions"), out
        assert [r.version for r in await proposals_store.entries(restarted.db)] == [1, 1, 2]
    finally:
        await restarted.close()
