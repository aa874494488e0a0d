"""`congregation block`, `unblock` and `blocks`: the operator blocks a server for the whole Congregation, lifts a
block, and lists the blocked servers, the federation mode and the allowlist. Through processing, as the web does."""

from __future__ import annotations

import argparse

from node.commands.opening import open_node
from node.processing import moderation
from node.store import moderation as store


async def cmd_block(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        host = await moderation.block_server(node.db, node.config, None, args.server, args.reason)
    print(f"Blocked {host}: nothing is delivered to it and nothing from it is accepted; its follows have ended.")
    return 0


async def cmd_unblock(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        host = await moderation.unblock_server(node.db, node.config, None, args.server, args.reason)
    print(f"Unblocked {host}: new activities are delivered to it again.")
    return 0


async def cmd_blocks(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        blocked = await store.server_blocks(node.db)
        mode = await store.mode(node.db)
        allowed = await store.allowed_servers(node.db)
    print(f"Federation: {mode}" + (" (siblings and listed servers only)" if mode == store.ALLOWLIST else ""))
    if not blocked:
        print("No blocked servers.")
    for block in blocked:
        by = "by proposal" if block.proposal_id else ("by a Partner" if block.by_id else "by the operator")
        print(f"blocked\t{block.host}\t{block.created_at[:16].replace('T', ' ')}\t{by}\t{block.reason}")
    for host, _, since in allowed:
        print(f"listed\t{host}\t{since[:16].replace('T', ' ')}")
    return 0


def add_parsers(sub: argparse._SubParsersAction, data_arg) -> None:
    """Register `block`, `unblock` and `blocks`."""
    p = sub.add_parser("block", help="block a server for the whole Congregation (recorded in the moderation log)")
    p.add_argument("server", help="the server's name (social.example) or a URL on it")
    p.add_argument("--reason", required=True, help="why; every member reads it in the moderation log")
    data_arg(p)
    p.set_defaults(run=cmd_block)
    p = sub.add_parser("unblock", help="lift a block: new activities are delivered to the server again")
    p.add_argument("server")
    p.add_argument("--reason", default="", help="why (recorded)")
    data_arg(p)
    p.set_defaults(run=cmd_unblock)
    p = sub.add_parser("blocks", help="blocked servers, the federation mode and the allowlist")
    data_arg(p)
    p.set_defaults(run=cmd_blocks)
