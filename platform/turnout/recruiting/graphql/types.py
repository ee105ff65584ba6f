"""Recruiting types: plain objects filled by the loaders, leaf fields resolve synchronously."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from ...auth.permissions import Perm
from ...evidence.graphql import EvidenceEventType, candidate_timeline
from ...graphql.connection import Connection
from ...graphql.permissions import Sensitive, any_of, mask_all, mask_email, mask_phone
from ...graphql.relay import Node, to_global

CONTACT = dict(full=Perm.CONTACTS_READ, masked=Perm.CANDIDATES_READ)


@strawberry.type(name="Job")
class JobType(Node):
    title: str
    department: str
    location: str
    family: str
    priority: str
    required_qualifications: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[uuid.UUID]


@strawberry.type(name="Interviewer")
class InterviewerType(Node):
    name: str
    email: str
    time_zone: str
    pk: strawberry.Private[uuid.UUID]


@strawberry.type(name="WeeklyAvailability")
class WeeklyAvailabilityType:
    weekday: int
    start: str
    end: str


@strawberry.type(name="Slot")
class SlotType(Node):
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    location: str
    interviewer: InterviewerType | None
    pk: strawberry.Private[uuid.UUID]


@strawberry.type(name="StageChange")
class StageChangeType:
    from_stage: str | None
    to_stage: str
    at: datetime
    actor: str


@strawberry.type(name="Application")
class ApplicationType(Node):
    stage: str
    match_score: int
    created_at: datetime
    job: JobType | None
    candidate: CandidateType | None
    history: list[StageChangeType] | None
    pk: strawberry.Private[uuid.UUID]
    candidate_pk: strawberry.Private[uuid.UUID | None] = None


@strawberry.type(name="ChannelConsent")
class ChannelConsentType:
    channel: str
    granted: bool


@strawberry.type(name="Notification")
class NotificationType:
    channel: str
    kind: str = strawberry.field(description="reminder, escalation or fallback")
    status: str
    due_at: datetime
    attempts: int
    last_error: str
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None


@strawberry.type(name="Interview")
class InterviewType(Node):
    kind: str
    state: str
    opens_at: datetime
    closes_at: datetime
    attempt: int
    vendor_ref: str | None
    cancel_reason: str
    link_expires_at: datetime
    candidate_link: str | None = strawberry.field(
        extensions=[Sensitive(full=Perm.INTERVIEWS_WRITE)],
        description="The candidate's portal link (/i/<token>): who has it can act as them.",
    )
    interviewer: InterviewerType | None
    candidate: CandidateType | None
    job: JobType | None
    slot: SlotType | None
    notifications: list[NotificationType] | None = strawberry.field(
        default=None, description="Its reminders: due, sent, delivered, opened or failed."
    )
    pk: strawberry.Private[uuid.UUID]
    candidate_pk: strawberry.Private[uuid.UUID | None] = None


@strawberry.type(name="ChannelScore")
class ChannelScoreType:
    channel: str
    score: float = strawberry.field(description="0-1: open rate and speed, smoothed")
    sent: int
    opened: int
    median_minutes_to_open: float | None
    evidence: str


@strawberry.type(name="Candidate")
class CandidateType(Node):
    name: str
    phone: str | None = strawberry.field(extensions=[Sensitive(**CONTACT, mask=mask_phone)])
    email: str | None = strawberry.field(extensions=[Sensitive(**CONTACT, mask=mask_email)])
    wechat_open_id: str | None = strawberry.field(extensions=[Sensitive(**CONTACT, mask=mask_all)])
    push_token: str | None = strawberry.field(extensions=[Sensitive(full=Perm.CONTACTS_READ)])
    id_number: str | None = strawberry.field(extensions=[Sensitive(**CONTACT, mask=mask_all)])
    notes: str | None = strawberry.field(extensions=[Sensitive(full=Perm.NOTES_READ)])
    time_zone: str
    locale: str
    consent: list[ChannelConsentType]
    tags: list[str]
    source: str
    created_at: datetime
    applications: list[ApplicationType] | None
    interviews: list[InterviewType] | None = strawberry.field(
        permission_classes=[any_of(Perm.INTERVIEWS_READ, Perm.INTERVIEWS_READ_OWN)],
        description="Every attempt, oldest first (an interviewer sees only their own).",
    )
    channel_preference: list[ChannelScoreType] | None = strawberry.field(
        default=None,
        description="Channels best first, learnt from what they opened and how "
        "fast; the next messages follow this order.",
    )
    timeline: Connection[EvidenceEventType] | None = strawberry.field(
        resolver=candidate_timeline,
        permission_classes=[
            any_of(Perm.INTERVIEWS_READ, Perm.INTERVIEWS_READ_OWN, Perm.EVIDENCE_EXPORT)
        ],
        description="The evidence trail, oldest first: messages, receipts, clicks, state "
        "changes (an interviewer sees only their interviews' events; compliance and "
        "auditors all of it).",
    )
    pk: strawberry.Private[uuid.UUID]


def gid(type_name: str, rid: uuid.UUID) -> strawberry.ID:
    return to_global(type_name, rid)
