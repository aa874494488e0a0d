"""`congregation verify-decisions URL`: fetch a Congregation's decision log and check every entry's hash,
its place in the chain and the Group's signature: the RSA key's for version-1 entries, the Ed25519 Multikey's
(eddsa-jcs-2022) for version-2 ones, whose bodies, when shown, must match their commitments; then check it against
what its siblings witnessed of it (each sibling its attestation names, and any `--witness`): a signed entry a
sibling saw that the log no longer holds, or an equivocation proof that verifies, fails it, naming the entry.
Anyone may run it; it needs no data directory.

`congregation verify-decisions --sibling URI --data DIR`: read a sibling's whole log now and check it against what
this node witnessed of it (and keep what was read, as the witness clock does)."""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import quote

from aiohttp.abc import AbstractResolver

from node.activitypub.as2.parse import own_keys_of
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.webfinger_client import resolve_handle
from node.config import ConfigError
from node.governance import witness
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


def _log_hashes(items: list[dict[str, Any]]) -> dict[int, str]:
    """seq → hash of a log whose chain already verified."""
    hashes = {}
    for position, item in enumerate(items, start=1):
        hashes[position] = witness.claimed_hash(item) or ""
    return hashes


async def _witnesses(client: HttpClient, actor: dict[str, Any], named: list[str]) -> list[str]:
    """Who may have witnessed this log: the siblings its Group attests (if it serves an attestation), and those
    named on the command line. A Group that rewrites its log could leave a sibling out of its attestation:
    `--witness` names one anyway."""
    found = list(named)
    try:
        attestation = await client.get_json(f"{actor['id']}/siblings", sign=False)
        listed = attestation.get("siblings") if attestation.get("attributedTo") == actor["id"] else None
        for entry in listed if isinstance(listed, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"] not in found:
                found.append(entry["id"])
    except FetchError:
        pass
    return found


async def check_witnessed(client: HttpClient, actor: dict[str, Any], items: list[dict[str, Any]],
                          named: list[str]) -> Verification | None:
    """The log against what each witness saw of it: a failed Verification naming the first entry a witness holds
    signed differently (or a verified equivocation proof it holds), else None. What a witness says counts only for
    the accused Group's own signatures in it, so a lying witness can frame no one."""
    keys = {kid: material for kid, (_, material) in own_keys_of(actor).items()}
    hashes = _log_hashes(items)
    quoted = quote(actor["id"], safe="")
    for who in await _witnesses(client, actor, named):
        try:
            seen = await client.get_json(f"{who}/witnessed?group={quoted}", sign=False)
        except FetchError:
            continue
        for proof in seen.get("equivocations") or []:
            if not isinstance(proof, dict):
                continue
            try:
                checked = witness.check_proof(actor["id"], proof.get("seq"), proof.get("entries"), keys)
            except witness.WitnessError:
                continue
            return Verification(False, checked.seq - 1, f"entry {checked.seq} was rewritten: {who} holds two"
                                                        f" different signed entries {checked.seq} as proof")
        try:
            entry = witness.signed_entry(seen.get("entry"), keys)
        except witness.WitnessError:
            continue
        finding = witness.against_witnessed(hashes, {entry.seq: entry}, who)
        if finding is not None:
            return Verification(False, finding.seq - 1, finding.problem)
    return None


async def verify(target: str, allow_private: bool = False, allow_http: bool = False,
                 resolver: AbstractResolver | None = None, witnesses: list[str] | None = None) -> Verification:
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
        result = verify_chain(items, pem, record_key)
        if not result.ok:
            return result
        return await check_witnessed(client, actor, items, witnesses or []) or result
    except FetchError as exc:
        raise VerifyError(f"cannot fetch the log: {exc}") from None
    finally:
        await client.close()


async def verify_sibling(data: str, sibling: str, resolver: AbstractResolver | None = None) -> Verification:
    """A sibling's whole log, read by our node now, against what our node witnessed of it."""
    from node.activitypub.clients import signing_client
    from node.commands.opening import open_node
    from node.processing import witness as witnessing
    from node.store import witness as witness_store

    async with open_node(data) as node:
        client = signing_client(node.config, node.group, resolver=resolver) if resolver is not None \
            else node.client()
        try:
            finding = await witnessing.check_sibling(node.db, node.config, client, sibling)
            head = await witness_store.head(node.db, sibling)
        finally:
            if resolver is not None:
                await client.close()
    if finding is not None:
        return Verification(False, max(finding.seq - 1, 0), finding.problem)
    seq = head.seq if head is not None else 0
    return Verification(True, seq)


async def cmd_verify_decisions(args: argparse.Namespace) -> int:
    if args.sibling is not None:
        if args.data is None:
            print("--sibling checks against what this node witnessed: give its --data directory")
            return 2
        try:
            result = await verify_sibling(args.data, args.sibling)
        except ConfigError as exc:
            print(f"cannot open the node: {exc}")
            return 1
        if result.ok:
            print(f"OK: {result.entries} decision{'s' * (result.entries != 1)} of {args.sibling}; it extends every"
                  " signed entry this node witnessed")
            return 0
        print(f"FAILED: {args.sibling}: {result.problem}")
        return 1
    if args.target is None:
        print("name the Congregation to verify (its URL, its log's URL or @group@host), or --sibling URI")
        return 2
    result = await verify(args.target, allow_private=args.allow_private_addresses, witnesses=args.witness)
    if result.ok:
        print(f"OK: {result.entries} decision{'s' * (result.entries != 1)}; every hash, link and signature checks out")
        return 0
    print(f"FAILED after {result.entries} good entr{'ies' if result.entries != 1 else 'y'}: {result.problem}")
    return 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify-decisions",
                       help="fetch a Congregation's decision log and verify its chain and signatures")
    p.add_argument("target", nargs="?", help="the Congregation's URL, its decision log's URL, or @group@host")
    p.add_argument("--witness", action="append", default=[], metavar="GROUP",
                   help="also ask this Group what it witnessed of the log (its siblings are asked anyway)")
    p.add_argument("--sibling", metavar="URI",
                   help="check a sibling's log against what this node witnessed of it (needs --data)")
    p.add_argument("--data", default=os.environ.get("CONGREGATION_DATA"),
                   help="the node's data directory, with --sibling (default: $CONGREGATION_DATA)")
    p.add_argument("--allow-private-addresses", action="store_true",
                   help="allow loopback/private addresses (local demos and tests)")
    p.set_defaults(run=cmd_verify_decisions)
