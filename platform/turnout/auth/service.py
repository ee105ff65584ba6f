"""Users and memberships, login with throttling, web sessions, principals from credentials."""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.clock import clock
from ..kit.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    invalid,
)
from ..kit.ids import new_secret, sha256_hex
from ..kit.pagination import decode_cursor, encode_cursor, page_size
from ..tenancy.models import Tenant
from . import passwords, tokens
from .models import LoginFailure, Membership, User, WebSession
from .permissions import role_problems
from .principal import Principal

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_new_user(email: str, password: str, roles: list[str], prefix: str = "") -> None:
    problems = []
    if not EMAIL_RE.match(email.strip()) or len(email) > 254:
        problems.append(FieldProblem(f"{prefix}email", "is not an email address"))
    problems += [
        FieldProblem(f"{prefix}password", p, "weak_password")
        for p in passwords.password_problems(password, email)
    ]
    problems += [FieldProblem(f"{prefix}roles", p) for p in role_problems(roles)]
    if problems:
        raise InvalidInput(problems=problems)


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(func.lower(User.email) == normalize_email(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_member(
    session: AsyncSession,
    tenant: Tenant,
    email: str,
    roles: list[str],
    password: str,
    display_name: str = "",
) -> tuple[User, Membership]:
    """Create the user (or attach an existing one) to the tenant with these roles."""
    check_new_user(email, password, roles)
    user = await user_by_email(session, email)
    if user is None:
        user = User(
            id=uuid.uuid4(),
            email=normalize_email(email),
            display_name=display_name,
            password_hash=passwords.hash_password(password),
        )
        session.add(user)
        await session.flush()
    elif await session.get(Membership, (user.id, tenant.id)) is not None:
        raise Conflict(f"{email} is already a member of {tenant.slug}", "email")
    membership = Membership(user_id=user.id, tenant_id=tenant.id, roles=sorted(set(roles)))
    session.add(membership)
    await session.flush()
    return user, membership


async def create_operator(session: AsyncSession, email: str, password: str) -> User:
    check_new_user(email, password, ["recruiter"])
    if await user_by_email(session, email) is not None:
        raise Conflict(f"{email} already exists", "email")
    user = User(
        id=uuid.uuid4(),
        email=normalize_email(email),
        is_operator=True,
        password_hash=passwords.hash_password(password),
    )
    session.add(user)
    await session.flush()
    return user


async def _membership(session: AsyncSession, tenant: Tenant, user_id: uuid.UUID) -> Membership:
    m = await session.get(Membership, (user_id, tenant.id))
    if m is None:
        raise NotFound("no such user in this tenant", "userId")
    return m


async def update_roles(
    session: AsyncSession,
    tenant: Tenant,
    user_id: uuid.UUID,
    roles: list[str],
    actor_id: uuid.UUID | None,
) -> Membership:
    problems = role_problems(roles)
    if problems:
        raise InvalidInput(problems=[FieldProblem("roles", p) for p in problems])
    m = await _membership(session, tenant, user_id)
    if actor_id == user_id and "tenant_admin" in m.roles and "tenant_admin" not in roles:
        raise invalid("roles", "you cannot remove your own tenant_admin role", "self_lockout")
    m.roles = sorted(set(roles))
    await session.flush()
    return m


async def deactivate(
    session: AsyncSession, tenant: Tenant, user_id: uuid.UUID, actor_id: uuid.UUID | None
) -> Membership:
    if actor_id == user_id:
        raise invalid("userId", "you cannot deactivate yourself", "self_lockout")
    m = await _membership(session, tenant, user_id)
    m.active = False
    # Their open web sessions in this tenant end now.
    await session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.tenant_id == tenant.id)
    )
    await session.flush()
    return m


@dataclass
class MemberRow:
    user: User
    membership: Membership

    @property
    def cursor(self) -> str:
        return encode_cursor(self.user.email, self.user.id)


async def list_members(
    session: AsyncSession, tenant: Tenant, first: int | None, after: str | None
) -> tuple[list[MemberRow], bool, int]:
    """A page of the tenant's users ordered by email; (rows, has_next, total)."""
    n = page_size(first)
    base = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant.id)
    )
    stmt = base.order_by(User.email, User.id).limit(n + 1)
    if after:
        email, uid = decode_cursor(after, 2)
        try:
            stmt = stmt.where(tuple_(User.email, User.id) > tuple_(email, uuid.UUID(uid)))
        except ValueError as exc:
            raise invalid("after", "not a cursor this API issued") from exc
    rows = [MemberRow(u, m) for u, m in (await session.execute(stmt)).all()]
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    return rows[:n], len(rows) > n, int(total or 0)


# --- login ---------------------------------------------------------------------------


