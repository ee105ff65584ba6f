"""Which channel a candidate answers: learnt from the messages they opened or acted on, and
how fast. Explainable: every score comes with the counts behind it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Uuid, and_, any_, bindparam, extract, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Notification

DEFAULT_ORDER = ("sms", "email", "wechat", "push", "voice")
SENT = ("sent", "delivered", "opened")


@dataclass
class ChannelScore:
    channel: str
    score: float
    sent: int
    opened: int
    median_minutes_to_open: float | None
    evidence: str


def score(channel: str, sent: int, opened: int, median_minutes: float | None) -> ChannelScore:
    # Open rate with one imagined open and one imagined miss (so one message proves little),
    # blended with speed: opened within the hour counts for more than opened next day.
    rate = (opened + 1) / (sent + 2)
    speed = 0.5 if median_minutes is None else 1 / (1 + median_minutes / 60)
    value = round(0.7 * rate + 0.3 * speed, 3)
    if sent == 0:
        evidence = "no messages on this channel yet"
    else:
        evidence = f"opened {opened} of {sent} message{'s' if sent != 1 else ''}"
        if median_minutes is not None:
            evidence += f", median {median_minutes:.0f} min to open"
    return ChannelScore(channel, value, sent, opened, median_minutes, evidence)


async def scores(
    session: AsyncSession, candidate_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ChannelScore]]:
    """Every channel's score for each candidate, best first; one query for all of them."""
    n = Notification
    minutes = extract("epoch", n.opened_at - n.sent_at) / 60
    rows = await session.execute(
        select(
            n.candidate_id,
            n.channel,
            func.count().filter(n.status.in_(SENT)),
            func.count().filter(n.opened_at.is_not(None)),
            func.percentile_cont(0.5)
            .within_group(minutes)
            .filter(and_(n.opened_at.is_not(None), n.sent_at.is_not(None))),
        )
        .where(n.candidate_id == any_(bindparam(None, list(candidate_ids), type_=ARRAY(Uuid))))
        .group_by(n.candidate_id, n.channel)
    )
    seen: dict[uuid.UUID, dict[str, ChannelScore]] = defaultdict(dict)
    for cid, channel, sent, opened, median in rows:
        seen[cid][channel] = score(channel, sent, opened, None if median is None else float(median))
    out = {}
    for cid in candidate_ids:
        have = seen.get(cid, {})
        all_ = [have.get(c) or score(c, 0, 0, None) for c in DEFAULT_ORDER]
        # Ties (e.g. no history at all) keep the tenant's default order.
        out[cid] = sorted(all_, key=lambda s: (-s.score, DEFAULT_ORDER.index(s.channel)))
    return out


def order(ranked: list[ChannelScore], reachable: list[str]) -> list[str]:
    return [s.channel for s in ranked if s.channel in reachable]
