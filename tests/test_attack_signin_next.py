"""Issue 12, point 2, attacked again: sign-in's `next` must lead to a path on this site whatever is written in it,
never a 500 or a dropped connection; a signed-in visitor's GET of /login?next=… changes nothing. The SSRF guard is
on (the node runs under a made-up name)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from yarl import URL

from tests.webclient import PASSWORD, Visitor, make_member

# Each leaves the site, or tries to break the answer, if taken as written (or as browsers clean it up).
HOSTILE_NEXT = [
    "//evil.example/", "///evil.example/", "////evil.example", "/\t/evil.example/", "/\n/evil.example/",
    "/\r\n/evil.example/", "\t//evil.example/", "/ /evil.example/", "/\\evil.example/", "\\\\evil.example\\",
    "/\\/evil.example/", "\\/evil.example", "/\x00/evil.example", "/\x0b/evil.example", "/\x0c/evil.example",
    "/\x7f/evil.example/", "https://evil.example/", "http:evil.example", "https:/evil.example", "HTTPS://evil.example",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example", "@evil.example",
    "／／evil.example", "/\u3000/evil.example", "/\u2215evil.example", "/\u0085/evil.example", "/\u2028/evil.example",
    "/\ufeff/evil.example", "/\u200b/evil.example", " /home", "/home\r\nSet-Cookie: owned=1",
    "/home\nLocation: https://evil.example", "/%2F%2Fevil.example", "/%5Cevil.example", "/..//evil.example",
    "/./\\evil.example", "/é", "/" + "a" * 6_000,
]
# Sent as raw query strings: bytes that are not UTF-8, encoded tabs and slashes, as a hand-made link carries them.
RAW_QUERIES = ["next=%FF%FE", "next=%ED%B3%BF", "next=/%09/evil.example/", "next=%2F%2Fevil.example",
               "next=/%0D%0ALocation:%20https://evil.example", "next=%5C%5Cevil.example",
               "next=/%E3%80%80/evil.example", "next=//evil.example&next=/home",
               "next=/home&next=//evil.example", "next"]
NEXT_FIELD = re.compile(r'name="next"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="next"')


@pytest.fixture
async def visitor(make_guarded_node):
    node = await make_guarded_node()
    await make_member(node, "ada")
    made = Visitor(node)
    yield made
    await made.close()


def stays_on_site(node, location: str) -> bool:
    """Where a browser goes with this Location, read the way yarl (and browsers) resolve it; short enough for
    a reverse proxy to pass on (nginx's header buffer is 4 KiB by default: a longer one is a 502)."""
    base = URL(node.base)
    return (base.join(URL(location)).origin() == base.origin() and "\r" not in location and "\n" not in location
            and len(location) <= 2048)


async def test_next__no_spelling_leads_off_the_site(visitor):
    node = visitor.node
    failures = []
    for target in HOSTILE_NEXT:
        # When a member signs in from a link whose next is `target`
        token = await visitor.csrf()
        async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                        data={"csrf": token, "handle": "ada", "password": PASSWORD,
                                              "next": target}) as r:
            location = r.headers.get("Location", "")
            if r.status != 303 or not stays_on_site(node, location):
                failures.append(("POST", target, r.status, location))
        # And, signed in, follows a link to /login?next=target: nothing changes, and she stays here
        before = await node.snapshot()
        async with visitor.session.get(visitor.url("/login"), params={"next": target}, allow_redirects=False) as r:
            location = r.headers.get("Location", "")
            if r.status != 303 or not stays_on_site(node, location):
                failures.append(("GET", target, r.status, location))
        if await node.snapshot() != before:
            failures.append(("GET changed the database", target))
        async with visitor.session.post(visitor.url("/logout"), data={"csrf": await visitor.csrf("/home")}) as r:
            assert r.status in (200, 303)
    assert failures == []


async def test_next__raw_query_strings_lead_nowhere_else(visitor):
    node = visitor.node
    assert (await visitor.sign_in("ada"))[0] == 200
    before = await node.snapshot()
    for query in RAW_QUERIES:
        url = URL(visitor.url("/login") + "?" + query, encoded=True)
        async with visitor.session.get(url, allow_redirects=False) as r:
            assert r.status == 303 and stays_on_site(node, r.headers["Location"]), (query, r.status)
    assert await node.snapshot() == before


async def test_next__a_signed_out_visitor_gets_the_form_and_nothing_is_stored(visitor):
    node = visitor.node
    before = await node.snapshot()
    pages = [(t, visitor.session.get(visitor.url("/login"), params={"next": t}, allow_redirects=False))
             for t in HOSTILE_NEXT]
    pages += [(q, visitor.session.get(URL(visitor.url("/login") + "?" + q, encoded=True), allow_redirects=False))
              for q in RAW_QUERIES]
    for target, request in pages:
        async with request as r:
            page = await r.text()
        # The form, whose next is a path on this site: never a link or a script off it
        assert r.status == 200, (target, r.status)
        (field,) = NEXT_FIELD.findall(page)
        assert stays_on_site(node, unescape(field[0] or field[1])), (target, field)
        assert "<script>alert" not in page, target
    assert await node.snapshot() == before


# Member pages send a signed-out visitor to /login?next=<the page>: the page's path and query are the attacker's.
CRAFTED_PAGES = ["/home?next=//evil.example", "/home?a=1&next=//evil.example", "/home?%0D%0ALocation:%20//evil.example",
                 "/proposals/%0D%0ASet-Cookie:%20owned=1", "/proposals/x%09/evil.example", "/home?x=%2F%2Fevil.example",
                 "/proposals/%2F%2Fevil.example", "/settings?next=%09//evil.example", "/home?" + "a" * 6000]


async def test_next__a_member_page_sends_a_signed_out_visitor_to_sign_in_and_back_here_only(visitor):
    node = visitor.node
    before = await node.snapshot()
    for page in CRAFTED_PAGES:
        async with visitor.session.get(URL(visitor.url(page), encoded=True), allow_redirects=False) as r:
            assert r.status in (303, 404), (page, r.status)
            if r.status == 404:
                continue
            location = r.headers["Location"]
            assert location.startswith("/login?") and "\r" not in location and "\n" not in location, (page, location)
        # And signing in on the form found there (its next as the page carries it) lands on this site
        async with visitor.session.get(URL(visitor.url(location), encoded=True)) as r:
            form = await r.text()
        (field,) = NEXT_FIELD.findall(form)
        async with visitor.session.post(visitor.url("/login"), allow_redirects=False,
                                        data={"csrf": await visitor.csrf(), "handle": "ada", "password": PASSWORD,
                                              "next": unescape(field[0] or field[1])}) as r:
            assert r.status == 303 and stays_on_site(node, r.headers["Location"]), (page, r.headers["Location"])
        async with visitor.session.post(visitor.url("/logout"), data={"csrf": await visitor.csrf("/home")}) as r:
            assert r.status in (200, 303)
    assert {t: rows for t, rows in (await node.snapshot()).items() if t not in ("sessions", "login_attempts")} == \
        {t: rows for t, rows in before.items() if t not in ("sessions", "login_attempts")}
