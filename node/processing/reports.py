"""Reports, for the web, the CLI and the inbound Flag handler: file one, take in another server's, and what
Partners do with them (close, forward as the Group's Flag, remove a reported post). Each change and what it sends
commit together."""

from __future__ import annotations

import aiosqlite

from node import uris
from node.activitypub.blocks import BLOCKED, fetch_refusal, server_of
from node.activitypub.fetch import FetchError, HttpClient
from node.activitypub.remote_actors import ActorUnavailable, get_remote_actor
from node.config import Config
from node.governance import reports
from node.governance.errors import Unreachable
from node.governance.reports import NoSuchReport, ReportConflict, ReportError
from node.processing.common import apply
from node.store import crews as crews_store
from node.store import local_actors, remote_objects
from node.store import posts as posts_store
from node.store import reports as reports_store
from node.store.local_actors import LocalActor
from node.store.reports import Report

__all__ = ["NoSuchReport", "ReportError", "close_report", "file_report", "flag_received", "forward_report",
           "remove_post", "reported_account"]


class CannotReach(ReportError, Unreachable):
    """The reported account's server cannot be reached to find its inbox."""


class NotSent(ReportConflict):
    """The Congregation sends nothing to that server (blocked, or left out in allowlist mode)."""


# What a member may report, and the one answer for everything else: a fellow member's live post they can read
# (public, members-only, or their own crew's), or a public or unlisted post from another server held here. A direct
# or followers-only post held here, a crew post of another crew, a deleted one and a URL not held here are refused
# alike, so the answer tells a curious member nothing about what the node holds (issue 12, red team F6).
NOT_REPORTABLE = ("there is no such post here to report: a post you can read here, by another member or a public"
                  " one from another server, can be reported")


async def _can_see(db: aiosqlite.Connection, member: LocalActor, post: posts_store.Post) -> bool:
    if post.visibility != "crew":
        return post.visibility in ("public", "members")
    crew = await crews_store.by_id(db, post.crew_id) if post.crew_id is not None else None
    return crew is not None and member.id in crew.members


async def reported_account(db: aiosqlite.Connection, config: Config, reporter: LocalActor,
                           post_uri: str) -> tuple[str, int | None]:
    """The author of a post `reporter` may report and their local id if they are ours: a fellow member's live post
    the reporter can read, or a live public or unlisted post from another server held here. NoSuchReport for
    anything else."""
    post_uri = (post_uri or "").strip()
    if (post_uuid := uris.post_uuid(config, post_uri)) is not None:
        post = await posts_store.by_uuid(db, post_uuid)
        if post is not None and post.deleted_at is None and post.author_id != reporter.id \
                and await _can_see(db, reporter, post):
            author = await local_actors.by_id(db, post.author_id)
            if author is not None:
                return uris.actor(config, author.username), author.id
    elif post_uri and not post_uri.lower().startswith(
            config.base_url.lower() + "/"):
        held = await remote_objects.get(db, post_uri)
        if held is not None and held.deleted_at is None and held.public:
            return held.author, None
    raise NoSuchReport(NOT_REPORTABLE)


async def file_report(db: aiosqlite.Connection, config: Config, reporter: LocalActor, post_uri: str,
                      comment: str) -> Report:
    """A member reports a post they can read: a fellow member's, or a public one from another server held here."""
    account, account_id = await reported_account(db, config, reporter, post_uri)
    post_uri = post_uri.strip()
    events = await apply(db, config, lambda: reports.file(db, reporter, account=account, account_id=account_id,
                                                          posts=[post_uri], comment=comment))
    return events[0].report


async def flag_received(db: aiosqlite.Connection, config: Config, *, reporter_uri: str, reporter_host: str,
                        reporter_domain: str, activity_id: str, account: LocalActor, posts: list[str],
                        comment: str) -> str:
    """Another server's Flag about our `account` (and its `posts`): the inbox row's outcome."""
    if await reports_store.by_activity(db, activity_id) is not None:
        return "ignored: this Flag was reported already"
    try:
        events = await apply(db, config, lambda: reports.receive(
            db, reporter_uri=reporter_uri, reporter_host=reporter_host, reporter_domain=reporter_domain,
            activity_id=activity_id,
            account=uris.actor(config, account.username), account_id=account.id, posts=posts, comment=comment))
    except ReportError as exc:
        return f"ignored: {exc}"
    return f"report {events[0].report.id} for the Partners"


async def close_report(db: aiosqlite.Connection, config: Config, partner: LocalActor, report_id: int, state: str,
                       note: str) -> Report:
    events = await apply(db, config, lambda: reports.close(db, partner, report_id, state, note))
    return events[0].report


async def _refusal(db: aiosqlite.Connection, config: Config, url: str) -> str | None:
    """Why nothing may be sent to the server of `url` (the Congregation blocks it, or allowlist mode leaves it
    out), as a reason for the Partner; None when it may."""
    why = await fetch_refusal(db, config, url)
    if why is None:
        return None
    host = server_of(url) or url[:100]
    if why == BLOCKED:
        return f"the Congregation blocks the server {host}: nothing is sent there, so the report cannot be forwarded"
    return (f"in allowlist mode nothing is sent to {host}, neither a sibling's server nor a listed one, so the"
            " report cannot be forwarded")


async def forward_report(db: aiosqlite.Connection, config: Config, client: HttpClient, partner: LocalActor,
                         report_id: int, comment: str) -> Report:
    """Send a member's report about a remote account to its server as the Group's Flag; refused, with the reason,
    when that server (or the inbox it names) is one the Congregation sends nothing to (issue 12, red team F9:
    the report was marked forwarded while nothing went)."""
    report = await reports.visible(db, partner, report_id)
    if report.account_id is not None or report.remote:
        raise ReportError("only a member's report about an account on another server can be forwarded")
    if (why := await _refusal(db, config, report.account)) is not None:
        raise NotSent(why)  # before fetching: nothing is asked of a blocked server either
    try:
        actor = await get_remote_actor(db, client, report.account)
    except (ActorUnavailable, FetchError):
        raise CannotReach("the reported account's server cannot be reached now; try again later") from None
    inbox = actor.shared_inbox or actor.inbox

    async def forward() -> list:
        # Checked again in the transaction that records it: a block made meanwhile is not forwarded past either.
        for url in (report.account, inbox):
            if (why := await _refusal(db, config, url)) is not None:
                raise NotSent(why)
        return await reports.forward(db, partner, report_id, comment, inbox)

    events = await apply(db, config, forward)
    return events[0].report


async def remove_post(db: aiosqlite.Connection, config: Config, partner: LocalActor, report_id: int, post_uri: str,
                      note: str = "") -> None:
    """A Partner removes a reported post of ours; servers that had it are told it is deleted."""
    report = await reports.visible(db, partner, report_id)
    post_uuid = uris.post_uuid(config, post_uri)
    post = await posts_store.by_uuid(db, post_uuid) if post_uuid and post_uri in report.posts else None
    if post is None:
        raise NoSuchReport(f"report {report_id} names no such post of ours")
    await apply(db, config, lambda: reports.remove_post(db, partner, report_id, post.id, post_uri, note))
