"""Evidence bundles shaped like the export's, for the PDF tests (hashes are real SHA-256 links,
though not over the export's canonical encoding: the PDF only shows them)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

CANDIDATE = "0b6f4c1e-5d43-4f1e-9a52-3c1f0e9d7a10"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def _rfc(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BundleBuilder:
    def __init__(self, time_zone: str = "Asia/Shanghai") -> None:
        self.events: list[dict] = []
        self.time_zone = time_zone
        self.prev = "0" * 64

    def add(self, kind, data, *, actor="system", at: datetime, interview=None, recorded=None):
        seq = len(self.events) + 1
        event = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event-{seq}")),
            "chain": f"candidate:{CANDIDATE}",
            "seq": seq,
            "prev_hash": self.prev,
            "kind": kind,
            "actor": actor,
            "candidate_id": CANDIDATE,
            "interview_id": interview,
            "occurred_at": _rfc(at),
            "recorded_at": _rfc(recorded or at),
            "data": data,
        }
        event["hash"] = hashlib.sha256(
            json.dumps(event, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        self.prev = event["hash"]
        self.events.append(event)
        return event

    def bundle(self) -> dict:
        return {
            "format": "turnout-evidence/1",
            "tenant": {
                "slug": "acme",
                "id": str(uuid.uuid4()),
                "name": "Acme",
                "time_zone": self.time_zone,
                "key_id": "k-2026-1",
            },
            "candidate_id": CANDIDATE,
            "events": self.events,
            "checkpoint": {
                "sealed_at": _rfc(T0 + timedelta(days=5)),
                "signature": "c2ln" * 22,
                "key_id": "k-2026-1",
                "heads": [],
            },
            "unexpected_extra": {"ignored": True},
        }


def interview_story(b: BundleBuilder, interview: str, start: datetime) -> None:
    """One AI interview: reminders with receipts, portal actions, vendor reports, a no-show."""
    at = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    b.add(
        "interview.scheduled",
        {"opens_at": _rfc(at(2880)), "closes_at": _rfc(at(7200)), "kind": "ai"},
        actor="user:hr@acme.example",
        at=at(0),
        interview=interview,
    )
    sms = str(uuid.uuid4())
    b.add(
        "notification.sent",
        {
            "notification_id": sms,
            "channel": "sms",
            "address_masked": "138****5678",
            "subject": None,
            "body": "您好，请在12月2日前完成AI面试。链接：https://t.example/i/abc",
            "step": 1,
            "kind": "reminder",
            "provider_ref": "SMS-001",
        },
        at=at(10),
        interview=interview,
    )
    email = str(uuid.uuid4())
    body = "Dear candidate,\n\n" + "Please complete your interview before the deadline. " * 12
    b.add(
        "notification.sent",
        {
            "notification_id": email,
            "channel": "email",
            "address_masked": "l***@example.com",
            "subject": "Your interview",
            "body": body,
            "step": 1,
            "kind": "reminder",
            "provider_ref": "<m1@mail>",
        },
        at=at(11),
        interview=interview,
    )
    b.add(
        "notification.delivered",
        {"notification_id": sms, "channel": "sms"},
        actor="provider:sms",
        at=at(12),
        interview=interview,
    )
    b.add("portal.visited", {}, actor="candidate", at=at(30), interview=interview)
    # receipts that arrive after later events still list under their message
    b.add(
        "notification.delivered",
        {"notification_id": email, "channel": "email"},
        actor="provider:email",
        at=at(40),
        interview=interview,
        recorded=at(45),
    )
    b.add(
        "notification.opened",
        {"notification_id": email, "channel": "email"},
        actor="provider:email",
        at=at(41),
        interview=interview,
    )
    b.add(
        "link.opened",
        {"notification_id": sms, "channel": "sms"},
        actor="candidate",
        at=at(42),
        interview=interview,
    )
    b.add("portal.confirmed", {}, actor="candidate", at=at(43), interview=interview)
    voice = str(uuid.uuid4())
    b.add(
        "notification.sent",
        {
            "notification_id": voice,
            "channel": "voice",
            "address_masked": "138****5678",
            "subject": None,
            "body": None,
            "step": 2,
            "kind": "escalation",
            "provider_ref": None,
        },
        at=at(3000),
        interview=interview,
    )
    b.add(
        "notification.failed",
        {"notification_id": voice, "channel": "voice", "error": "no answer"},
        actor="provider:voice",
        at=at(3001),
        interview=interview,
    )
    b.add(
        "portal.problem_reported",
        {"description": "摄像头无法打开"},
        actor="candidate",
        at=at(3010),
        interview=interview,
    )
    b.add(
        "portal.reschedule_requested",
        {"note": "Camera broken, need another day"},
        actor="candidate",
        at=at(3020),
        interview=interview,
    )
    b.add(
        "vendor.started",
        {"event_id": "v-1", "vendor": "HireVue"},
        actor="vendor",
        at=at(3030),
        interview=interview,
    )
    b.add(
        "vendor.abandoned",
        {"event_id": "v-2", "vendor": "HireVue"},
        actor="vendor",
        at=at(3040),
        interview=interview,
    )
    b.add(
        "interview.state_changed",
        {"from": "scheduled", "to": "no_show", "reason": "window closed"},
        at=at(7201),
        interview=interview,
    )


def sample_bundle(time_zone: str = "Asia/Shanghai") -> dict:
    b = BundleBuilder(time_zone)
    b.add(
        "candidate.updated",
        {"fields": ["phone", "email"]},
        actor="user:hr@acme.example",
        at=T0 - timedelta(hours=1),
    )
    interview_story(b, "6d1f4f0a-0000-4000-8000-000000000001", T0)
    b.add(
        "pack_settings.changed",
        {"pack": "hospital", "key": "reminder_hours", "value": 24},
        actor="user:admin@acme.example",
        at=T0 + timedelta(days=6),
    )
    b.add(
        "custom.thing",
        {"foo": 1, "bar": ["x", "y"], "nested": {"k": "值"}},
        actor="client:hris",
        at=T0 + timedelta(days=6, hours=1),
    )
    return b.bundle()


def big_bundle(events: int) -> dict:
    b = BundleBuilder()
    i = 0
    while len(b.events) < events:
        interview_story(b, f"6d1f4f0a-0000-4000-8000-{i:012d}", T0 + timedelta(days=i))
        i += 1
    b.events = b.events[:events]
    return b.bundle()
