"""The evidence trail: append events to per-candidate hash chains, seal the chain heads into
signed checkpoints, read a candidate's timeline. docs/evidence-format.md has the byte rules."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import Text, bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.clock import clock
from ..kit.errors import Conflict, FieldProblem, InvalidInput, invalid
from ..kit.pagination import decode_cursor, encode_cursor, page_size
from ..tenancy.models import Tenant
from . import canonical as C
from .keys import signing_key
from .models import EvidenceCheckpoint, EvidenceEvent, EvidenceHead, NewEvent

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
ACTOR_RE = re.compile(r"^(candidate|system|vendor|(user|client|provider|system):[^\s]{1,300})$")
MAX_EVENT_BYTES = 64 * 1024
MAX_BATCH = 10_000

__all__ = ["NewEvent", "latest_checkpoint", "record", "record_many", "seal", "timeline_page"]


def as_actor(who: str) -> str:
    """The trail's actor for the free-form actor strings older code passes ("demo", "csv"):
    kept, under system:<label>."""
    if ACTOR_RE.match(who or ""):
        return who
    label = re.sub(r"\s+", "_", (who or "").strip())[:300]
    return f"system:{label}" if label else "system"


async def record(
    session: AsyncSession,
    kind: str,
    data: dict,
    *,
    actor: str,
    candidate_id: uuid.UUID | None = None,
    interview_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Append one event in the caller's transaction (never commits)."""
    await record_many(
        session, [NewEvent(kind, data, actor, candidate_id, interview_id, occurred_at)]
    )


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _problems(ev: NewEvent, where: str) -> list[FieldProblem]:
    out = []
    if not isinstance(ev.kind, str) or not KIND_RE.match(ev.kind) or len(ev.kind) > 64:
        out.append(FieldProblem(f"{where}kind", "must be dotted lowercase, e.g. link.opened"))
    if not isinstance(ev.actor, str) or not ACTOR_RE.match(ev.actor):
        out.append(
            FieldProblem(
                f"{where}actor",
                "must be candidate, system, vendor, user:<email>, client:<id>, "
                "provider:<channel> or system:<process>",
            )
        )
    for name in ("candidate_id", "interview_id"):
        value = getattr(ev, name)
        if value is not None and not isinstance(value, uuid.UUID):
            out.append(FieldProblem(f"{where}{name}", "must be a UUID"))
    if ev.occurred_at is not None and (
        not isinstance(ev.occurred_at, datetime) or ev.occurred_at.tzinfo is None
    ):
        out.append(FieldProblem(f"{where}occurred_at", "must be a timezone-aware datetime"))
    if not isinstance(ev.data, dict):
        out.append(FieldProblem(f"{where}data", "must be a JSON object"))
    else:
        try:
            encoded = C.canonical(ev.data)
        except C.NotCanonical as exc:
            out.append(FieldProblem(f"{where}data", str(exc)))
        else:
            if _has_nul(ev.data):  # PostgreSQL's jsonb refuses NUL
                out.append(FieldProblem(f"{where}data", "strings must not contain NUL"))
            elif len(encoded) > MAX_EVENT_BYTES:
                out.append(FieldProblem(f"{where}data", f"larger than {MAX_EVENT_BYTES} bytes"))
    return out


def event_body(
    *,
    id: uuid.UUID,
    chain: str,
    seq: int,
    prev_hash: str,
    kind: str,
    actor: str,
    candidate_id: uuid.UUID | None,
    interview_id: uuid.UUID | None,
    occurred_at: datetime,
    recorded_at: datetime,
    data: dict,
) -> dict:
    """The event as hashed and exported (without its "hash")."""
    return {
        "id": str(id),
        "chain": chain,
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "actor": actor,
        "candidate_id": str(candidate_id) if candidate_id else None,
        "interview_id": str(interview_id) if interview_id else None,
        "occurred_at": C.rfc3339(occurred_at),
        "recorded_at": C.rfc3339(recorded_at),
        "data": data,
    }


def event_of_row(row) -> dict:
    body = event_body(
        id=row.id,
        chain=row.chain,
        seq=row.seq,
        prev_hash=row.prev_hash,
        kind=row.kind,
        actor=row.actor,
        candidate_id=row.candidate_id,
        interview_id=row.interview_id,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        data=row.data,
    )
    body["hash"] = row.hash
    return body


_HEADS = EvidenceHead.__table__
_EVENTS = EvidenceEvent.__table__
# Upserting the head rows creates missing chains and locks them all, in the order given
# (sorted): concurrent writers to the same chains queue instead of deadlocking.
_NEW_HEADS = insert(_HEADS).from_select(
    ["chain", "seq", "hash"],
    select(func.unnest(bindparam("chains", type_=ARRAY(Text))), literal(0), literal(C.GENESIS)),
)
_LOCK_HEADS = _NEW_HEADS.on_conflict_do_update(
    index_elements=["chain"], set_={"chain": _NEW_HEADS.excluded.chain}
).returning(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("b_chain"))
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


