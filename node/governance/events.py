"""What happened, as the rules report it: typed domain events. Governance returns them; processing hands them to
the outbound registry (node/activitypub/outbound.py), which turns each type into what goes on the wire, in the
transaction that made the change. An event names records, never URIs or wire shapes."""

from __future__ import annotations

from dataclasses import dataclass

from node.store.assembly import AssemblyProposal
from node.store.follows import Follow
from node.store.local_actors import LocalActor
from node.store.posts import Post
from node.store.proposals import Proposal
from node.store.reports import Report
from node.store.witness import Equivocation


class Event:
    """Base of every domain event."""


# Posts: the author's Note, and the Group's Announces for a member's post to the Group.
@dataclass(frozen=True)
class PostCreated(Event):
    post: Post
    author: LocalActor


@dataclass(frozen=True)
class PostEdited(Event):
    post: Post
    author: LocalActor


@dataclass(frozen=True)
class PostDeleted(Event):
    post: Post
    author: LocalActor


# Proposals: a public one is a Question on the wire; others never leave the node.
@dataclass(frozen=True)
class ProposalOpened(Event):
    proposal: Proposal


@dataclass(frozen=True)
class StanceTaken(Event):
    proposal: Proposal


@dataclass(frozen=True)
class ProposalClosed(Event):
    proposal: Proposal


@dataclass(frozen=True)
class ProposalWithdrawn(Event):
    proposal: Proposal


@dataclass(frozen=True)
class ProposalEnacted(Event):
    proposal: Proposal


@dataclass(frozen=True)
class OutcomeRecorded(Event):
    proposal: Proposal


# People and the Congregation as the fediverse sees them.
@dataclass(frozen=True)
class ProfileChanged(Event):
    """A member's (or the Group's) public profile changed: copies held elsewhere are out of date."""

    actor: LocalActor  # as it is after the change
    what: str = "profile"  # profile | avatar | avatar-removed | settings


@dataclass(frozen=True)
class MembershipEnded(Event):
    """A member left or was removed; what builds on membership (crews) reacts."""

    actor: LocalActor
    how: str  # departed | removed


# Follows: the Group's (and members') relationships with other actors.
@dataclass(frozen=True)
class FollowRequested(Event):
    actor: LocalActor
    follow: Follow
    inbox: str  # the followee's inbox, as fetched


@dataclass(frozen=True)
class FollowAnswered(Event):
    actor: LocalActor
    follow: Follow
    accepted: bool
    inbox: str  # the follower's inbox


@dataclass(frozen=True)
class FollowUndone(Event):
    actor: LocalActor
    follow: Follow
    inbox: str


# A member's vote in a poll held elsewhere (a sibling's proposal, a Mastodon poll).
@dataclass(frozen=True)
class PollVoted(Event):
    member: LocalActor
    question: str  # the poll's id, as its server gave it
    author: str  # the poll's author
    inbox: str
    choices: tuple[str, ...]


# Moderation: the Congregation's blocks, allowlist and federation mode. Nothing goes on the wire for them (a blocked
# server is sent nothing at all); the change is in the moderation log.
@dataclass(frozen=True)
class FederationChanged(Event):
    kind: str  # server_blocked | server_unblocked | server_allowed | server_disallowed | allowlist_mode_on | …_off
    target: str  # a host, or the mode


# Reports (moderation): filed by a member or by another server's Flag; forwarded by a Partner as the Group's Flag.
@dataclass(frozen=True)
class ReportFiled(Event):
    report: Report


@dataclass(frozen=True)
class ReportClosed(Event):
    report: Report  # as it is after a Partner resolved or dismissed it


@dataclass(frozen=True)
class ReportForwarded(Event):
    report: Report
    group: LocalActor  # who sends the Flag: the Group, as Mastodon sends it from its instance actor
    comment: str       # what the Partner chose to pass on (never who reported)
    inbox: str         # the reported account's server: its shared inbox, else the account's inbox


# The Assembly: a proposal this Congregation tabled goes out as a Create(Question) to the Group's followers; what
# the node holds that its siblings may lack (the proposal, stances, a withdrawal) is relayed as one signed page.
@dataclass(frozen=True)
class AssemblyTabled(Event):
    proposal: AssemblyProposal


@dataclass(frozen=True)
class AssemblyRelay(Event):
    proposal: AssemblyProposal
    stance_ids: tuple[int, ...] = ()
    with_proposal: bool = False
    with_withdrawal: bool = False
    source: str | None = None  # the sibling Group it came from: not sent back there


# Cross-witnessed decision logs: a proof that a Group signed two different entries at one seq of its log, found here
# or gossiped to us, goes on to every sibling but the one it came from.
@dataclass(frozen=True)
class LogEquivocation(Event):
    equivocation: Equivocation
    source: str | None = None  # the sibling Group that gossiped it: not sent back there
