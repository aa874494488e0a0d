"""`congregation report URL --as HANDLE [COMMENT]`: a member reports a post they can read to the Partners;
`congregation reports --as PARTNER [--all]`: the queue as that Partner sees it (never a report about them)."""

from __future__ import annotations

import argparse
import sys

from node.commands.opening import OpenNode, open_node
from node.governance import reports as rules
from node.governance.errors import GovernanceError, NotFound
from node.processing import reports
from node.store import local_actors


async def _member(node: OpenNode, handle: str):
    found = await local_actors.by_username(node.db, handle.lstrip("@").lower())
    if found is None or found.tier is None:
        raise NotFound(f"no member @{handle} (see `congregation member list`)")
    return found


async def cmd_report(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        try:
            report = await reports.file_report(node.db, node.config, await _member(node, args.handle), args.url,
                                               " ".join(args.comment))
        except GovernanceError as exc:
            print(f"congregation: {exc}", file=sys.stderr)
            return 1
    print(f"Reported: report {report.id} is with the Partners.")
    return 0


async def cmd_reports(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        try:
            listed = await rules.queue(node.db, await _member(node, args.handle), None if args.all else "open")
        except GovernanceError as exc:
            print(f"congregation: {exc}", file=sys.stderr)
            return 1
    for report in listed:
        by = f"member {report.reporter_id}" if report.reporter_id else report.reporter_host
        print("\t".join((str(report.id), report.state, report.created_at, by, report.account,
                         " ".join(report.posts), report.comment.replace("\n", " "))))
    return 0


def add_parser(sub, data_arg) -> None:
    p = sub.add_parser("report", help="a member reports a post to the Partners")
    p.add_argument("url", help="the post's URL: a fellow member's post, or a public one from another server held here")
    p.add_argument("comment", nargs="*", help="what is wrong with it")
    p.add_argument("--as", dest="handle", required=True, help="the member who reports")
    data_arg(p)
    p.set_defaults(run=cmd_report)
    p = sub.add_parser("reports", help="the report queue, as a Partner sees it")
    p.add_argument("--as", dest="handle", required=True, help="the Partner")
    p.add_argument("--all", action="store_true", help="closed reports too")
    data_arg(p)
    p.set_defaults(run=cmd_reports)
