"""Global ids ("Type:uuid", base64) and the Node interface."""

from __future__ import annotations

import base64
import uuid

import strawberry

from ..kit.errors import invalid
from ..kit.ids import global_id


def to_global(type_name: str, rid: object) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, rid))


def from_global(gid: str, field: str = "id", expect: str | None = None) -> tuple[str, uuid.UUID]:
    try:
        type_name, raw = base64.urlsafe_b64decode(gid.encode()).decode().split(":", 1)
        rid = uuid.UUID(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid(field, "is not an id of this API") from None
    if expect and type_name != expect:
        raise invalid(field, f"names a {type_name}; expected: {expect}")
    return type_name, rid


@strawberry.interface
class Node:
    id: strawberry.ID
