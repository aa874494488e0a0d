"""What a stranger writes into URLs is refused with a 4xx, never a 500.

Numbers in the wire's URLs (pages, max_id, decision record seqs): str.isdigit() says yes to '²' and '٣' and to a
5,000-digit string; int() then raises, or gives a number SQLite cannot bind. URLs in activities: urlsplit()
raises ValueError for "http://[::1" and for a netloc NFKC changes.
"""

from __future__ import annotations

import pytest

from node import uris

HUGE = "9" * 5000
BIG = "9" * 25  # past SQLite's 64-bit integers, within int()'s digits limit


@pytest.mark.parametrize("path", [
    "/actors/group/decisions/%C2%B2", f"/actors/group/decisions/{HUGE}", f"/actors/group/decisions/{BIG}",
    "/actors/group/decisions/%D9%A3", "/actors/group/decisions/-1", "/actors/group/decisions/0",
    "/actors/group/decisions/+1", "/actors/group/decisions/%201",
])
async def test_decision_record__a_seq_that_is_not_a_small_ascii_number_is_404(node, session, path):
    async with session.get(node.base + path, headers={"Accept": "application/activity+json"}) as response:
        assert response.status == 404, await response.text()


@pytest.mark.parametrize("query", [
    "/decisions?page=%C2%B2", f"/decisions?page={HUGE}", f"/decisions?page={BIG}",
    "/followers?page=%C2%B2", f"/followers?page={HUGE}", f"/following?page={BIG}",
    "/outbox?page=true&max_id=%C2%B2", f"/outbox?page=true&max_id={HUGE}", f"/outbox?page=true&max_id={BIG}",
    "/outbox?page=true&max_id=-5",
])
async def test_collection__a_page_or_max_id_that_is_not_a_small_ascii_number_is_400(node, session, query):
    async with session.get(f"{node.group_id}{query}", headers={"Accept": "application/activity+json"}) as response:
        assert response.status == 400, await response.text()


def test_number__only_ascii_digits_within_the_bound():
    assert [uris.number(text, 100) for text in ("1", "100", "007", "101", "0", "", None, "²", "٣", "1.0", " 1")] \
        == [1, 100, 7, None, None, None, None, None, None, None, None]


@pytest.mark.parametrize("field", ["id", "object"])
@pytest.mark.parametrize("bad", ["http://[::1/a", "http://a\uff03b/a"])
async def test_inbox__an_id_no_url_parser_takes_is_400(node, remote, session, field, bad):
    activity = remote.activity("Create", {"id": f"{remote.origin}/notes/1", "type": "Note",
                                          "attributedTo": remote.id, "content": "hi"})
    activity[field] = bad
    status, text = await remote.post(session, node.base + "/inbox", activity)
    assert status == 400, text
