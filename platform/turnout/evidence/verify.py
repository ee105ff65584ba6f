"""Checking evidence offline: a bundle against its signed checkpoint, or a chain of events
against its anchors. Pure: the tenant's public key is all it needs.

The walk starts at a trusted head (the checkpoint's entry for the chain) and follows each
event's prev_hash down to the first event. What it reaches is authentic; what it cannot
reach, or reaches through a broken link, is named: changed, missing, inserted, reordered."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import canonical as C

MAX_PROBLEMS = 50


class Unreadable(Exception):
    """Not a bundle (exit code 2)."""


@dataclass
class Problem:
    message: str
    seq: int | None = None
    event_id: str | None = None

    def __str__(self) -> str:
        return self.message


class Stopped(Problem):
    """The last problem of a walk cut short: what lies below was not checked."""


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    key_verified: bool = False  # checked against a key (or fingerprint) the caller trusts
    fingerprint: str | None = None  # of the key the checkpoint is signed with
    key_url: str | None = None  # where the bundle says the tenant's key is published

    @property
    def ok(self) -> bool:
        return not self.problems


def _is_int(value: object) -> bool:
    """A JSON integer: not a bool, not a float, not a string of digits."""
    return type(value) is int


def _label(seq: object, event: dict | None) -> str:
    eid = event.get("id") if isinstance(event, dict) else None
    return f"event seq {seq}" + (f" (id {eid})" if eid else "")


def _hash_or_none(event: object) -> str | None:
    if not isinstance(event, dict):
        return None
    try:
        return C.event_hash(event)
    except (C.NotCanonical, TypeError, ValueError):
        return None


def walk(
    events: list[dict],
    computed: list[str | None],
    top: tuple[int, str],
    stop: tuple[int, str],
    claimed: dict[int, int],
    top_name: str = "the checkpoint",
    limit: int = MAX_PROBLEMS,
) -> list[Problem]:
    """Walk from `top` (seq, hash) down to `stop` (seq, hash) through prev_hash links.
    `claimed` maps list positions to the seq they were found to hold (updated).

    Bounded whatever the seqs claim: a run of missing events is one problem, so there are
    at most about twice as many steps as events; after `limit` problems the walk stops and
    says so (a `Stopped` problem, last)."""
    problems: list[Problem] = []
    by_hash: dict[object, list[int]] = {}
    by_seq: dict[int, list[int]] = {}
    for i, e in enumerate(events):
        if i in claimed or not isinstance(e, dict):
            continue
        by_hash.setdefault(e.get("hash") if isinstance(e.get("hash"), str) else None, []).append(i)
        if type(e.get("seq")) is int:
            by_seq.setdefault(e["seq"], []).append(i)
    seqs = sorted(by_seq, reverse=True)  # to jump over a run of missing events
    want_seq, want_hash = top
    after = top_name
    while want_seq > stop[0]:
        if len(problems) >= limit:
            problems.append(
                Stopped(
                    f"stopped after {len(problems)} problems: events up to seq {want_seq} "
                    "were not checked",
                    want_seq,
                )
            )
            return problems
        pick, problem = None, None
        if want_hash is not None:
            for i in by_hash.get(want_hash, []):
                if i not in claimed:
                    pick = i
                    break
            if pick is not None and computed[pick] != want_hash:
                problem = f"{_label(want_seq, events[pick])}: hash mismatch (content changed)"
            elif pick is not None and events[pick].get("seq") != want_seq:
                said = events[pick].get("seq")
                problem = f"{_label(want_seq, events[pick])}: the event says seq {said!r}"
        if pick is None:
            for i in by_seq.get(want_seq, []):
                if i not in claimed:
                    pick = i
                    break
            if pick is not None:
                e = events[pick]
                if computed[pick] != e.get("hash"):
                    problem = f"{_label(want_seq, e)}: hash mismatch (content changed)"
                elif want_hash is not None:
                    problem = (
                        f"{_label(want_seq, e)}: content changed (its hash was recomputed, "
                        f"but {after} links to a different event)"
                    )
        if pick is None:
            # The run of missing events ends at the next lower seq some event still claims.
            below = next(
                (
                    n
                    for n in seqs
                    if stop[0] < n < want_seq and any(i not in claimed for i in by_seq[n])
                ),
                stop[0],
            )
            gap = (
                f"the chain starts at seq {want_seq + 1}"
                if below == stop[0] == 0
                else f"chain jumps from {below} to {want_seq + 1}"
            )
            if want_seq == top[0]:
                gap = f"{top_name} covers up to seq {want_seq}"
            what = (
                f"event seq {want_seq} missing"
                if below == want_seq - 1
                else f"events seq {below + 1} to {want_seq} missing"
            )
            problems.append(Problem(f"{what} ({gap})", want_seq))
            want_seq, want_hash, after = below, None, f"event seq {want_seq + 1}"
            continue
        claimed[pick] = want_seq
        e = events[pick]
        if problem:
            problems.append(Problem(problem, want_seq, e.get("id")))
            want_hash = None  # a changed event's prev_hash says nothing
        else:
            prev = e.get("prev_hash")
            want_hash = prev if isinstance(prev, str) else None
        after = f"event seq {want_seq}"
        want_seq -= 1
    if want_hash is not None and want_hash != stop[1]:
        where = "the chain's first event" if stop[0] == 0 else f"seq {stop[0]}"
        problems.append(
            Problem(
                f"event seq {stop[0] + 1}: prev_hash does not link to {where}",
                stop[0] + 1,
            )
        )
    return problems


def leftovers(
    events: list[dict], claimed: dict[int, int], beyond: str, why: str = ""
) -> list[Problem]:
    """Events the walks did not reach: inserted."""
    holder = {seq: events[i] for i, seq in claimed.items()}
    out = []
    for i, e in enumerate(events):
        if i in claimed:
            continue
        seq = e.get("seq") if isinstance(e, dict) else None
        eid = e.get("id") if isinstance(e, dict) else None
        what = f"inserted event at position {i + 1}" + (f" (id {eid})" if eid else "")
        if type(seq) is int and seq in holder:
            other = holder[seq].get("id")
            out.append(Problem(f"{what}: claims seq {seq}, which event {other} holds", seq, eid))
        elif type(seq) is int and seq > max(holder, default=0):
            out.append(Problem(f"{what}: seq {seq} is beyond {beyond}{why}", seq, eid))
        else:
            out.append(Problem(f"{what}: not linked into the chain (claims seq {seq})", None, eid))
    return out


def order_problems(claimed: dict[int, int]) -> list[Problem]:
    out = []
    ordered = [claimed[i] for i in sorted(claimed)]
    for a, b in itertools.pairwise(ordered):
        if b < a:
            out.append(Problem(f"event order: seq {b} after {a}", b))
    return out


# --- bundles -------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise Unreadable(f"duplicate key {k!r} in a JSON object")
        out[k] = v
    return out


def _reject_constant(name: str) -> None:
    raise Unreadable(f"{name} is not JSON")


def parse_bundle(raw: bytes) -> dict:
    """A bundle from an export archive (zip) or a bare bundle.json."""
    if raw[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                raw = z.read("bundle.json")
        except (zipfile.BadZipFile, KeyError) as exc:
            raise Unreadable(f"not an evidence archive: {exc}") from None
    try:
        bundle = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:  # also too many digits, too deeply nested
        raise Unreadable(f"not JSON: {exc}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != C.BUNDLE_FORMAT:
        raise Unreadable(f"not a bundle: format is not {C.BUNDLE_FORMAT!r}")
    try:
        key = bundle["tenant"]["public_key"]
        bytes.fromhex(key["public_key_hex"])
        cp = bundle["checkpoint"]
        missing = [
            n
            for n in ("id", "sealed_at", "key_id", "chains", "root", "signature", "head", "proof")
            if n not in cp
        ]
        if missing:
            raise KeyError(f"checkpoint.{missing[0]}")
        if not isinstance(bundle["events"], list):
            raise TypeError("events is not a list")
        str(bundle["tenant"]["id"]), str(bundle["chain"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unreadable(f"not a bundle: missing or malformed {exc}") from None
    return bundle


def _check_checkpoint(bundle: dict, key: Ed25519PublicKey, report: Report) -> tuple | None:
    """Signature and inclusion proof; the (seq, hash) the checkpoint commits this chain to,
    or None when either fails (then nothing the checkpoint says can be trusted)."""
    cp, chain = bundle["checkpoint"], bundle["chain"]
    head = cp["head"]
    signed = True
    try:
        if not _is_int(cp["chains"]):
            raise TypeError("checkpoint.chains is not an integer")
        statement = C.checkpoint_statement(
            str(bundle["tenant"]["id"]),
            str(cp["id"]),
            str(cp["sealed_at"]),
            cp["chains"],
            str(cp["root"]),
            str(cp["key_id"]),
        )
        key.verify(bytes.fromhex(cp["signature"]), statement)
    except (InvalidSignature, ValueError, TypeError):
        report.problems.append(
            Problem("checkpoint signature is invalid: the checkpoint or the key was changed")
        )
        signed = False
    if not isinstance(head, dict) or head.get("chain") != chain:
        got = head.get("chain") if isinstance(head, dict) else head
        report.problems.append(
            Problem(f"the checkpoint covers chain {got!r}, not this bundle's chain {chain!r}")
        )
        return None
    seq, h = head.get("seq"), head.get("hash")
    if not _is_int(seq) or not isinstance(h, str):
        report.problems.append(
            Problem(
                "the checkpoint's head for this chain is malformed: it needs an integer seq "
                "and a string hash"
            )
        )
        return None
    try:
        proof = cp["proof"]
        index, siblings = proof["index"], [bytes.fromhex(s) for s in proof["siblings"]]
        if not _is_int(index) or not _is_int(cp["chains"]):
            raise TypeError("proof.index and chains must be integers")
        root = C.root_from_proof(C.leaf_hash(chain, seq, h), index, cp["chains"], siblings)
    except (KeyError, TypeError, ValueError, C.NotCanonical):
        root = None
    if root is None or root.hex() != cp["root"]:
        report.problems.append(
            Problem(
                "the checkpoint's head for this chain is not the one it signed "
                "(inclusion proof fails): the head or the proof was changed"
            )
        )
        return None
    if not signed:
        return None
    return seq, h


def verify_bundle(
    bundle: dict, trusted_key: bytes | None = None, fingerprint: str | None = None
) -> Report:
    """`trusted_key` (raw 32 bytes) or `fingerprint` (lowercase hex SHA-256): the key the
    caller trusts; without either the bundle's own key is used and `key_verified` is False
    (a forger who re-signs with their own key gets a consistent bundle)."""
    report = Report()
    pk = bundle["tenant"]["public_key"]
    raw = bytes.fromhex(pk["public_key_hex"])
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise Unreadable("the bundle's public key is not an Ed25519 key") from None
    fp = key_fingerprint(raw)
    report.fingerprint = fp
    url = pk.get("url") if isinstance(pk, dict) else None
    report.key_url = url if isinstance(url, str) else "/evidence/<tenant>/public-key"
    if trusted_key is not None:
        report.key_verified = True
        if trusted_key != raw:
            report.problems.append(
                Problem(
                    f"the bundle is signed with key {fp}, not with the key you gave "
                    f"({key_fingerprint(trusted_key)})"
                )
            )
            key = Ed25519PublicKey.from_public_bytes(trusted_key)
        else:
            report.notes.append(f"key {fp} matches the key you gave")
    elif fingerprint is not None:
        report.key_verified = True
        if fingerprint != fp:
            report.problems.append(
                Problem(
                    f"the bundle is signed with key {fp}, not with the key you gave "
                    f"(fingerprint {fingerprint})"
                )
            )
        else:
            report.notes.append(f"key {fp} matches the fingerprint you gave")
    else:
        report.notes.append(
            f"key fingerprint (SHA-256) {fp}: compare it with the tenant's published key "
            f"({report.key_url}) or pass --public-key"
        )
    chain = bundle["chain"]
    if chain != C.candidate_chain(bundle.get("candidate_id")):
        report.problems.append(
            Problem(f"the bundle names candidate {bundle.get('candidate_id')} but chain {chain}")
        )
    top = _check_checkpoint(bundle, key, report)
    events = bundle["events"]
    report.events = len(events)
    if top is None:
        report.notes.append("the events were not checked: the checkpoint cannot be trusted")
        return report
    computed = [_hash_or_none(e) for e in events]
    claimed: dict[int, int] = {}
    report.problems += walk(events, computed, top, (0, C.GENESIS), claimed)
    if report.problems and isinstance(report.problems[-1], Stopped):
        return report
    report.problems += leftovers(
        events,
        claimed,
        f"the checkpoint's head (seq {top[0]})",
        " (inserted, or the checkpoint is older than the events)",
    )
    report.problems += order_problems(claimed)
    for i, seq in sorted(claimed.items()):
        e = events[i]
        if e.get("chain") != chain and computed[i] == e.get("hash"):
            report.problems.append(Problem(f"{_label(seq, e)}: belongs to chain {e.get('chain')}"))
    if len(report.problems) > MAX_PROBLEMS:
        extra = len(report.problems) - MAX_PROBLEMS
        report.problems[MAX_PROBLEMS:] = [Problem(f"… and {extra} more problems")]
    return report


def key_fingerprint(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()
