"""Sessions, CSRF and HTML error pages wrap the members' UI routes only, never the wire's.

The class check walks the router: every route that takes a POST is the UI's (CSRF-checked) or an inbox (signed);
every other wire route is GET/HEAD. A request that matches no route has no handler to protect: a server that
POSTs to a mistyped URL learns it is not there, not that "forms on this site are sent as forms".
"""

from __future__ import annotations

from node.activitypub.inbox import post_inbox
from node.appkeys import UI_RESOURCES
from tests.fediverse import AS_JSON


def test_every_route_that_changes_state_is_the_uis_or_an_inbox(node):
    ui = node.app[UI_RESOURCES]
    wire_posts, unsafe_elsewhere = [], []
    for route in node.app.router.routes():
        if route.method in ("GET", "HEAD"):
            continue
        if route.resource in ui:
            continue
        (wire_posts if route.method == "POST" and route.handler is post_inbox else unsafe_elsewhere).append(
            (route.method, route.resource.canonical))
    assert sorted(wire_posts) == [("POST", "/actors/{username}/inbox"), ("POST", "/inbox")]
    assert unsafe_elsewhere == []


async def test_an_inbox_post_from_a_signed_in_browser_is_not_a_form(node, signed_in):
    # Given a member signed in, whose browser carries the session cookie
    visitor = await signed_in("ada")
    # When it POSTs to the inbox, asking for HTML, with no CSRF token
    async with visitor.session.post(node.base + "/inbox", data=b"{}", headers={
            "Content-Type": AS_JSON, "Accept": "text/html"}) as response:
        # Then the inbox answers as the inbox does (unsigned: 401 in JSON), with no cookie set
        assert (response.status, response.content_type) == (401, "application/json")
        assert "Set-Cookie" not in response.headers


async def test_a_wire_error_is_not_an_html_page_and_sets_no_cookie(node, session):
    async with session.get(node.group_id + "/outbox?page=true&max_id=x", headers={"Accept": "text/html"}) as response:
        assert (response.status, response.content_type) == (400, "text/plain")
        assert "Set-Cookie" not in response.headers


async def test_a_post_to_no_route_is_404_or_405_not_a_csrf_refusal(node, session):
    for path, status in (("/actors/group/inbox/", 404), ("/inbox/", 404), ("/actors/group/outbox", 405),
                         ("/actors/group", 405), ("/nowhere", 404)):
        async with session.post(node.base + path, data=b"{}", headers={"Content-Type": AS_JSON}) as response:
            assert response.status == status, (path, await response.text())


async def test_a_form_post_with_an_origin_no_parser_takes_is_refused_as_from_another_site(node, session):
    for origin in ("http://[::1", "http://a\uff03b"):
        async with session.post(node.base + "/login", data={"csrf": "x"}, headers={"Origin": origin}) as response:
            assert response.status == 403, origin
