"""Reports: who may file one, who sees it, and what a Partner may do with it (issue 12, moderation).

A member reports a post they can see; another server's `Flag` about one of ours becomes a report from that server,
and a stranger's open reports are bounded per host and in all. Partners see the queue, except reports about
themselves; they resolve or dismiss a report with a note, forward a report about a remote account to its server,
or remove a reported local post. Every Partner's action is written to the moderation log. Call inside a
transaction."""

from __future__ import annotations

import aiosqlite

from node.governance.errors import Conflict, Invalid, NotAllowed, NotFound
from node.governance.events import Event, PostDeleted, ReportClosed, ReportFiled, ReportForwarded
from node.store import local_actors, moderation_log
from node.store import posts as posts_store
from node.store import reports as reports_store
from node.store.local_actors import LocalActor
from node.store.reports import Report

MAX_COMMENT = 1000       # characters of a reporter's comment, a Partner's note or a forwarded comment
MAX_POSTS = 20           # posts one report names
MAX_OPEN_PER_HOST = 10   # open reports one remote host may have in the queue at once
MAX_OPEN_REMOTE = 200    # open reports from all remote hosts together
CLOSED = ("resolved", "dismissed")


class ReportError(Invalid):
    """A report cannot be filed or acted on; the message says why, for a person to read."""


class NoSuchReport(ReportError, NotFound):
    """There is no such report, or not one this Partner may see."""


class NotAPartner(ReportError, NotAllowed):
    """Only Partners handle reports."""


class ReportConflict(ReportError, Conflict):
    """Already reported, already closed, already forwarded, or the queue is full for this sender."""


def _comment(text: str, what: str = "a comment") -> str:
    text = text.strip()
    if len(text) > MAX_COMMENT:
        raise ReportError(f"{what} is at most {MAX_COMMENT} characters")
    return text


async def file(db: aiosqlite.Connection, reporter: LocalActor, *, account: str, account_id: int | None,
               posts: list[str], comment: str) -> list[Event]:
    """A member reports `posts` by `account` (ours when `account_id` is set) to the Partners."""
    if reporter.kind == "Group" or reporter.tier is None:
        raise ReportError(f"@{reporter.username} is not a member and cannot report")
    comment = _comment(comment)
    if account_id == reporter.id:
        raise ReportError("you cannot report your own post")
    posts = list(dict.fromkeys(posts))[:MAX_POSTS]
    if await reports_store.open_by_member(db, reporter.id, account, posts) is not None:
        raise ReportConflict("you have reported this already; the Partners have it")
    report_id = await reports_store.insert(db, account=account, account_id=account_id, posts=posts, comment=comment,
                                           reporter_id=reporter.id)
    return [ReportFiled(await reports_store.by_id(db, report_id))]


async def receive(db: aiosqlite.Connection, *, reporter_uri: str, reporter_host: str, reporter_domain: str,
                  activity_id: str, account: str, account_id: int, posts: list[str], comment: str) -> list[Event]:
    """Another server's Flag about our `account`: a report from that server, within the bounds a stranger has.

    Bounded per registrable domain (`reporter_domain`), not per host name: a wildcard-DNS domain's thousand names
    are one owner."""
    if await reports_store.count_open_from_domain(db, reporter_domain) >= MAX_OPEN_PER_HOST:
        raise ReportConflict(f"{reporter_domain} has {MAX_OPEN_PER_HOST} open reports already")
    if await reports_store.count_open_remote(db) >= MAX_OPEN_REMOTE:
        raise ReportConflict(f"{MAX_OPEN_REMOTE} reports from other servers are open already")
    report_id = await reports_store.insert(
        db, account=account, account_id=account_id, posts=list(dict.fromkeys(posts))[:MAX_POSTS],
        comment=comment.strip()[:MAX_COMMENT], reporter_uri=reporter_uri, reporter_host=reporter_host,
        reporter_domain=reporter_domain,
        activity_id=activity_id)
    return [ReportFiled(await reports_store.by_id(db, report_id))]


