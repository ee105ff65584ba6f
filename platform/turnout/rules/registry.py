"""Finds packs through the `turnout.packs` entry points; knows no concrete pack."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from ..kit.errors import FieldProblem, InvalidInput
from .pack import Pack

GROUP = "turnout.packs"


@lru_cache
def all_packs() -> dict[str, Pack]:
    packs: dict[str, Pack] = {}
    for ep in entry_points(group=GROUP):
        pack = ep.load()
        if not isinstance(pack, Pack):
            raise TypeError(f"entry point {ep.name} does not point at a Pack")
        packs[pack.name] = pack
    return dict(sorted(packs.items()))


def get_pack(name: str) -> Pack:
    try:
        return all_packs()[name]
    except KeyError:
        raise KeyError(f"unknown pack {name!r}") from None


def check_pack_names(names: list[str], field: str = "packs") -> list[str]:
    """Deduplicated, sorted pack names; InvalidInput naming each unknown one."""
    known = all_packs()
    problems = [
        FieldProblem(f"{field}.{i}", f"unknown pack {n!r}; known: {', '.join(known)}", "unknown")
        for i, n in enumerate(names)
        if n not in known
    ]
    if problems:
        raise InvalidInput(problems=problems)
    return sorted(set(names))
