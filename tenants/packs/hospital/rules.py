"""Hospital rules. For now: the pack's settings as a field only hospital tenants see."""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.types import Info

from turnout.auth.permissions import Perm
from turnout.graphql.permissions import requires
from turnout.rules.pack import Pack
from turnout.tenancy.graphql import PackSettingType, settings_of


@strawberry.type
class HospitalQuery:
    @strawberry.field(
        permission_classes=[requires(Perm.SETTINGS_READ)],
        description="The hospital pack's settings for this tenant.",
    )
    async def hospital_settings(self, info: Info) -> list[PackSettingType]:
        return await settings_of(info, "hospital")


pack = Pack.from_folder(Path(__file__).parent, query_types=[HospitalQuery])
