"""Realistic recruiting data for the demo tenants: jobs, candidates, interviews."""

from __future__ import annotations

import random
from datetime import time, timedelta

from sqlalchemy import func, select

from .crypto.fields import cipher_for
from .db.session import tenant_session
from .kit.clock import clock
from .kit.errors import ServiceError
from .recruiting import scheduling, service
from .recruiting.models import Candidate
from .tenancy.models import Tenant

JOBS = {
    "hospital": [
        ("ICU Nurse", "Critical Care", "icu", "critical"),
        ("ER Nurse", "Emergency", "er", "critical"),
        ("Ward Nurse", "General Medicine", "nursing", "high"),
        ("Pharmacy Technician", "Pharmacy", "pharmacy", "normal"),
    ],
    "manufacturing": [
        ("Assembly Operator", "Line 3", "assembly", "normal"),
        ("Forklift Driver", "Warehouse", "logistics", "normal"),
        ("Quality Inspector", "QA", "quality", "high"),
    ],
    "retail": [
        ("Store Associate", "Store 12 - Oxford St", "store_staff", "normal"),
        ("Cashier", "Store 7 - Camden", "store_staff", "normal"),
        ("Shift Supervisor", "Store 12 - Oxford St", "store_lead", "high"),
    ],
}
ZH = [
    "王芳",
    "李娜",
    "张伟",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄婷",
    "周杰",
    "吴倩",
    "徐明",
    "孙丽",
    "马超",
    "朱琳",
    "胡斌",
    "郭晶",
    "何勇",
    "林霞",
]
EN = [
    "Amelia Clarke",
    "Oliver Bennett",
    "Isla Turner",
    "Harry Walsh",
    "Ava Hughes",
    "Jack Morgan",
    "Mia Edwards",
    "Noah Price",
    "Emily Foster",
    "Leo Griffiths",
    "Grace Murphy",
    "Oscar Reid",
    "Lily Shaw",
    "George Hunt",
    "Ella Barker",
]


async def seed_recruiting(tenant: Tenant, interviewer_user_id, pack: str) -> None:
    """Once per tenant: skipped when it already has candidates."""
    rnd = random.Random(tenant.slug)
    async with tenant_session(tenant.ref) as s:
        if await s.scalar(select(func.count()).select_from(Candidate)):
            return
        cipher = await cipher_for(s, tenant.id)
        jobs = [
            await service.create_job(
                s,
                service.JobFields(
                    title=t, department=d, family=f, priority=p, status="open", location=tenant.name
                ),
            )
            for t, d, f, p in JOBS[pack]
        ]
        interviewer = await scheduling.add_interviewer(
            s, "Interviewer", "", tenant.time_zone, interviewer_user_id
        )
        await scheduling.set_availability(
            s, interviewer.id, [scheduling.WeeklyWindow(d, time(9), time(17)) for d in range(5)], []
        )
        slots = []
        day = clock.now().astimezone().replace(hour=1, minute=0, second=0, microsecond=0)
        for n in range(1, 15):
            start = day + timedelta(days=n)
            if start.weekday() < 5:
                slot = await _try_slot(s, interviewer.id, start, tenant.time_zone)
                if slot:
                    slots.append(slot)
        names = ZH if tenant.locale == "zh-CN" else EN
        for i, name in enumerate(names):
            phone = (
                f"+86138{rnd.randrange(10**8):08d}"
                if tenant.locale == "zh-CN"
                else (f"+447{rnd.randrange(10**9):09d}")
            )
            c = await service.create_candidate(
                s,
                cipher,
                service.CandidateFields(
                    name=name,
                    phone=phone,
                    email=f"candidate{i}@{tenant.slug}.example",
                    time_zone=tenant.time_zone,
                    locale=tenant.locale,
                    consent={"sms": True, "email": True, "wechat": tenant.locale == "zh-CN"},
                    tags=rnd.sample(["referral", "night shift", "experienced", "graduate"], 2),
                    source=rnd.choice(["job board", "referral", "career site"]),
                ),
            )
            app = await service.apply(s, c.id, rnd.choice(jobs).id, rnd.randrange(40, 99), "demo")
            if i % 5 == 4:
                continue  # not scheduled yet
            if slots and i % 3 == 0:
                slot = slots.pop(0)
                req = scheduling.InterviewRequest(app.id, "live", slot_id=slot.id)
            else:
                opens = clock.now() + timedelta(days=rnd.randrange(1, 6), hours=rnd.randrange(8))
                req = scheduling.InterviewRequest(
                    app.id, "ai_async", opens, opens + timedelta(days=3)
                )
            iv = await scheduling.schedule(s, cipher, req, "demo")
            if i % 4 == 1:
                await scheduling.transition(s, iv, "confirmed", "demo")
        await s.commit()


async def _try_slot(s, interviewer_id, start, tz: str):
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo(tz)).replace(hour=10, minute=0)
    try:
        return await scheduling.create_slot(
            s, interviewer_id, local, local + timedelta(minutes=45), 1, "Room 2 / video"
        )
    except ServiceError:  # a day outside availability just has no slot
        return None


async def ai_interviews(
    session, cipher, n: int, opens, actor: str, first: int = 0
) -> list[tuple[object, object]]:
    """`n` candidates reachable by SMS only, each with one two-day AI interview from `opens`,
    in the caller's transaction: load for benchmarks and tests. (interview, candidate) ids."""
    job = await service.create_job(
        session, service.JobFields(title="Warehouse porter", status="open")
    )
    pairs = []
    for i in range(first, first + n):
        c = await service.create_candidate(
            session,
            cipher,
            service.CandidateFields(name=f"Candidate {i:04d}", phone=f"1390{i:07d}"),
        )
        app = await service.apply(session, c.id, job.id, 50, actor)
        iv = await scheduling.schedule(
            session,
            cipher,
            scheduling.InterviewRequest(app.id, "ai_async", opens, opens + timedelta(days=2)),
            actor,
        )
        pairs.append((iv.id, c.id))
    return pairs
