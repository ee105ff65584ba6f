"""Checking the trail inside the database: every chain recomputed and walked from the
latest signed checkpoint (and from its head row, for events recorded since), and the heads of
every earlier checkpoint found in the chains, so a superuser who disabled the trigger and
changed, removed or added a row is caught and the row named.

The keys are those in public.evidence_keys unless the caller pins the tenant's published key
(`trusted_key` or its `fingerprint`): whoever can write the database can add a key of their
own and re-sign, so only a pinned key makes the signatures mean something here."""

from __future__ import annotations

import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from ..db.session import tenant_session
from ..tenancy.models import Tenant
from . import canonical as C
from .keys import fingerprint as fingerprint_of
from .keys import key_id_for, public_keys
from .models import EvidenceCheckpoint, EvidenceEvent, EvidenceHead
from .service import event_of_row
from .verify import MAX_PROBLEMS, Problem, Report, Stopped, leftovers, walk

PER_CHAIN = 20  # problems reported per chain; the rest are counted


def _check_signature(
    tenant: Tenant,
    cp: EvidenceCheckpoint,
    keys: dict[str, bytes],
    pin: str | None,
    report: Report,
) -> bool:
    """False when the checkpoint's heads cannot be trusted. `keys`: key id -> raw key;
    `pin`: the fingerprint every checkpoint's key must have."""
    name = f"checkpoint {cp.id}"
    try:
        leaves = [C.leaf_hash(h["chain"], h["seq"], h["hash"]) for h in cp.heads]
        intact = C.merkle_root(leaves).hex() == cp.root
    except (KeyError, TypeError, ValueError):
        intact = False
    if not intact:
        report.problems.append(Problem(f"{name}: its list of chain heads was changed"))
    raw = keys.get(cp.key_id)
    if raw is None:
        report.problems.append(Problem(f"{name}: signed with an unknown key {cp.key_id}"))
        return False
    if pin is not None and fingerprint_of(raw) != pin:
        report.problems.append(
            Problem(
                f"{name}: signed with key {cp.key_id} (fingerprint {fingerprint_of(raw)}), "
                f"not with the key you gave (fingerprint {pin})"
            )
        )
        return False
    statement = C.checkpoint_statement(
        str(tenant.id), str(cp.id), C.rfc3339(cp.sealed_at), cp.chains, cp.root, cp.key_id
    )
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(bytes.fromhex(cp.signature), statement)
    except (InvalidSignature, ValueError):
        report.problems.append(Problem(f"{name}: signature is invalid"))
        intact = False
    if not isinstance(cp.heads, list) or cp.chains != len(cp.heads):
        report.problems.append(Problem(f"{name}: chain count differs from its heads"))
        intact = False
    return intact


def _stopped(problems: list[Problem]) -> bool:
    return bool(problems) and isinstance(problems[-1], Stopped)


def _check_chain(
    chain: str,
    events: list[dict],
    sealed: tuple[int, str] | None,
    head: tuple[int, str] | None,
    anchors: dict[int, tuple[str, str]] | None = None,
) -> list[Problem]:
    """`anchors`: seq -> (hash, checkpoint id), the chain's heads in earlier checkpoints."""
    computed = []
    for e in events:
        try:
            computed.append(C.event_hash(e))
        except C.NotCanonical:
            computed.append(None)
    claimed: dict[int, int] = {}
    problems: list[Problem] = []
    if sealed:
        problems += walk(events, computed, sealed, (0, C.GENESIS), claimed, limit=PER_CHAIN)
    base = sealed or (0, C.GENESIS)
    stopped = _stopped(problems)
    if stopped:
        pass  # the walk from the checkpoint gave up: nothing further is checked
    elif head is None:
        problems.append(Problem("the chain has no head row"))
    elif head[0] > base[0]:
        problems += walk(
            events, computed, head, base, claimed, "the chain's head row", limit=PER_CHAIN
        )
        stopped = _stopped(problems)
    elif head[0] < base[0]:
        problems.append(
            Problem(f"the chain's head (seq {head[0]}) is behind the checkpoint (seq {base[0]})")
        )
    elif head[1] != base[1]:
        problems.append(Problem(f"the chain's head differs from the checkpoint at seq {head[0]}"))
    if not stopped:  # else what lies below the stop was not checked, so is not "inserted"
        top = max(head[0] if head else 0, base[0])
        problems += leftovers(
            events, claimed, f"the chain's head (seq {top})", " (added outside the application)"
        )
        problems += _check_anchors(events, computed, anchors or {})
    for p in problems:
        p.message = f"{chain}: {p.message}"
    if stopped:
        problems = [*problems[:-1][:PER_CHAIN], problems[-1]]
    elif len(problems) > PER_CHAIN:
        extra = len(problems) - PER_CHAIN
        problems = [*problems[:PER_CHAIN], Problem(f"{chain}: … and {extra} more problems")]
    return problems


