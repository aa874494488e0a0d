"""Outbound fetches: the SSRF guard, redirects, size, content type and id checks of HttpClient.

Each refusal is checked on the wire too: the loopback server a refused fetch aimed at logs no request.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.netguard import AddressRefused, GuardedResolver, is_public, literal_ip, unwrap
from tests.fediverse import AS_JSON, free_port
from tests.resolver import LoopbackDNS


class Origin:
    """A loopback HTTP server answering from a table of path → response, logging every request it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[str] = []
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._runner: web.AppRunner | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def document(self, path: str, document: dict[str, Any] | None = None, content_type: str = AS_JSON,
                 host: str = "127.0.0.1") -> None:
        """Serve a document whose id is its own URL unless another `document` is given."""
        body = json.dumps(document if document is not None else {"id": self.url(path, host), "type": "Note"})
        self.answers[path] = (200, {"Content-Type": content_type}, body.encode())

    def redirect(self, path: str, location: str) -> None:
        self.answers[path] = (302, {"Location": location}, b"")

    async def start(self) -> Origin:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        status, headers, body = self.answers.get(request.path, (404, {}, b""))
        return web.Response(status=status, headers=headers, body=body)


class FakeDNS(AbstractResolver):
    """Names → addresses from a table, as aiohttp's examples/fake_server.py does; other names go to `fallback`."""

    def __init__(self, names: dict[str, str], fallback: AbstractResolver | None = None):
        self.names = names
        self.fallback = fallback

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if host in self.names:
            return [{"hostname": host, "host": self.names[host], "port": port, "family": socket.AF_INET,
                     "proto": 0, "flags": socket.AI_NUMERICHOST}]
        if self.fallback is None:
            raise OSError(f"{host} is not in the fake DNS")
        return await self.fallback.resolve(host, port, family)

    async def close(self) -> None:
        if self.fallback is not None:
            await self.fallback.close()


@pytest.fixture
async def make_origin():
    origins: list[Origin] = []

    async def make() -> Origin:
        origins.append(await Origin().start())
        return origins[-1]

    yield make
    for origin in origins:
        await origin.close()


@pytest.fixture
async def origin(make_origin):
    return await make_origin()


@pytest.fixture
async def make_client():
    clients: list[HttpClient] = []

    def make(**settings: Any) -> HttpClient:
        options = {"allow_private": False, "max_bytes": 1024 * 1024, "connect_timeout": 5.0,
                   "total_timeout": 30.0, "max_redirects": 3, **settings}
        clients.append(HttpClient(**options))
        return clients[-1]

    yield make
    for client in clients:
        await client.close()


def public_dns_for(name: str, port: int, private: dict[str, str]) -> LoopbackDNS:
    """A DNS where `name` plays a public host (the loopback server on `port`, vouched for) and the `private`
    names resolve to what they map to, for the guard to refuse."""
    dns = LoopbackDNS().add(name, port)
    for host, address in private.items():
        dns.alias(host, address)
    return dns


# --- the SSRF guard ------------------------------------------------------------------------------------------

