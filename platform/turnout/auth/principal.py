"""Who is calling: resolved once per request from a bearer token or a session cookie."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from .permissions import Perm, permissions_for


@dataclass(frozen=True)
class Principal:
    kind: str = "anonymous"  # anonymous | user | client
    user_id: uuid.UUID | None = None
    email: str | None = None
    client_id: str | None = None
    tenant_id: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    is_operator: bool = False
    via_cookie: bool = False
    session_id: str | None = None
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    @cached_property
    def permissions(self) -> frozenset[Perm]:
        roles = self.roles | ({"vendor_operator"} if self.is_operator else set())
        return permissions_for(frozenset(roles), self.scopes)

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions


ANONYMOUS = Principal()