async def _throttle(session: AsyncSession, email: str, address: str) -> None:
    since = clock.now() - THROTTLE_WINDOW
    q = select(
        func.count().filter(LoginFailure.email == email),
        func.count().filter(LoginFailure.address == address),
        func.min(LoginFailure.at).filter(LoginFailure.email == email),
        func.min(LoginFailure.at).filter(LoginFailure.address == address),
    ).where(
        LoginFailure.at > since, (LoginFailure.email == email) | (LoginFailure.address == address)
    )
    by_account, by_address, first_acc, first_addr = (await session.execute(q)).one()
    for count, limit, first in (
        (by_account, MAX_FAILURES_PER_ACCOUNT, first_acc),
        (by_address, MAX_FAILURES_PER_ADDRESS, first_addr),
    ):
        if count >= limit:
            wait = int((first + THROTTLE_WINDOW - clock.now()).total_seconds()) + 1
            raise TooManyAttempts("too many failed sign-ins; try again later", max(wait, 1))


@dataclass
class LoginResult:
    user: User
    tenant: Tenant | None
    roles: list[str]


async def login(
    session: AsyncSession, email: str, password: str, tenant_slug: str | None, address: str
) -> LoginResult:
    """Check credentials for one tenant (or the vendor console when tenant_slug is None)."""
    email = normalize_email(email)
    await _throttle(session, email, address)
    user = await user_by_email(session, email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    tenant = membership = None
    if ok and user is not None and user.active:
        if tenant_slug is None:
            ok = user.is_operator
        else:
            tenant = (
                await session.execute(select(Tenant).where(Tenant.slug == tenant_slug))
            ).scalar_one_or_none()
            membership = tenant and await session.get(Membership, (user.id, tenant.id))
            ok = bool(membership and membership.active)
    else:
        ok = False
    if not ok or user is None:
        session.add(LoginFailure(email=email, address=address, at=clock.now()))
        await session.commit()
        raise Forbidden("wrong email, password or tenant")
    if tenant is not None and not tenant.active:
        raise Forbidden(f"tenant {tenant.slug} is suspended")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = clock.now()
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    return LoginResult(user, tenant, list(membership.roles) if membership else ["vendor_operator"])


async def open_web_session(
    session: AsyncSession, result: LoginResult, address: str, hours: int
) -> tuple[str, WebSession]:
    """Returns (cookie value, row). Only the hash of the cookie value is stored."""
    cookie = new_secret()
    row = WebSession(
        id=sha256_hex(cookie),
        user_id=result.user.id,
        tenant_id=result.tenant.id if result.tenant else None,
        csrf_token=new_secret(24),
        address=address[:64],
        expires_at=clock.now() + timedelta(hours=hours),
    )
    session.add(row)
    await session.flush()
    return cookie, row


async def close_web_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id == session_id))


async def purge_expired(session: AsyncSession) -> int:
    now = clock.now()
    r1 = await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    r2 = await session.execute(delete(LoginFailure).where(LoginFailure.at < now - THROTTLE_WINDOW))
    return (r1.rowcount or 0) + (r2.rowcount or 0)


def issue_user_token(result: LoginResult, minutes: int) -> tuple[str, int]:
    return tokens.issue(
        str(result.user.id), "user", result.tenant.id if result.tenant else None, minutes
    )


# --- principals ----------------------------------------------------------------------


def _user_principal(user: User, membership: Membership | None, **extra) -> Principal | None:
    if not user.active:
        return None
    if membership is not None and not membership.active:
        return None
    return Principal(
        kind="user",
        user_id=user.id,
        email=user.email,
        tenant_id=membership.tenant_id if membership else None,
        roles=frozenset(membership.roles if membership else ()),
        is_operator=user.is_operator and membership is None,
        **extra,
    )


async def principal_from_cookie(
    session: AsyncSession, cookie: str
) -> tuple[Principal, Tenant | None] | None:
    stmt = (
        select(WebSession, User, Membership, Tenant)
        .join(User, User.id == WebSession.user_id)
        .outerjoin(
            Membership,
            (Membership.user_id == User.id) & (Membership.tenant_id == WebSession.tenant_id),
        )
        .outerjoin(Tenant, Tenant.id == WebSession.tenant_id)
        .where(WebSession.id == sha256_hex(cookie), WebSession.expires_at > clock.now())
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    ws, user, membership, tenant = row
    if ws.tenant_id is not None and membership is None:
        return None
    p = _user_principal(
        user, membership, via_cookie=True, session_id=ws.id, csrf_token=ws.csrf_token
    )
    return (p, tenant) if p else None


async def principal_from_bearer(
    session: AsyncSession, token: str
) -> tuple[Principal, Tenant | None] | None:
    from .clients import client_principal  # clients imports this module's neighbours only

    claims = tokens.read(token)
    if claims is None:
        return None
    tid = uuid.UUID(claims["tid"]) if claims.get("tid") else None
    if claims["typ"] == "client":
        return await client_principal(session, claims["sub"], tid, claims.get("scope", ""))
    stmt = (
        select(User, Membership, Tenant)
        .outerjoin(Membership, (Membership.user_id == User.id) & (Membership.tenant_id == tid))
        .outerjoin(Tenant, Tenant.id == tid)
        .where(User.id == uuid.UUID(claims["sub"]))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    user, membership, tenant = row
    if tid is not None and membership is None:
        return None
    p = _user_principal(user, membership)
    return (p, tenant) if p else None


def csrf_ok(principal: Principal, header_value: str | None) -> bool:
    if not principal.via_cookie:
        return True
    return bool(header_value) and hmac.compare_digest(header_value, principal.csrf_token or "")