def _check_anchors(
    events: list[dict], computed: list[str | None], anchors: dict[int, tuple[str, str]]
) -> list[Problem]:
    """Each earlier checkpoint's head must still be in the chain: the event at that seq
    with that hash, stored and recomputed."""
    if not anchors:
        return []
    at: dict[int, list[int]] = {}
    for i, e in enumerate(events):
        if type(e.get("seq")) is int:
            at.setdefault(e["seq"], []).append(i)
    out = []
    for seq, (want, cp_id) in sorted(anchors.items()):
        if any(events[i].get("hash") == want == computed[i] for i in at.get(seq, [])):
            continue
        what = "missing" if seq not in at else "not the event it sealed (changed or replaced)"
        out.append(Problem(f"event seq {seq}: {what}; checkpoint {cp_id} sealed it", seq))
    return out


async def _keys(tenant: Tenant, trusted_key: bytes | None) -> dict[str, bytes]:
    keys = {k.key_id: k.raw for k in await public_keys(tenant.id)}
    if trusted_key is not None:  # the pinned key, even if the database lost or changed it
        keys[key_id_for(trusted_key)] = trusted_key
    return keys


async def verify_database(
    tenant: Tenant,
    candidate_id: uuid.UUID | None = None,
    trusted_key: bytes | None = None,
    fingerprint: str | None = None,
) -> Report:
    """`trusted_key` (raw) or `fingerprint` (hex SHA-256): the tenant's published key; every
    checkpoint signed with another key is then a problem. Without one, the keys come from the
    database itself, which proves the chains match their checkpoints but not who signed them."""
    report = Report()
    only = C.candidate_chain(candidate_id) if candidate_id else None
    pin = fingerprint_of(trusted_key) if trusted_key is not None else fingerprint
    report.key_verified = pin is not None
    keys = await _keys(tenant, trusted_key)
    if pin is None:
        report.notes.append(
            "keys taken from the database itself: someone who can write it could add a key and "
            "re-sign; pass --public-key with the tenant's published key to pin it"
        )
    else:
        report.notes.append(f"checkpoints checked against the key you gave (fingerprint {pin})")
    async with tenant_session(tenant.ref) as s:
        # Every checkpoint, oldest first: the latest trusted one anchors the walk; the heads
        # of all trusted ones must still be in the chains.
        sealed: dict[str, tuple[int, str]] = {}
        anchors: dict[str, dict[int, tuple[str, str]]] = {}
        latest, checked, cp_problems = None, 0, 0
        cps = await s.stream(
            select(EvidenceCheckpoint)
            .order_by(EvidenceCheckpoint.events, EvidenceCheckpoint.sealed_at)
            .execution_options(yield_per=100)
        )
        async for cp in cps.scalars():
            checked += 1
            before = len(report.problems)
            if _check_signature(tenant, cp, keys, pin, report):
                latest = cp
                sealed = {h["chain"]: (h["seq"], h["hash"]) for h in cp.heads}
                for h in cp.heads:
                    if only is not None and h["chain"] != only:
                        continue
                    mine = anchors.setdefault(h["chain"], {})
                    had = mine.setdefault(h["seq"], (h["hash"], str(cp.id)))
                    if had[0] != h["hash"]:
                        report.problems.append(
                            Problem(
                                f"{h['chain']}: checkpoints {had[1]} and {cp.id} seal "
                                f"different events at seq {h['seq']}"
                            )
                        )
            added = len(report.problems) - before
            if cp_problems >= MAX_PROBLEMS:  # counted, not listed
                del report.problems[before:]
            cp_problems += added
        if cp_problems > MAX_PROBLEMS:
            report.problems.append(
                Problem(f"… and {cp_problems - MAX_PROBLEMS} more checkpoint problems")
            )
        if not checked:
            report.notes.append("no checkpoint yet: chains checked against their head rows only")
        elif latest is None:
            report.notes.append(
                f"none of the {checked} checkpoints can be trusted: chains checked against "
                "their head rows only"
            )
        else:
            report.notes.append(
                f"{checked} checkpoints checked; the latest trusted one, {latest.id}, sealed at "
                f"{C.rfc3339(latest.sealed_at)} ({latest.chains} chains, {latest.events} events)"
            )
        if only is not None:
            sealed = {only: sealed[only]} if only in sealed else {}
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

        def check(name: str, events: list[dict]) -> list[Problem]:
            mine = dict(anchors.get(name, {}))
            if name in sealed and mine.get(sealed[name][0], ("",))[0] == sealed[name][1]:
                del mine[sealed[name][0]]  # the walk starts there
            return _check_chain(name, events, sealed.get(name), heads.get(name), mine)

        def finish() -> None:
            if chain is not None:
                seen.add(chain)
                report.problems.extend(check(chain, batch))

        result = await s.stream(events_stmt.execution_options(yield_per=5000))
        async for row in result:
            if row.chain != chain:
                finish()
                chain, batch = row.chain, []
            batch.append(event_of_row(row))
            report.events += 1
        finish()
    # Chains that have a head, a sealed entry or a checkpoint's head but no events left at all.
    for gone in sorted(set(heads) | set(sealed) | set(anchors)):
        if gone not in seen and (heads.get(gone, (0,))[0] > 0 or gone in sealed or gone in anchors):
            report.problems.extend(check(gone, []))
    return report
