"""Sign-in, the caller's identity, and a tenant admin's management of its users."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import strawberry
from strawberry.types import Info

from ..graphql.connection import Connection
from ..graphql.errors import as_error, result
from ..graphql.permissions import requires
from ..kit.clock import clock
from ..kit.errors import ServiceError, invalid
from ..tenancy.graphql import TenantType
from . import service
from .models import Membership, User
from .permissions import Perm, permissions_for

SESSION_COOKIE = "turnout_session"


@strawberry.type(name="Me")
class MeType:
    kind: str
    email: str | None
    client_id: str | None
    roles: list[str]
    scopes: list[str]
    permissions: list[str]
    tenant: TenantType | None
    csrf_token: str | None = strawberry.field(
        default=None, description="For cookie sessions: send as X-CSRF-Token on mutations."
    )


@strawberry.type(name="User")
class UserType:
    id: strawberry.ID
    email: str
    display_name: str
    roles: list[str]
    active: bool
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User, m: Membership) -> UserType:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            roles=list(m.roles),
            active=m.active and user.active,
            last_login_at=user.last_login_at,
        )


@strawberry.type
class LoginPayload:
    me: MeType
    bearer_token: str = strawberry.field(description="Short-lived token for scripts.")
    expires_at: datetime
    csrf_token: str = strawberry.field(
        description="Send as X-CSRF-Token with cookie-authenticated mutations."
    )


@strawberry.type
class UserPayload:
    user: UserType


@strawberry.type
class LogoutPayload:
    signed_out: bool


@strawberry.input
class CreateUserInput:
    email: str
    password: str
    roles: list[str]
    display_name: str = ""


LoginResult = result("LoginResult", LoginPayload)
UserResult = result("UserResult", UserPayload)


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(field, "is not a user id") from None


@strawberry.type
class AuthQuery:
    @strawberry.field(description="The caller, or null when not signed in.")
    def me(self, info: Info) -> MeType | None:
        ctx = info.context
        p = ctx.principal
        if p.anonymous:
            return None
        roles = sorted(p.roles | ({"vendor_operator"} if p.is_operator else set()))
        tenant = TenantType.of(ctx.tenant) if ctx.tenant is not None else None
        return MeType(
            kind=p.kind,
            email=p.email,
            client_id=p.client_id,
            roles=roles,
            scopes=sorted(p.scopes),
            permissions=sorted(p.permissions),
            tenant=tenant,
            csrf_token=p.csrf_token,
        )

    @strawberry.field(permission_classes=[requires(Perm.USERS_READ)])
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[UserType]:
        ctx = info.context
        async with ctx.public_db() as session:
            rows, has_next, total = await service.list_members(
                session, ctx.require_tenant(), first, after
            )
        return Connection.of(
            [(r.cursor, UserType.of(r.user, r.membership)) for r in rows], has_next, total
        )


@strawberry.type
class AuthMutation:
    @strawberry.mutation(description="Sign in to a tenant (or, without one, the vendor console).")
    async def login(
        self, info: Info, email: str, password: str, tenant: str | None = None
    ) -> LoginResult:
        ctx = info.context
        slug = tenant or (ctx.tenant.slug if ctx.tenant is not None else None)
        settings = ctx.settings
        async with ctx.public_db() as session:
            try:
                res = await service.login(session, email, password, slug, ctx.address)
                cookie, ws = await service.open_web_session(
                    session, res, ctx.address, settings.session_hours
                )
            except ServiceError as exc:
                return as_error(exc)
            await session.commit()
        token, ttl = service.issue_user_token(res, settings.bearer_token_minutes)
        ctx.set_cookies.append(
            (
                SESSION_COOKIE,
                cookie,
                {
                    "httponly": True,
                    "samesite": "lax",
                    "secure": not settings.development,
                    "max_age": settings.session_hours * 3600,
                    "path": "/",
                },
            )
        )
        roles = res.roles
        me = MeType(
            kind="user",
            email=res.user.email,
            client_id=None,
            roles=roles,
            scopes=[],
            permissions=sorted(permissions_for(frozenset(roles), frozenset())),
            tenant=TenantType.of(res.tenant) if res.tenant else None,
            csrf_token=ws.csrf_token,
        )
        return LoginPayload(
            me=me,
            bearer_token=token,
            csrf_token=ws.csrf_token,
            expires_at=clock.now() + timedelta(seconds=ttl),
        )

    @strawberry.mutation
    async def logout(self, info: Info) -> LogoutPayload:
        ctx = info.context
        if ctx.principal.session_id:
            async with ctx.public_db() as session:
                await service.close_web_session(session, ctx.principal.session_id)
                await session.commit()
        ctx.delete_cookies.append(SESSION_COOKIE)
        return LogoutPayload(signed_out=True)

    @strawberry.mutation(permission_classes=[requires(Perm.USERS_MANAGE)])
    async def create_user(self, info: Info, input: CreateUserInput) -> UserResult:
        ctx = info.context
        async with ctx.public_db() as session:
            try:
                user, m = await service.add_member(
                    session,
                    ctx.require_tenant(),
                    input.email,
                    input.roles,
                    input.password,
                    input.display_name,
                )
            except ServiceError as exc:
                return as_error(exc)
            await session.commit()
        return UserPayload(user=UserType.of(user, m))

    @strawberry.mutation(permission_classes=[requires(Perm.USERS_MANAGE)])
    async def update_user_roles(
        self, info: Info, user_id: strawberry.ID, roles: list[str]
    ) -> UserResult:
        return await _change(
            info, user_id, lambda s, t, uid, actor: service.update_roles(s, t, uid, roles, actor)
        )

    @strawberry.mutation(permission_classes=[requires(Perm.USERS_MANAGE)])
    async def deactivate_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await _change(info, user_id, service.deactivate)


async def _change(info: Info, user_id: str, action) -> object:
    ctx = info.context
    async with ctx.public_db() as session:
        try:
            uid = _uuid(user_id, "userId")
            m = await action(session, ctx.require_tenant(), uid, ctx.principal.user_id)
            user = await session.get(User, uid)
        except ServiceError as exc:
            return as_error(exc)
        await session.commit()
    return UserPayload(user=UserType.of(user, m))
