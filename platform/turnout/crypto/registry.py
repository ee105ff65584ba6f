"""Which tenant tables hold encrypted columns: domains register them, rotation walks them."""

from __future__ import annotations

from sqlalchemy import Table

ENCRYPTED: dict[str, tuple[Table, tuple[str, ...]]] = {}


def register_encrypted(table: Table, *columns: str) -> None:
    ENCRYPTED[table.name] = (table, columns)
