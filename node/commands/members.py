"""`congregation member …` and `congregation invite`: the operator manages who belongs, at the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from node import uris
from node.activitypub import signatures
from node.activitypub.as2.documents import actor_id
from node.commands.arguments import whole_number
from node.commands.opening import open_node
from node.governance import accounts, invitations, membership
from node.governance.membership import MembershipError
from node.processing import membership as processing_membership
from node.store import invitations as invitations_store
from node.store import local_actors


def keypair() -> tuple[str, str]:
    """A new RSA key pair for an actor, as (private PEM, public PEM)."""
    key = signatures.generate_private_key()
    return signatures.private_pem(key), signatures.public_pem(key)


def read_password(stream=None) -> str:
    """One line from stdin (without its line ending); a prompt without echo when stdin is a terminal."""
    stream = stream or sys.stdin
    if stream.isatty():
        return getpass.getpass("Password: ")
    return stream.readline().rstrip("\r\n")


_count = whole_number("a number from 1")


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


async def cmd_member_add(args: argparse.Namespace) -> int:
    handle = membership.check_handle(args.handle)
    # Hash before opening the database: a bad password changes nothing, and argon2 does not hold the write lock.
    hashed = await accounts.hash_password(read_password()) if args.password_stdin else None
    async with open_node(args.data) as node:
        config, db = node.config, node.db
        await membership.add_member(db, handle, args.display_name or "", args.tier, *keypair(), config=config,
                                    password_hash=hashed)
        print(f"Added {args.tier} @{handle}@{config.host} ({actor_id(config, handle)})"
              + ("; they can sign in at " + uris.page(config, "/login") if hashed else ""))
    return 0


async def cmd_member_list(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        db = node.db
        found = await local_actors.members(db)
        if not found:
            print("No members yet. Invite the first Partner with `congregation invite --tier partner`.")
        for member in found:
            # A member's actor is created with the membership and handles are never reused: created_at is the join.
            print(f"{member.username}\t{member.tier}\t{member.display_name}\t{member.created_at[:10]}")
    return 0


async def cmd_member_log(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        db = node.db
        events = list(reversed(await invitations_store.events(db, args.limit)))
        if not events:
            print("No membership events yet.")
        names: dict[int, str] = {}

        async def name(actor: int | None) -> str:
            if actor is None:
                return "the operator"
            if actor not in names:
                found = await local_actors.by_id(db, actor)
                names[actor] = f"@{found.username}" if found else f"#{actor}"
            return names[actor]

        for event in events:
            print(f"{_when(event.created_at)}\t{event.kind}\t{await name(event.member_id)}\t{event.tier or '-'}\t"
                  f"by {await name(event.by_id)}\t{event.reason or '-'}")
    return 0


async def cmd_member_promote(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        db = node.db
        actor = await membership.promote(db, args.handle, None, args.reason)
        print(f"@{actor.username} is now a Partner.")
    return 0


async def cmd_member_demote(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        db = node.db
        actor = await membership.demote(db, args.handle, None, args.reason)
        print(f"@{actor.username} is now a Friend.")
    return 0


async def cmd_member_remove(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        db = node.db
        actor = await processing_membership.remove(db, node.config, args.handle, None, args.reason)
        print(f"@{actor.username} is no longer a member; their sessions have ended and their posts stay.")
    return 0


async def cmd_member_reset_link(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        config, db = node.config, node.db
        member = await local_actors.by_username(db, args.handle.strip().lstrip("@").lower())
        if member is None or member.tier is None:
            raise MembershipError(f"there is no member {args.handle} (see `congregation member list`)")
        token = await accounts.issue_reset(db, member, None)
        print(f"Password-reset link for @{member.username}, single use, valid for {accounts.RESET_HOURS} hours:")
        print(uris.page(config, f"/reset/{token}"))
    return 0


async def cmd_invite(args: argparse.Namespace) -> int:
    async with open_node(args.data) as node:
        config, db = node.config, node.db
        issued = await invitations.create(db, config, None, args.tier, args.note)
        print(f"Invitation to join as a {args.tier.title()}, single use, "
              f"valid until {_when(issued.invitation.expires_at)} UTC:")
        print(uris.page(config, f"/invite/{issued.token}"))
    return 0


def add_parser(sub: argparse._SubParsersAction, data_arg: Callable[[argparse.ArgumentParser], None],
               parser_class: type[argparse.ArgumentParser]) -> None:
    """Register `member …` and `invite` on the subparsers `sub`; `data_arg(p)` adds --data as cli.py does."""
    tiers = ("friend", "partner")
    p = sub.add_parser("member", help="members: add, list, promote, demote, remove, reset links, the log")
    msub = p.add_subparsers(dest="action", required=True, parser_class=parser_class)

    def command(name: str, run, help_text: str, handle: bool = True) -> argparse.ArgumentParser:
        q = msub.add_parser(name, help=help_text)
        if handle:
            q.add_argument("handle")
        data_arg(q)
        q.set_defaults(run=run)
        return q

    q = command("add", cmd_member_add, "add a member directly")
    q.add_argument("--tier", choices=tiers, default="friend")
    q.add_argument("--name", dest="display_name", default=None, help="display name (default: the handle)")
    q.add_argument("--password-stdin", action="store_true",
                   help="read the member's password from the first line of stdin, so they can sign in")
    command("list", cmd_member_list, "list members: handle, tier, display name, date joined", handle=False)
    q = command("log", cmd_member_log, "the membership record: joins, promotions, removals", handle=False)
    q.add_argument("--limit", type=_count, default=200, help="the most recent N events (default 200)")
    q = command("promote", cmd_member_promote, "make a Friend a Partner")
    q.add_argument("--reason", default="", help="recorded in the membership log")
    q = command("demote", cmd_member_demote, "make a Partner a Friend")
    q.add_argument("--reason", default="", help="recorded in the membership log")
    q = command("remove", cmd_member_remove, "end someone's membership (their posts stay)")
    q.add_argument("--reason", required=True, help="why; recorded in the membership log for everyone")
    command("reset-link", cmd_member_reset_link, "print a single-use password-reset link for a member")

    p = sub.add_parser("invite", help="issue an invitation link (the first Partner joins this way)")
    p.add_argument("--tier", choices=tiers, default="friend")
    p.add_argument("--note", default="", help="a note shown with the invitation")
    data_arg(p)
    p.set_defaults(run=cmd_invite)
