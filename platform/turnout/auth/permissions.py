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
    JOBS_READ = "jobs.read"
    JOBS_WRITE = "jobs.write"
    CANDIDATES_READ = "candidates.read"  # names, stages, tags: who the candidates are
    CANDIDATES_WRITE = "candidates.write"
    CONTACTS_READ = "contacts.read"  # phone, email, WeChat, push token, identity number
    NOTES_READ = "notes.read"
    QUALIFICATIONS_READ = "qualifications.read"  # licence details (hospital pack)
    INTERVIEWS_READ = "interviews.read"  # every interview of the tenant
    INTERVIEWS_READ_OWN = "interviews.read_own"  # the interviews assigned to the caller
    INTERVIEWS_WRITE = "interviews.write"
    AVAILABILITY_WRITE = "availability.write"  # anyone's availability and slots
    AVAILABILITY_WRITE_OWN = "availability.write_own"
    WEBHOOKS_MANAGE = "webhooks.manage"  # outgoing webhook subscriptions and their log
    EVIDENCE_EXPORT = "evidence.export"  # a candidate's evidence archive (proof, PDF)
    EVIDENCE_SEAL = "evidence.seal"  # sign the evidence chains' heads now


TENANT_ROLES = [r for r in Role if r is not Role.VENDOR_OPERATOR]

_READ_ALL = frozenset(
    {
        Perm.USERS_READ,
        Perm.SETTINGS_READ,
        Perm.JOBS_READ,
        Perm.CANDIDATES_READ,
        Perm.CONTACTS_READ,
        Perm.NOTES_READ,
        Perm.QUALIFICATIONS_READ,
        Perm.INTERVIEWS_READ,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.VENDOR_OPERATOR: frozenset({Perm.TENANTS_MANAGE}),
    Role.TENANT_ADMIN: frozenset(Perm) - {Perm.TENANTS_MANAGE},
    Role.RECRUITER: frozenset(
        {
            Perm.SETTINGS_READ,
            Perm.JOBS_READ,
            Perm.JOBS_WRITE,
            Perm.CANDIDATES_READ,
            Perm.CANDIDATES_WRITE,
            Perm.CONTACTS_READ,
            Perm.NOTES_READ,
            Perm.INTERVIEWS_READ,
            Perm.INTERVIEWS_WRITE,
            Perm.AVAILABILITY_WRITE,
        }
    ),
    Role.INTERVIEWER: frozenset(
        {
            Perm.JOBS_READ,
            Perm.CANDIDATES_READ,
            Perm.INTERVIEWS_READ_OWN,
            Perm.AVAILABILITY_WRITE_OWN,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            Perm.SETTINGS_READ,
            Perm.JOBS_READ,
            Perm.CANDIDATES_READ,
            Perm.QUALIFICATIONS_READ,
            Perm.EVIDENCE_EXPORT,
            Perm.EVIDENCE_SEAL,
        }
    ),
    Role.AUDITOR: _READ_ALL | {Perm.EVIDENCE_EXPORT},  # read-only everything, and proof
}

# Integrator scopes.
SCOPE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    "users:read": frozenset({Perm.USERS_READ}),
    "settings:read": frozenset({Perm.SETTINGS_READ}),
    "jobs:read": frozenset({Perm.JOBS_READ}),
    "jobs:write": frozenset({Perm.JOBS_READ, Perm.JOBS_WRITE}),
    "candidates:read": frozenset({Perm.CANDIDATES_READ, Perm.CONTACTS_READ}),
    "candidates:write": frozenset({Perm.CANDIDATES_READ, Perm.CANDIDATES_WRITE}),
    "interviews:read": frozenset({Perm.INTERVIEWS_READ}),
    "webhooks:manage": frozenset({Perm.WEBHOOKS_MANAGE}),
    "interviews:write": frozenset(
        {Perm.INTERVIEWS_READ, Perm.INTERVIEWS_WRITE, Perm.AVAILABILITY_WRITE}
    ),
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
