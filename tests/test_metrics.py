"""/metrics parses as Prometheus text and its counters move with traffic; /healthz answers."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from node.app import create_app
from node.appkeys import WORKER_TASKS
from node.governance import proposals
from tests.factories import member, node_follows, open_proposal
from tests.fediverse import free_port, init_node


async def scrape(node, session) -> dict[tuple[str, tuple], float]:
    async with session.get(node.base + "/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics__counters_and_gauges_move_with_traffic(node, remote, session):
    # Given a node scraped once
    before = await scrape(node, session)
    accepted = ("congregation_inbox_requests_total", (("status", "202"),))
    unsigned = ("congregation_inbox_requests_total", (("status", "401"),))
    # When a signed Follow arrives, an unsigned POST is refused, a member joins and a proposal opens
    status, _ = await remote.post(session, node.base + "/inbox", remote.activity("Follow", node.group_id))
    assert status == 202
    async with session.post(node.base + "/inbox", data=b"{}",
                            headers={"Content-Type": "application/activity+json"}) as r:
        assert r.status == 401
    ada = await member(node, "ada", "partner")
    await open_proposal(node, ada, closes_at=proposals.datetime.now(proposals.UTC) + proposals.timedelta(days=1))
    after = await scrape(node, session)
    # Then the counters and gauges say so
    assert after[accepted] == before.get(accepted, 0) + 1
    assert after[unsigned] == before.get(unsigned, 0) + 1
    assert after[("congregation_members", (("tier", "partner"),))] == 1
    assert after[("congregation_proposals", (("state", "open"),))] == 1
    assert after[("congregation_inbox_pending", ())] == 1


async def test_healthz__healthy_node_answers_200_with_ok(node, session):
    async with session.get(node.base + "/healthz") as r:
        assert r.status == 200 and await r.json() == {"ok": True}


async def test_metrics__refused_inbox_posts_are_counted_by_reason(node, remote, session):
    before = await scrape(node, session)
    # An unsigned POST, a POST in the wrong media type, and a signed one whose actor is not the signer
    async with session.post(node.base + "/inbox", data=b"{}",
                            headers={"Content-Type": "application/activity+json"}) as r:
        assert r.status == 401
    async with session.post(node.base + "/inbox", data=b"{}", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    forged = remote.activity("Follow", node.group_id, actor="https://elsewhere.example/users/eve")
    status, _ = await remote.post(session, node.base + "/inbox", forged)
    assert status == 401
    after = await scrape(node, session)

    def moved(reason: str) -> float:
        key = ("congregation_inbox_refused_total", (("reason", reason),))
        return after.get(key, 0) - before.get(key, 0)

    assert (moved("unsigned"), moved("media_type"), moved("actor_not_signer")) == (1, 1, 1)
    assert moved("signature") == 0


async def test_healthz__a_database_that_refuses_writes_answers_503_naming_it(node, session):
    # Given a node whose database stops taking writes (the fault injected through SQLite itself)
    await node.db.execute("PRAGMA query_only = ON")
    try:
        async with session.get(node.base + "/healthz") as r:
            body = await r.json()
            # Then /healthz says so: a container's HEALTHCHECK marks it unhealthy
            assert r.status == 503
            assert body["ok"] is False and "not writable" in body["database"]
    finally:
        await node.db.execute("PRAGMA query_only = OFF")
    async with session.get(node.base + "/healthz") as r:
        assert r.status == 200


async def test_healthz__a_stopped_worker_answers_503_naming_it(tmp_path, session):
    # Given a node with its background workers running
    config = init_node(tmp_path / "alpha", free_port(), "Alpha")
    app = create_app(config, run_workers=True)
    server = TestServer(app, host="127.0.0.1", port=int(config.base_url.rsplit(":", 1)[1]))
    await server.start_server()
    try:
        async with session.get(config.base_url + "/healthz") as r:
            assert r.status == 200
        # When one of them dies (cancelled: a crash in a worker is a fault we cannot otherwise cause)
        task = next(t for t in app[WORKER_TASKS] if t.get_name() == "delivery-worker")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Then /healthz names it
        async with session.get(config.base_url + "/healthz") as r:
            assert r.status == 503
            assert (await r.json())["delivery-worker"] == "stopped"
    finally:
        await server.close()


async def test_metrics__database_size_grows_with_what_is_stored(node, remote, session):
    # Given a node scraped once
    size = ("congregation_database_bytes", ())
    before = await scrape(node, session)
    async with node.db.execute("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()") as cur:
        page_bytes = (await cur.fetchone())[0]
    assert before[size] >= page_bytes > 0
    # When 30 activities of 20 kB each arrive
    for _ in range(30):
        activity = remote.activity("Flag", [node.group_id], content="x" * 20_000)
        assert (await remote.post(session, node.base + "/inbox", activity))[0] == 202
    # Then the size shown grew by at least what they take
    assert (await scrape(node, session))[size] >= before[size] + 30 * 20_000


async def test_metrics__growth_shows_which_table_took_rows_and_bytes(node, remote, session):
    # Given a node scraped once, and a remote actor one of ours follows
    before = await scrape(node, session)
    await node_follows(node, node.group_id, remote.id)
    # When 10 activities of 20 kB each arrive and wait for the worker, and a 30 kB post of the followed actor
    for _ in range(10):
        activity = remote.activity("Flag", [node.group_id], content="x" * 20_000)
        assert (await remote.post(session, node.base + "/inbox", activity))[0] == 202
    waiting = await scrape(node, session)
    note = {"id": remote.origin + "/notes/1", "type": "Note", "attributedTo": remote.id, "content": "y" * 30_000,
            "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    assert (await remote.post(session, node.base + "/inbox", remote.activity("Create", note)))[0] == 202
    await node.drain_inbox()
    after = await scrape(node, session)

    def grew(scrape_: dict, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return scrape_[key] - before.get(key, 0)

    # Then the inbox's rows and waiting bytes show, then the stored object's row and bytes
    for window in ("1h", "24h"):
        assert grew(waiting, "congregation_rows_added", table="inbox", window=window) == 10
        assert grew(after, "congregation_rows_added", table="inbox", window=window) == 11
        assert grew(after, "congregation_rows_added", table="remote_objects", window=window) == 1
        assert grew(after, "congregation_remote_object_bytes_added", window=window) >= 30_000
    assert grew(waiting, "congregation_stored_bytes", what="inbox_pending") >= 10 * 20_000
    assert after[("congregation_stored_bytes", (("what", "inbox_pending"),))] == 0
    assert grew(after, "congregation_stored_bytes", what="remote_objects") >= 30_000
