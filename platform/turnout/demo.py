"""Demo data for `make run`: a vendor operator and one tenant per pack, with a user per role."""

from __future__ import annotations

from .auth import service as auth
from .db.session import public_session
from .demo_recruiting import seed_recruiting
from .tenancy import service as tenancy

DEMO_PASSWORD = "turnout-demo-2026"
OPERATOR = "operator@turnout.example"
TENANTS = [
    ("stmarys", "St Mary's Hospital", "hospital", "Asia/Shanghai", "zh-CN"),
    ("forge", "Forge Manufacturing", "manufacturing", "Asia/Shanghai", "zh-CN"),
    ("freshmart", "FreshMart Retail", "retail", "Europe/London", "en"),
]
ROLES = ["recruiter", "interviewer", "compliance", "auditor"]


async def seed() -> list[tuple[str, str, str]]:
    """Creates the demo once; returns (tenant, email, role) logins. Idempotent."""
    logins = [("(vendor console)", OPERATOR, "vendor_operator")]
    async with public_session() as session:
        if await auth.user_by_email(session, OPERATOR) is None:
            await auth.create_operator(session, OPERATOR, DEMO_PASSWORD)
            await session.commit()
        existing = {t.slug for t in await tenancy.list_tenants(session)}
    for slug, name, pack, tz, locale in TENANTS:
        admin = f"admin@{slug}.example"
        if slug not in existing:
            await tenancy.create_tenant(
                tenancy.NewTenant(
                    slug=slug,
                    name=name,
                    admin_email=admin,
                    admin_password=DEMO_PASSWORD,
                    packs=[pack],
                    time_zone=tz,
                    locale=locale,
                )
            )
            async with public_session() as session:
                tenant = await tenancy.tenant_by_slug(session, slug)
                for role in ROLES:
                    await auth.add_member(
                        session,
                        tenant,
                        f"{role}@{slug}.example",
                        [role],
                        DEMO_PASSWORD,
                        role.title(),
                    )
                await session.commit()
        async with public_session() as session:
            tenant = await tenancy.tenant_by_slug(session, slug)
            interviewer = await auth.user_by_email(session, f"interviewer@{slug}.example")
        await seed_recruiting(tenant, interviewer.id if interviewer else None, pack)
        logins.append((slug, admin, "tenant_admin"))
        logins += [(slug, f"{role}@{slug}.example", role) for role in ROLES]
    return logins
