"""A tenant with a candidate and a few events of each kind on the candidate's chain.

Creating the candidate already records on its chain (`candidate.created`): `World.base` is
how many events the chain holds before a test adds any, and expectations count from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import make_tenant, token_for
from tests.recruiting import api
from turnout.db.session import tenant_session
from turnout.evidence import canonical as C
from turnout.evidence import service
from turnout.evidence.models import EvidenceHead, NewEvent
from turnout.graphql.relay import from_global
from turnout.tenancy.models import Tenant

T0 = datetime(2026, 11, 30, 1, 2, 3, 4, tzinfo=UTC)


@dataclass
class World:
    tenant: Tenant
    admin: str  # bearer token
    candidate_gid: str
    candidate: uuid.UUID
    interview: uuid.UUID
    base: int  # events on the candidate's chain once created (its `candidate.created`)


def sample_events(candidate: uuid.UUID, interview: uuid.UUID, n: int) -> list[NewEvent]:
    kinds = [
        ("notification.sent", "system", {"channel": "sms", "step": 1, "to": "138****5678"}),
        ("notification.delivered", "provider:sms", {"channel": "sms", "ref": "p-1"}),
        ("link.opened", "candidate", {"ua": "Mozilla/5.0", "note": "打开了链接"}),
        ("portal.confirmed", "candidate", {"ok": True, "extra": None}),
        ("interview.state_changed", "user:rec@acme.example", {"from": "scheduled", "to": "x"}),
    ]
    out = []
    for i in range(n):
        kind, actor, data = kinds[i % len(kinds)]
        out.append(
            NewEvent(
                kind,
                {**data, "i": i, "list": [1, "two", {"三": 3}]},
                actor,
                candidate_id=candidate,
                interview_id=interview if i % 2 == 0 else None,
                occurred_at=T0 + timedelta(minutes=i),
            )
        )
    return out


async def add_events(tenant: Tenant, candidate: uuid.UUID, n: int, interview=None) -> None:
    async with tenant_session(tenant.ref) as s:
        await service.record_many(s, sample_events(candidate, interview or uuid.uuid4(), n))
        await s.commit()


@pytest.fixture
async def world(client) -> World:
    tenant = await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    gid = await api.candidate(client, admin, "李伟 Li Wei", "13812345678", "liwei@example.com")
    cand = from_global(gid)[1]
    async with tenant_session(tenant.ref) as s:
        head = await s.get(EvidenceHead, C.candidate_chain(cand))
    return World(tenant, admin, gid, cand, uuid.uuid4(), head.seq if head else 0)
