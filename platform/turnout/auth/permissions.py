"""The one place that maps roles and integrator scopes to permissions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VENDOR_OPERATOR = "vendor_operator"
    TENANT_ADMIN = "tenant_admin"
    RECRUITER = "recruiter"
    INTERVIEWER = "interviewer"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"


class Perm(StrEnum):
    TENANTS_MANAGE = "tenants.manage"  # vendor level: create, suspend, assign packs
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    SETTINGS_READ = "settings.read"
    SETTINGS_MANAGE = "settings.manage"


TENANT_ROLES = [r for r in Role if r is not Role.VENDOR_OPERATOR]

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.VENDOR_OPERATOR: frozenset({Perm.TENANTS_MANAGE}),
    Role.TENANT_ADMIN: frozenset(
        {Perm.USERS_READ, Perm.USERS_MANAGE, Perm.SETTINGS_READ, Perm.SETTINGS_MANAGE}
    ),
    Role.RECRUITER: frozenset({Perm.SETTINGS_READ}),
    Role.INTERVIEWER: frozenset(),
    Role.COMPLIANCE: frozenset({Perm.SETTINGS_READ}),
    Role.AUDITOR: frozenset({Perm.USERS_READ, Perm.SETTINGS_READ}),
}

# Integrator scopes. Later domains add theirs (candidates:read, interviews:write, ...).
SCOPE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    "users:read": frozenset({Perm.USERS_READ}),
    "settings:read": frozenset({Perm.SETTINGS_READ}),
}


def permissions_for(roles: frozenset[str], scopes: frozenset[str]) -> frozenset[Perm]:
    perms: set[Perm] = set()
    for role in roles:
        perms |= ROLE_PERMISSIONS.get(role, frozenset())  # StrEnum keys match plain str
    for scope in scopes:
        perms |= SCOPE_PERMISSIONS.get(scope, frozenset())
    return frozenset(perms)


def role_problems(roles: list[str]) -> list[str]:
    """Why a list of tenant roles is not acceptable."""
    if not roles:
        return ["at least one role is required"]
    valid = {r.value for r in TENANT_ROLES}
    return [
        f"unknown role {r!r}; roles: {', '.join(sorted(valid))}" for r in roles if r not in valid
    ]
