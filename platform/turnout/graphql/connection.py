"""Relay-style connections: every list in the API is one of these."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, items: list[tuple[str, T]], has_next: bool, total: int) -> Connection[T]:
        edges = [Edge(cursor=c, node=n) for c, n in items]
        return cls(
            edges=edges,
            total_count=total,
            page_info=PageInfo(
                has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )
