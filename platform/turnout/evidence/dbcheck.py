"""Checking the trail inside the database: every chain recomputed and walked from the
latest signed checkpoint (and from its head row, for events recorded since), so a superuser
who disabled the trigger and changed, removed or added a row is caught and the row named."""

from __future__ import annotations

import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from ..db.session import tenant_session
from ..tenancy.models import Tenant
from . import canonical as C
from .keys import public_key
from .models import EvidenceCheckpoint, EvidenceEvent, EvidenceHead
from .service import event_of_row, latest_checkpoint
from .verify import Problem, Report, leftovers, walk

PER_CHAIN = 20  # problems reported per chain; the rest are counted


async def _check_signature(tenant: Tenant, cp: EvidenceCheckpoint, report: Report) -> bool:
    """False when the checkpoint's heads cannot be trusted."""
    name = f"checkpoint {cp.id}"
    try:
        leaves = [C.leaf_hash(h["chain"], h["seq"], h["hash"]) for h in cp.heads]
        intact = C.merkle_root(leaves).hex() == cp.root
    except (KeyError, TypeError, ValueError):
        intact = False
    if not intact:
        report.problems.append(Problem(f"{name}: its list of chain heads was changed"))
    try:
        key = await public_key(tenant.id, cp.key_id)
    except LookupError:
        report.problems.append(Problem(f"{name}: signed with an unknown key {cp.key_id}"))
        return False
    statement = C.checkpoint_statement(
        str(tenant.id), str(cp.id), C.rfc3339(cp.sealed_at), cp.chains, cp.root, cp.key_id
    )
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(bytes.fromhex(cp.signature), statement)
    except (InvalidSignature, ValueError):
        report.problems.append(Problem(f"{name}: signature is invalid"))
        intact = False
    if cp.chains != len(cp.heads):
        report.problems.append(Problem(f"{name}: chain count differs from its heads"))
        intact = False
    return intact


def _check_chain(
    chain: str,
    events: list[dict],
    sealed: tuple[int, str] | None,
    head: tuple[int, str] | None,
) -> list[Problem]:
    computed = []
    for e in events:
        try:
            computed.append(C.event_hash(e))
        except C.NotCanonical:
            computed.append(None)
    claimed: dict[int, int] = {}
    problems: list[Problem] = []
    if sealed:
        problems += walk(events, computed, sealed, (0, C.GENESIS), claimed)
    base = sealed or (0, C.GENESIS)
    if head is None:
        problems.append(Problem("the chain has no head row"))
    elif head[0] > base[0]:
        problems += walk(events, computed, head, base, claimed, "the chain's head row")
    elif head[0] < base[0]:
        problems.append(
            Problem(f"the chain's head (seq {head[0]}) is behind the checkpoint (seq {base[0]})")
        )
    elif head[1] != base[1]:
        problems.append(Problem(f"the chain's head differs from the checkpoint at seq {head[0]}"))
    top = max(head[0] if head else 0, base[0])
    problems += leftovers(
        events, claimed, f"the chain's head (seq {top})", " (added outside the application)"
    )
    for p in problems:
        p.message = f"{chain}: {p.message}"
    if len(problems) > PER_CHAIN:
        extra = len(problems) - PER_CHAIN
        problems = [*problems[:PER_CHAIN], Problem(f"{chain}: … and {extra} more problems")]
    return problems


async def verify_database(tenant: Tenant, candidate_id: uuid.UUID | None = None) -> Report:
    report = Report()
    only = C.candidate_chain(candidate_id) if candidate_id else None
    async with tenant_session(tenant.ref) as s:
        cp = await latest_checkpoint(s)
        sealed: dict[str, tuple[int, str]] = {}
        if cp is None:
            report.notes.append("no checkpoint yet: chains checked against their head rows only")
        else:
            if await _check_signature(tenant, cp, report):
                sealed = {h["chain"]: (h["seq"], h["hash"]) for h in cp.heads}
            report.notes.append(
                f"latest checkpoint {cp.id} sealed at {C.rfc3339(cp.sealed_at)} "
                f"({cp.chains} chains, {cp.events} events)"
            )
        stmt = select(EvidenceHead.chain, EvidenceHead.seq, EvidenceHead.hash)
        if only:
            stmt = stmt.where(EvidenceHead.chain == only)
        heads = {c: (n, h) for c, n, h in await s.execute(stmt)}
        events_stmt = select(EvidenceEvent.__table__).order_by(
            EvidenceEvent.chain, EvidenceEvent.seq
        )
        if only:
            events_stmt = events_stmt.where(EvidenceEvent.chain == only)
        seen: set[str] = set()
        chain, batch = None, []

        def finish() -> None:
            if chain is not None:
                seen.add(chain)
                report.problems.extend(
                    _check_chain(chain, batch, sealed.get(chain), heads.get(chain))
                )

        result = await s.stream(events_stmt.execution_options(yield_per=5000))
        async for row in result:
            if row.chain != chain:
                finish()
                chain, batch = row.chain, []
            batch.append(event_of_row(row))
            report.events += 1
        finish()
    # Chains that have a head or a sealed entry but no events left at all.
    for gone in sorted(set(heads) | ({only} & set(sealed) if only else set(sealed))):
        if gone not in seen and (heads.get(gone, (0,))[0] > 0 or gone in sealed):
            report.problems.extend(_check_chain(gone, [], sealed.get(gone), heads.get(gone)))
    return report
