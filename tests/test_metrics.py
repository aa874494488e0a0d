"""/metrics parses as Prometheus text and its counters move with traffic; /healthz answers."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from node.governance import proposals
from tests.test_proposals import member, open_proposal


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
