"""`congregation verify-decisions URL`: fetch a Congregation's decision log and check every entry's hash,
its place in the chain and the Group's signature: the RSA key's for version-1 entries, the Ed25519 Multikey's
(eddsa-jcs-2022) for version-2 ones, whose bodies, when shown, must match their commitments. Anyone may run it;
it needs no data directory."""

from __future__ import annotations

import argparse
from typing import Any

from aiohttp.abc import AbstractResolver

from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.webfinger_client import resolve_handle
from node.governance.decision_log import Verification, verify_chain

MAX_PAGES = 10_000


class VerifyError(Exception):
    """The log cannot be fetched or read; the message is the one line shown."""


def _client(allow_private: bool, resolver: AbstractResolver | None = None) -> HttpClient:
    return HttpClient(allow_private=allow_private, max_bytes=4 * 1024 * 1024, connect_timeout=5.0,
                      total_timeout=30.0, max_redirects=3, resolver=resolver)


async def _group(client: HttpClient, target: str, allow_http: bool) -> dict[str, Any]:
    if target.startswith("@") or ("@" in target and "://" not in target):
        target = await resolve_handle(client, target, allow_http=allow_http)
    if target.rstrip("/").endswith("/decisions"):
        target = target.rstrip("/").rsplit("/decisions", 1)[0]
    actor = await client.get_json(target, sign=False)
    if actor.get("type") != "Group":
        raise VerifyError(f"{target} is not a Congregation (its type is {actor.get('type')!r}, not Group)")
    return actor


async def fetch_log(client: HttpClient, actor: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of the Group's `decisions` collection, oldest first, following `next` links."""
    url = actor.get("decisions") or f"{actor['id']}/decisions"
    collection = await client.get_json(url, sign=False)
    page_url, items = collection.get("first"), []
    for _ in range(MAX_PAGES):
        if not page_url:
            break
        page = await client.get_json(page_url, sign=False) if isinstance(page_url, str) else page_url
        found = page.get("orderedItems", [])
        if not isinstance(found, list):
            raise VerifyError(f"{page.get('id', page_url)}: orderedItems is not a list")
        items.extend(found)
        page_url = page.get("next")
    else:
        raise VerifyError(f"the log has more than {MAX_PAGES} pages")
    total = collection.get("totalItems")
    if isinstance(total, int) and total != len(items):
        raise VerifyError(f"the collection says {total} entries but its pages hold {len(items)}: entries are missing")
    return items


def _record_key(actor: dict[str, Any]) -> tuple[str | None, str | None]:
    """(id, publicKeyMultibase) of the Group's FEP-521a Multikey in `assertionMethod`, if it lists one."""
    methods = actor.get("assertionMethod")
    for method in methods if isinstance(methods, list) else [methods]:
        if (isinstance(method, dict) and method.get("type") == "Multikey" and method.get("controller") == actor["id"]
                and isinstance(method.get("id"), str) and isinstance(method.get("publicKeyMultibase"), str)):
            return method["id"], method["publicKeyMultibase"]
    return None, None


async def verify(target: str, allow_private: bool = False, allow_http: bool = False,
                 resolver: AbstractResolver | None = None) -> Verification:
    """`resolver` resolves behind the SSRF guard, as create_app's does (a test's made-up names)."""
    client = _client(allow_private, resolver)
    try:
        actor = await _group(client, target, allow_http or allow_private)
        key = actor.get("publicKey")
        pem = key.get("publicKeyPem") if isinstance(key, dict) else None
        if not isinstance(pem, str):
            raise VerifyError(f"{actor['id']} publishes no RSA public key")
        record_id, record_key = _record_key(actor)
        items = await fetch_log(client, actor)
        for position, item in enumerate(items, start=1):
            if isinstance(item, dict) and item.get("signedBy") not in (None, key.get("id")):
                return Verification(False, position - 1, f"entry {position} names another key: {item.get('signedBy')}")
            proof = item.get("proof") if isinstance(item, dict) else None
            if isinstance(proof, dict) and proof.get("verificationMethod") != record_id:
                return Verification(False, position - 1,
                                    f"entry {position} names another key: {proof.get('verificationMethod')}")
        return verify_chain(items, pem, record_key)
    except FetchError as exc:
        raise VerifyError(f"cannot fetch the log: {exc}") from None
    finally:
        await client.close()


async def cmd_verify_decisions(args: argparse.Namespace) -> int:
    result = await verify(args.target, allow_private=args.allow_private_addresses)
    if result.ok:
        print(f"OK: {result.entries} decision{'s' * (result.entries != 1)}; every hash, link and signature checks out")
        return 0
    print(f"FAILED after {result.entries} good entr{'ies' if result.entries != 1 else 'y'}: {result.problem}")
    return 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify-decisions",
                       help="fetch a Congregation's decision log and verify its chain and signatures")
    p.add_argument("target", help="the Congregation's URL, its decision log's URL, or @group@host")
    p.add_argument("--allow-private-addresses", action="store_true",
                   help="allow loopback/private addresses (local demos and tests)")
    p.set_defaults(run=cmd_verify_decisions)