async def record_many(session: AsyncSession, events: list[NewEvent]) -> None:
    """Append many events (to one or many chains) with three statements, in the caller's
    transaction. Events of one chain keep the order given."""
    if not events:
        return
    if len(events) > MAX_BATCH:
        raise invalid("events", f"at most {MAX_BATCH} events per call")
    problems: list[FieldProblem] = []
    for i, ev in enumerate(events):
        problems += _problems(ev, f"events[{i}]." if len(events) > 1 else "")
    if problems:
        raise InvalidInput(problems=problems)
    now = clock.now()
    chains = sorted(
        {C.candidate_chain(e.candidate_id) if e.candidate_id else C.TENANT_CHAIN for e in events}
    )
    heads = {
        r.chain: (r.seq, r.hash) for r in await session.execute(_LOCK_HEADS, {"chains": chains})
    }
    rows = []
    for ev in events:
        chain = C.candidate_chain(ev.candidate_id) if ev.candidate_id else C.TENANT_CHAIN
        seq, prev = heads[chain]
        body = event_body(
            id=uuid.uuid4(),
            chain=chain,
            seq=seq + 1,
            prev_hash=prev,
            kind=ev.kind,
            actor=ev.actor,
            candidate_id=ev.candidate_id,
            interview_id=ev.interview_id,
            occurred_at=ev.occurred_at or now,
            recorded_at=now,
            data=ev.data,
        )
        digest = C.event_hash(body, checked=True)  # data was checked above
        heads[chain] = (seq + 1, digest)
        rows.append(
            {
                "id": uuid.UUID(body["id"]),
                "chain": chain,
                "seq": seq + 1,
                "prev_hash": prev,
                "hash": digest,
                "kind": ev.kind,
                "actor": ev.actor,
                "candidate_id": ev.candidate_id,
                "interview_id": ev.interview_id,
                # the instants hashed (microseconds, as PostgreSQL keeps them)
                "occurred_at": ev.occurred_at or now,
                "recorded_at": now,
                "data": ev.data,
            }
        )
    await session.execute(_EVENTS.insert(), rows)
    await session.execute(
        _MOVE_HEAD, [{"b_chain": c, "b_seq": s, "b_hash": h} for c, (s, h) in heads.items()]
    )


# --- checkpoints ---------------------------------------------------------------------


async def latest_checkpoint(session: AsyncSession) -> EvidenceCheckpoint | None:
    # Checkpoints are made only when events were added, so the event count orders them.
    return await session.scalar(
        select(EvidenceCheckpoint)
        .order_by(EvidenceCheckpoint.events.desc(), EvidenceCheckpoint.sealed_at.desc())
        .limit(1)
    )


async def current_heads(session: AsyncSession) -> list[dict]:
    rows = await session.execute(
        select(EvidenceHead.chain, EvidenceHead.seq, EvidenceHead.hash).where(EvidenceHead.seq > 0)
    )
    # Sorted by code point in Python, not by the database's collation: the format says so.
    return sorted(({"chain": c, "seq": s, "hash": h} for c, s, h in rows), key=lambda x: x["chain"])


async def seal(session: AsyncSession, tenant: Tenant) -> EvidenceCheckpoint:
    """Sign the heads of every chain into a checkpoint (flushed, not committed). With no
    event since the last checkpoint, returns that one."""
    heads = await current_heads(session)
    if not heads:
        raise Conflict("nothing to seal: this tenant has no evidence yet")
    total = sum(h["seq"] for h in heads)
    last = await latest_checkpoint(session)
    if last is not None and last.events == total and last.chains == len(heads):
        return last
    levels = C.merkle_levels([C.leaf_hash(h["chain"], h["seq"], h["hash"]) for h in heads])
    root = levels[-1][0].hex()
    key_id, key = await signing_key(tenant.id)
    cp_id = uuid.uuid4()
    sealed_at = C.parse_time(C.rfc3339(clock.now()))
    statement = C.checkpoint_statement(
        str(tenant.id), str(cp_id), C.rfc3339(sealed_at), len(heads), root, key_id
    )
    cp = EvidenceCheckpoint(
        id=cp_id,
        sealed_at=sealed_at,
        heads=heads,
        chains=len(heads),
        events=total,
        root=root,
        signature=key.sign(statement).hex(),
        key_id=key_id,
    )
    session.add(cp)
    await session.flush()
    return cp


def head_in(cp: EvidenceCheckpoint, chain: str) -> tuple[int, dict] | None:
    """(leaf index, head) of a chain in a checkpoint: the heads are sorted by chain."""
    import bisect

    names = [h["chain"] for h in cp.heads]
    i = bisect.bisect_left(names, chain)
    if i < len(names) and names[i] == chain:
        return i, cp.heads[i]
    return None


# --- the timeline (GraphQL) ----------------------------------------------------------


async def timeline_page(
    session: AsyncSession,
    candidate_id: uuid.UUID,
    first: int | None,
    after: str | None,
    kinds: list[str] | None = None,
    interview_ids: list[uuid.UUID] | None = None,
    with_total: bool = False,
) -> tuple[list[EvidenceEvent], bool, int | None]:
    """A page of a candidate's events, oldest first; `interview_ids` limits it to those
    interviews' events (an interviewer sees only their own)."""
    n = page_size(first)
    where = [EvidenceEvent.chain == C.candidate_chain(candidate_id)]
    if kinds:
        if len(kinds) > 50 or any(not KIND_RE.match(k) for k in kinds):
            raise invalid("kinds", "must be up to 50 dotted kinds, e.g. notification.sent")
        where.append(EvidenceEvent.kind.in_(kinds))
    if interview_ids is not None:
        where.append(EvidenceEvent.interview_id.in_(interview_ids))
    stmt = select(EvidenceEvent).where(*where).order_by(EvidenceEvent.seq).limit(n + 1)
    if after:
        raw = decode_cursor(after, 1)[0]
        if not (raw.isascii() and raw.isdigit()):  # not '²': int() refuses it
            raise invalid("after", "not a cursor this API issued")
        stmt = stmt.where(EvidenceEvent.seq > int(raw))
    rows = list((await session.execute(stmt)).scalars())
    total = None
    if with_total:
        total = await session.scalar(select(func.count()).select_from(EvidenceEvent).where(*where))
    return rows[:n], len(rows) > n, total


def cursor_of(row: EvidenceEvent) -> str:
    return encode_cursor(row.seq)
