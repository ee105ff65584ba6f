"""Permission classes declared on fields; roles and scopes map to permissions in auth."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from ..auth.permissions import Perm


class Authenticated(BasePermission):
    message = "sign in first"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return not info.context.principal.anonymous


class _Requires(BasePermission):
    perm: Perm

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.can(self.perm)


@cache
def requires(perm: Perm) -> type[BasePermission]:
    """A permission class for one permission, e.g. `permission_classes=[requires(Perm.X)]`."""
    return type(
        f"Requires_{perm.name}",
        (_Requires,),
        {"perm": perm, "message": f"forbidden: requires {perm.value}"},
    )
