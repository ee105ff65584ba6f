"""Permission classes declared on fields; roles and scopes map to permissions in auth."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from strawberry.extensions import FieldExtension
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


class _AnyOf(BasePermission):
    perms: tuple[Perm, ...]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return any(info.context.principal.can(p) for p in self.perms)


@cache
def any_of(*perms: Perm) -> type[BasePermission]:
    names = " or ".join(p.value for p in perms)
    return type(
        f"AnyOf_{'_'.join(p.name for p in perms)}",
        (_AnyOf,),
        {"perms": perms, "message": f"forbidden: requires {names}"},
    )


@cache
def requires(perm: Perm) -> type[BasePermission]:
    """A permission class for one permission, e.g. `permission_classes=[requires(Perm.X)]`."""
    return type(
        f"Requires_{perm.name}",
        (_Requires,),
        {"perm": perm, "message": f"forbidden: requires {perm.value}"},
    )


class FieldDenied(PermissionError):
    """A sensitive field the caller may not read: the field is null, with this error."""


class Sensitive(FieldExtension):
    """Declared on a field: `full` reads it; `masked` (if given) reads it masked."""

    def __init__(
        self, full: Perm, masked: Perm | None = None, mask: Callable[[str], str] | None = None
    ) -> None:
        super().__init__()
        self.full, self.masked, self.mask = full, masked, mask

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        principal = info.context.principal
        if principal.can(self.full):
            return next_(source, info, **kwargs)
        if self.masked is not None and principal.can(self.masked):
            value = next_(source, info, **kwargs)
            return self.mask(value) if value is not None and self.mask else value
        raise FieldDenied(f"forbidden: {info.field_name} requires {self.full.value}")


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognize, not to call."""
    digits = phone.lstrip("+")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_all(value: str) -> str:
    return "****"