def _check_partner(actor: LocalActor) -> None:
    if actor.tier != "partner":
        raise NotAPartner("only Partners handle reports")


def hidden_from(report: Report, partner: LocalActor) -> bool:
    """A report about a Partner is not shown to that Partner."""
    return report.account_id == partner.id


async def queue(db: aiosqlite.Connection, partner: LocalActor, state: str | None = "open") -> list[Report]:
    """The reports this Partner may see, newest first."""
    _check_partner(partner)
    return [r for r in await reports_store.listed(db, state) if not hidden_from(r, partner)]


async def moderation_record(db: aiosqlite.Connection, viewer: LocalActor,
                            limit: int = 200) -> list[moderation_log.ModerationEvent]:
    """The moderation log as `viewer` may read it: every member sees the Congregation's blocks, unblocks and
    allowlist changes; entries about reports (who reported what, about whom, and what was done) only Partners, and
    a Partner none about a report concerning them, as the queue (issue 12, red team F3)."""
    if viewer.tier != "partner":
        return await moderation_log.events(db, limit, reports=False)
    return await moderation_log.events(db, limit, hide_reports_about=viewer.id)


async def visible(db: aiosqlite.Connection, partner: LocalActor, report_id: int) -> Report:
    """One report this Partner may see; one about them is, to them, not there at all."""
    _check_partner(partner)
    report = await reports_store.by_id(db, report_id)
    if report is None or hidden_from(report, partner):
        raise NoSuchReport(f"there is no report {report_id}")
    return report


async def close(db: aiosqlite.Connection, partner: LocalActor, report_id: int, state: str,
                note: str) -> list[Event]:
    """Resolve or dismiss an open report, with a note; recorded in the moderation log."""
    report = await visible(db, partner, report_id)
    if state not in CLOSED:
        raise ReportError(f"a report is closed as one of {', '.join(CLOSED)}, not {state!r}")
    note = _comment(note, "a note")
    if report.state != "open":
        raise ReportConflict(f"report {report_id} is {report.state} already")
    await reports_store.close(db, report.id, state, partner.id, note)
    await moderation_log.record(db, f"report-{state}", str(report.id), by_id=partner.id, report_id=report.id,
                                reason=note)
    return [ReportClosed(await reports_store.by_id(db, report.id))]


async def forward(db: aiosqlite.Connection, partner: LocalActor, report_id: int, comment: str,
                  inbox: str) -> list[Event]:
    """Send a report about a remote account on to its server, as the Group's Flag (who reported stays here)."""
    report = await visible(db, partner, report_id)
    comment = _comment(comment)
    if report.account_id is not None or report.remote:
        raise ReportError("only a member's report about an account on another server can be forwarded")
    if report.forwarded_at is not None:
        raise ReportConflict(f"report {report_id} was forwarded already")
    group = await local_actors.group(db)
    await reports_store.mark_forwarded(db, report.id)
    await moderation_log.record(db, "report-forwarded", report.account, by_id=partner.id, report_id=report.id,
                                reason=comment)
    return [ReportForwarded(await reports_store.by_id(db, report.id), group, comment, inbox)]


async def remove_post(db: aiosqlite.Connection, partner: LocalActor, report_id: int, post_id: int, target: str,
                      note: str) -> list[Event]:
    """A Partner removes a reported post of ours (it is deleted as its author's); `target` names it in the log."""
    report = await visible(db, partner, report_id)
    note = _comment(note, "a note")
    post = await posts_store.by_id(db, post_id)
    if post is None or post.deleted_at is not None or post.author_id != report.account_id:
        raise NoSuchReport(f"report {report_id} names no such post of ours")
    author = await local_actors.by_id(db, post.author_id)
    await posts_store.mark_deleted(db, post.id)
    await moderation_log.record(db, "post-removed", target, by_id=partner.id, report_id=report.id, reason=note)
    return [PostDeleted(await posts_store.by_id(db, post.id), author)]
