"""Tenants and packs: the vendor console's mutations, a member's view of its own tenant."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from ..auth.permissions import Perm
from ..graphql.connection import Connection
from ..graphql.errors import as_error, result
from ..graphql.permissions import Authenticated, requires
from ..kit.errors import ServiceError
from ..kit.pagination import encode_cursor
from ..rules.registry import all_packs
from . import service
from .models import Tenant


@strawberry.type(name="Tenant")
class TenantType:
    id: strawberry.ID
    slug: str
    name: str
    status: str
    time_zone: str
    locale: str
    packs: list[str]
    placement: str
    created_at: datetime

    @classmethod
    def of(cls, t: Tenant) -> TenantType:
        return cls(
            id=strawberry.ID(str(t.id)),
            slug=t.slug,
            name=t.name,
            status=t.status,
            time_zone=t.time_zone,
            locale=t.locale,
            packs=list(t.packs),
            placement=t.placement,
            created_at=t.created_at,
        )


@strawberry.type(name="PackSettingSpec")
class PackSettingSpecType:
    key: str
    type: str
    default: JSON
    description: str
    min: int | None
    max: int | None
    choices: list[str]


@strawberry.type(name="Pack")
class PackType:
    name: str
    title: str
    description: str
    features: list[str]
    settings: list[PackSettingSpecType]


@strawberry.type(name="PackSetting")
class PackSettingType:
    key: str
    value: JSON
    default: JSON
    description: str
    overridden: bool


def pack_types() -> list[PackType]:
    return [
        PackType(
            name=p.name,
            title=p.title,
            description=p.description,
            features=[f for f, on in p.features.items() if on],
            settings=[
                PackSettingSpecType(
                    key=s.key,
                    type=s.type,
                    default=s.default,
                    description=s.description,
                    min=s.min,
                    max=s.max,
                    choices=list(s.choices),
                )
                for s in p.settings.values()
            ],
        )
        for p in all_packs().values()
    ]


async def settings_of(info: Info, pack: str) -> list[PackSettingType]:
    """A pack's settings for the caller's tenant (used by packs' own fields too)."""
    ctx = info.context
    async with ctx.tenant_db() as session:
        values = await service.pack_settings(session, ctx.require_tenant(), pack)
    return [
        PackSettingType(
            key=v.key,
            value=v.value,
            default=v.default,
            description=v.description,
            overridden=v.overridden,
        )
        for v in values
    ]


@strawberry.input
class CreateTenantInput:
    slug: str
    name: str
    admin_email: str
    admin_password: str
    packs: list[str] = strawberry.field(default_factory=list)
    time_zone: str = "UTC"
    locale: str = "en"


@strawberry.type
class TenantPayload:
    tenant: TenantType


@strawberry.type
class PackSettingPayload:
    setting: PackSettingType


TenantResult = result("TenantResult", TenantPayload)
PackSettingResult = result("PackSettingResult", PackSettingPayload)


@strawberry.type
class TenancyQuery:
    @strawberry.field(permission_classes=[requires(Perm.TENANTS_MANAGE)])
    async def tenants(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[TenantType]:
        async with info.context.public_db() as session:
            rows, has_next, total = await service.tenant_page(session, first, after)
        return Connection.of(
            [(encode_cursor(t.slug), TenantType.of(t)) for t in rows], has_next, total
        )

    @strawberry.field(
        permission_classes=[Authenticated], description="The tenant the caller is signed in to."
    )
    def tenant(self, info: Info) -> TenantType | None:
        t = info.context.tenant
        return TenantType.of(t) if t is not None and info.context.principal.tenant_id else None

    @strawberry.field(permission_classes=[Authenticated], description="The pack catalog.")
    def packs(self) -> list[PackType]:
        return pack_types()

    @strawberry.field(permission_classes=[requires(Perm.SETTINGS_READ)])
    async def pack_settings(self, info: Info, pack: str) -> list[PackSettingType]:
        return await settings_of(info, pack)


@strawberry.type
class TenancyMutation:
    @strawberry.mutation(permission_classes=[requires(Perm.TENANTS_MANAGE)])
    async def create_tenant(self, input: CreateTenantInput) -> TenantResult:
        try:
            tenant = await service.create_tenant(
                service.NewTenant(
                    slug=input.slug,
                    name=input.name,
                    admin_email=input.admin_email,
                    admin_password=input.admin_password,
                    packs=input.packs,
                    time_zone=input.time_zone,
                    locale=input.locale,
                )
            )
        except ServiceError as exc:
            return as_error(exc)
        return TenantPayload(tenant=TenantType.of(tenant))

    @strawberry.mutation(permission_classes=[requires(Perm.TENANTS_MANAGE)])
    async def suspend_tenant(self, info: Info, slug: str) -> TenantResult:
        return await _status(info, slug, "suspended")

    @strawberry.mutation(permission_classes=[requires(Perm.TENANTS_MANAGE)])
    async def activate_tenant(self, info: Info, slug: str) -> TenantResult:
        return await _status(info, slug, "active")

    @strawberry.mutation(permission_classes=[requires(Perm.TENANTS_MANAGE)])
    async def set_tenant_packs(self, info: Info, slug: str, packs: list[str]) -> TenantResult:
        async with info.context.public_db() as session:
            try:
                tenant = await service.set_packs(session, slug, packs)
            except ServiceError as exc:
                return as_error(exc)
            await session.commit()
        return TenantPayload(tenant=TenantType.of(tenant))

    @strawberry.mutation(permission_classes=[requires(Perm.SETTINGS_MANAGE)])
    async def set_pack_setting(
        self, info: Info, pack: str, key: str, value: JSON
    ) -> PackSettingResult:
        ctx = info.context
        async with ctx.tenant_db() as session:
            try:
                p = ctx.principal
                v = await service.set_pack_setting(
                    session,
                    ctx.require_tenant(),
                    pack,
                    key,
                    value,
                    p.user_id,
                    actor=f"user:{p.email}" if p.kind == "user" else f"client:{p.client_id}",
                )
            except ServiceError as exc:
                return as_error(exc)
            await session.commit()
        return PackSettingPayload(
            setting=PackSettingType(
                key=v.key,
                value=v.value,
                default=v.default,
                description=v.description,
                overridden=True,
            )
        )


async def _status(info: Info, slug: str, status: str) -> object:
    async with info.context.public_db() as session:
        try:
            tenant = await service.set_status(session, slug, status)
        except ServiceError as exc:
            return as_error(exc)
        await session.commit()
    return TenantPayload(tenant=TenantType.of(tenant))
