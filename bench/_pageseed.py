"""Seeding for bench/graphql_page.py: one tenant's jobs, interviewers, candidates (phone and
email encrypted with the tenant's key, blind indexes set), applications and interviews, bulk
inserted through the app's own models and tenant session."""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta

CHUNK = 2000

FIRST = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi"]
LAST = ["Li", "Smith", "Garcia", "Okafor", "Novak", "Tanaka", "Silva", "Khan", "Meyer", "Wang"]
FAMILIES = ["nursing", "assembly", "warehouse", "retail", "pharmacy"]


async def seed(tenant, slug: str, n_candidates: int, n_interviews: int, rng: random.Random) -> None:
    from sqlalchemy import insert

    from turnout.crypto.fields import cipher_for
    from turnout.db.session import tenant_session
    from turnout.recruiting.models import (
        STAGES,
        Application,
        Candidate,
        Interview,
        Interviewer,
        Job,
    )

    base = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    async with tenant_session(tenant.ref) as session:
        cipher = await cipher_for(session, tenant.id)
        jobs = [
            {
                "id": uuid.uuid4(),
                "title": f"{FAMILIES[i % len(FAMILIES)].title()} role {i + 1}",
                "family": FAMILIES[i % len(FAMILIES)],
                "status": "open",
                "priority": "normal",
                "created_at": base + timedelta(minutes=i),
            }
            for i in range(20)
        ]
        people = [
            {
                "id": uuid.uuid4(),
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} (interviewer {i + 1})",
                "email": f"interviewer{i + 1}@{slug}.example",
            }
            for i in range(20)
        ]
        await session.execute(insert(Job), jobs)
        await session.execute(insert(Interviewer), people)

        candidates, applications = [], []
        apps_of: list[list[dict]] = []
        for n in range(n_candidates):
            cid = uuid.uuid4()
            phone = f"+1555{n:07d}"
            email = f"candidate{n}@mail.example"
            created = base + timedelta(seconds=37 * n + rng.randrange(30))
            candidates.append(
                {
                    "id": cid,
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}",
                    "phone_enc": cipher.encrypt(phone, "candidates", "phone_enc", cid),
                    "phone_hash": cipher.blind_index("phone", phone),
                    "email_enc": cipher.encrypt(email, "candidates", "email_enc", cid),
                    "email_hash": cipher.blind_index("email", email),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            mine = []
            for k, job in enumerate(rng.sample(jobs, rng.choice((1, 2)))):
                a = {
                    "id": uuid.uuid4(),
                    "candidate_id": cid,
                    "job_id": job["id"],
                    "stage": rng.choice(STAGES),
                    "match_score": rng.randrange(101),
                    "created_at": created + timedelta(minutes=k),
                    "updated_at": created + timedelta(minutes=k),
                }
                applications.append(a)
                mine.append(a)
            apps_of.append(mine)

        interviews = []
        for _ in range(n_interviews):  # random owners: 3 per candidate on average, some 0
            a = rng.choice(apps_of[rng.randrange(n_candidates)])
            iid = uuid.uuid4()
            live = rng.random() < 0.4
            opens = a["created_at"] + timedelta(days=rng.randrange(1, 30), hours=rng.randrange(9))
            closes = opens + (timedelta(hours=1) if live else timedelta(hours=48))
            token = secrets.token_urlsafe(32)
            interviews.append(
                {
                    "id": iid,
                    "application_id": a["id"],
                    "candidate_id": a["candidate_id"],
                    "job_id": a["job_id"],
                    "kind": "live" if live else "ai_async",
                    "state": rng.choice(("scheduled", "confirmed", "completed", "no_show")),
                    "opens_at": opens,
                    "closes_at": closes,
                    "interviewer_id": rng.choice(people)["id"] if live else None,
                    "attempt": 1,
                    "link_token_hash": hashlib.sha256(token.encode()).hexdigest(),
                    "link_token_enc": cipher.encrypt(token, "interviews", "link_token_enc", iid),
                    "link_expires_at": closes + timedelta(days=1),
                    "created_at": a["created_at"],
                    "updated_at": a["created_at"],
                }
            )
        for model, rows in (
            (Candidate, candidates),
            (Application, applications),
            (Interview, interviews),
        ):
            for i in range(0, len(rows), CHUNK):
                await session.execute(insert(model), rows[i : i + CHUNK])
        await session.commit()
    print(
        f"seeded: {n_candidates} candidates, {len(applications)} applications, "
        f"{n_interviews} interviews ({sum(1 for i in interviews if i['interviewer_id'])} live), "
        f"{len(jobs)} jobs, {len(people)} interviewers",
        flush=True,
    )
