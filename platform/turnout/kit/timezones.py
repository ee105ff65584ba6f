"""Time zone names, checked against the IANA database once per process."""

from __future__ import annotations

import zoneinfo
from functools import cache


@cache
def _names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_time_zone(name: str) -> bool:
    return name in _names()
