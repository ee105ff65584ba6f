"""Which fields a query selects below the current one, through fragments and aliases, so a
parent resolver can fetch exactly the nested rows that will be asked for."""

from __future__ import annotations

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def selected_paths(info: Info) -> frozenset[str]:
    paths: set[str] = set()

    def walk(selections, prefix: str) -> None:
        for s in selections:
            if isinstance(s, SelectedField):
                path = f"{prefix}{s.name}"
                paths.add(path)
                walk(s.selections, path + ".")
            elif isinstance(s, FragmentSpread | InlineFragment):
                walk(s.selections, prefix)

    for field in info.selected_fields:
        walk(field.selections, "")
    return frozenset(paths)