REFUSED_HOSTS = [
    pytest.param("127.0.0.1:{port}", id="ipv4-loopback"),
    pytest.param("169.254.169.254", id="cloud-metadata"),
    pytest.param("[::ffff:127.0.0.1]:{port}", id="ipv4-mapped-loopback"),
    pytest.param("[::127.0.0.1]:{port}", id="ipv4-compatible-loopback"),
    pytest.param("[::ffff:0:7f00:1]:{port}", id="ipv4-translated-loopback"),
    pytest.param("[64:ff9b::7f00:1]:{port}", id="nat64-loopback"),
    pytest.param("[::1]:{port}", id="ipv6-loopback"),
    pytest.param("0.0.0.0:{port}", id="unspecified"),
    pytest.param("localhost:{port}", id="localhost"),
    pytest.param("LOCALHOST:{port}", id="localhost-upper-case"),
    pytest.param("api.localhost:{port}", id="localhost-subdomain"),
    pytest.param("127.1:{port}", id="short-ipv4"),
    pytest.param("2130706433:{port}", id="decimal-ipv4"),
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_fetch__private_address_refused_without_connecting(make_client, origin, host):
    origin.document("/actor")
    with pytest.raises(FetchError):
        await make_client().get_json(f"http://{host.format(port=origin.port)}/actor")
    assert origin.requests == []


async def test_fetch__name_resolving_to_a_private_address_refused(make_client, origin):
    # Given a DNS that answers a loopback address for an innocent-looking name
    client = make_client(resolver=GuardedResolver(False, inner=FakeDNS({"intranet.example": "127.0.0.1"})))
    origin.document("/actor", host="intranet.example")
    with pytest.raises(FetchError):
        await client.get_json(origin.url("/actor", host="intranet.example"))
    assert origin.requests == []


async def test_fetch__post_to_a_private_address_refused(make_client, origin):
    with pytest.raises(FetchError):
        await make_client().post(origin.url("/inbox"), b"{}")
    assert origin.requests == []


@pytest.mark.parametrize("url", [
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("ftp://example.org/actor", id="ftp"),
    pytest.param("http:///actor", id="no-host"),
    pytest.param("http://user:secret@example.org/actor", id="credentials"),
])
async def test_fetch__url_that_is_not_plain_http_refused(make_client, url):
    with pytest.raises(FetchError):
        await make_client(allow_private=True).get_json(url)


@pytest.mark.parametrize("url", [
    pytest.param("http://[::1/actor", id="unclosed-ipv6"),
    pytest.param(f"http://{'a' * 64}.example/actor", id="label-over-63"),
    pytest.param(f"http://{'x' * 5000}/actor", id="huge-host"),
    pytest.param("http://xn--/actor", id="empty-punycode"),
    pytest.param("http://exa\u0000mple.org/actor", id="nul"),
    pytest.param("http://[fe80::1%25%zz]/actor", id="bad-zone"),
])
@pytest.mark.parametrize("allow_private", [False, True])
async def test_fetch__malformed_url_is_a_fetch_error_never_another_exception(make_client, url, allow_private):
    # Whatever a stranger puts in a keyId or an object id, the client refuses it as FetchError (which callers
    # handle), never ValueError or UnicodeError from the parser or the resolver (which became a 500)
    client = make_client(allow_private=allow_private)
    with pytest.raises(FetchError):
        await client.get_json(url)
    with pytest.raises(FetchError):
        await client.post(url, b"{}")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_fetch__loopback_allowed_when_private_addresses_are_on(make_client, origin, host):
    origin.document("/actor", host=host)
    document = await make_client(allow_private=True).get_json(origin.url("/actor", host=host))
    assert document["id"] == origin.url("/actor", host=host)
    assert origin.requests == ["/actor"]


@pytest.mark.parametrize("target", [
    pytest.param("http://127.0.0.1:{port}/secret", id="ipv4-loopback"),
    pytest.param("//127.0.0.1:{port}/secret", id="scheme-relative"),
    pytest.param("http://[::ffff:127.0.0.1]:{port}/secret", id="ipv4-mapped"),
    pytest.param("http://localhost:{port}/secret", id="localhost"),
    pytest.param("http://intranet.example:{port}/secret", id="name-resolving-private"),
    pytest.param("http://169.254.169.254/latest/meta-data/", id="cloud-metadata"),
    pytest.param("file:///etc/passwd", id="file"),
])
async def test_fetch__redirect_to_a_private_address_refused(make_client, make_origin, target):
    # Given a public host that redirects to an internal one
    public, internal = await make_origin(), await make_origin()
    internal.document("/secret")
    public.redirect("/actor", target.format(port=internal.port))
    client = make_client(resolver=public_dns_for("public.example", public.port, {"intranet.example": "127.0.0.1"}))

    with pytest.raises(FetchError):
        await client.get_json(public.url("/actor", host="public.example"))

    assert public.requests == ["/actor"]
    assert internal.requests == []


async def test_fetch__redirect_on_a_public_host_followed(make_client, origin):
    # The counterpart of the refusals above: the fake public host is reachable, redirects and all
    origin.redirect("/actor", "/users/actor")
    origin.document("/users/actor", host="public.example")
    client = make_client(resolver=public_dns_for("public.example", origin.port, {}))
    document = await client.get_json(origin.url("/actor", host="public.example"))
    assert document["id"] == origin.url("/users/actor", host="public.example")


# --- what a fetched document must be -------------------------------------------------------------------------


@pytest.mark.parametrize("document", [
    pytest.param({"id": "http://elsewhere.example/actor", "type": "Person"}, id="other-id"),
    pytest.param({"type": "Person"}, id="no-id"),
])
async def test_fetch__document_whose_id_is_not_the_url_refused(make_client, origin, document):
    origin.document("/actor", document)
    with pytest.raises(FetchError, match="id"):
        await make_client(allow_private=True).get_json(origin.url("/actor"))


async def test_fetch__document_id_checked_against_the_final_url(make_client, origin):
    # Given a redirect to a document that names the URL first asked for
    origin.redirect("/actor", "/moved")
    origin.document("/moved", {"id": origin.url("/actor"), "type": "Person"})
    with pytest.raises(FetchError, match="id"):
        await make_client(allow_private=True).get_json(origin.url("/actor"))


async def test_fetch__three_redirects_followed(make_client, origin):
    for hop in range(3, 0, -1):
        origin.redirect(f"/r{hop}", f"/r{hop - 1}")
    origin.document("/r0")
    assert (await make_client(allow_private=True).get_json(origin.url("/r3")))["id"] == origin.url("/r0")


async def test_fetch__more_than_three_redirects_refused(make_client, origin):
    for hop in range(4, 0, -1):
        origin.redirect(f"/r{hop}", f"/r{hop - 1}")
    origin.document("/r0")
    with pytest.raises(FetchError, match="redirected more than 3 times"):
        await make_client(allow_private=True).get_json(origin.url("/r4"))
    assert origin.requests == ["/r4", "/r3", "/r2", "/r1"]


async def test_fetch__body_over_max_bytes_refused(make_client, origin):
    origin.document("/actor", {"id": origin.url("/actor"), "type": "Person", "summary": "x" * 4096})
    with pytest.raises(FetchError, match="more than 1024 bytes"):
        await make_client(allow_private=True, max_bytes=1024).get_json(origin.url("/actor"))


async def test_fetch__gzip_bomb_refused(make_client, origin):
    # Given 2 MiB of JSON that travels as a few kilobytes of gzip: the limit holds after decompression
    inflated = json.dumps({"id": origin.url("/actor"), "type": "Person", "summary": " " * (2 * 1024 * 1024)})
    origin.answers["/actor"] = (200, {"Content-Type": AS_JSON, "Content-Encoding": "gzip"},
                                gzip.compress(inflated.encode()))
    with pytest.raises(FetchError, match="more than"):
        await make_client(allow_private=True).get_json(origin.url("/actor"))


@pytest.mark.parametrize("content_type", ["text/html", "application/json", "text/plain"])
async def test_fetch__content_type_that_is_not_activitystreams_refused(make_client, origin, content_type):
    origin.document("/actor", content_type=content_type)
    with pytest.raises(FetchError, match="not an ActivityStreams document"):
        await make_client(allow_private=True).get_json(origin.url("/actor"))


@pytest.mark.parametrize("content_type", [
    AS_JSON, "application/activity+json; charset=utf-8",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
])
async def test_fetch__activitystreams_content_types_accepted(make_client, origin, content_type):
    origin.document("/actor", content_type=content_type)
    assert (await make_client(allow_private=True).get_json(origin.url("/actor")))["id"] == origin.url("/actor")


# --- netguard ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "192.0.2.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
    "::ffff:0:7f00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::",
    "2002:c0a8:101::1", "not an address", "", "127.1", "2130706433",
    # What this Python's tables call global though nothing here should reach it: IPv6 site-local (deprecated,
    # still routed inside some networks), IETF special-purpose IPv4, IPv6 documentation and SRv6 SIDs
    "fec0::1", "feff::1", "192.0.0.8", "192.0.0.9", "3fff::1", "5f00::1", "64:ff9b::c000:8",
])
def test_is_public__private_and_tricky_addresses_are_not(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
])
def test_is_public__global_addresses_are(address):
    assert is_public(address)


@pytest.mark.parametrize(("address", "inner"), [
    ("::ffff:127.0.0.1", "127.0.0.1"), ("::127.0.0.1", "127.0.0.1"), ("::ffff:0:7f00:1", "127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"), ("2002:c0a8:101::1", "192.168.1.1"), ("::1", "::1"),
    ("2606:4700:4700::1111", "2606:4700:4700::1111"),
])
def test_unwrap__finds_the_ipv4_address_inside(address, inner):
    assert str(unwrap(ipaddress.ip_address(address))) == inner


@pytest.mark.parametrize(("host", "literal"), [
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ("example.org", None), ("localhost", None),
])
def test_literal_ip__only_for_ip_literals(host, literal):
    assert literal_ip(host) == literal


async def test_guarded_resolver__refuses_a_name_that_resolves_to_a_private_address():
    with pytest.raises(AddressRefused):
        await GuardedResolver(False, inner=FakeDNS({"intranet.example": "10.1.2.3"})).resolve("intranet.example")


async def test_guarded_resolver__refuses_localhost_from_the_system_resolver():
    resolver = GuardedResolver(False)
    try:
        with pytest.raises(AddressRefused):
            await resolver.resolve("localhost")
    finally:
        await resolver.close()


async def test_guarded_resolver__passes_private_answers_when_allowed():
    answers = await GuardedResolver(True, inner=FakeDNS({"intranet.example": "10.1.2.3"})).resolve(
        "intranet.example")
    assert [a["host"] for a in answers] == ["10.1.2.3"]
