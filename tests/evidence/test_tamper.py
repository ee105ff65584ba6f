"""Tampering with a bundle: editing any field of any event (with or without recomputing its
hash), deleting, inserting, reordering, swapping the checkpoint, forging the signature. Each
is detected, every time, and the verifier names the event."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.evidence.conftest import add_events
from turnout.evidence import canonical as C
from turnout.evidence.bundle import build_bundle
from turnout.evidence.keys import raw_public
from turnout.evidence.verify import Unreadable, parse_bundle, verify_bundle

N = 6
FIELDS = [
    "id",
    "chain",
    "seq",
    "prev_hash",
    "kind",
    "actor",
    "candidate_id",
    "interview_id",
    "occurred_at",
    "recorded_at",
    "data",
    "hash",
]
_cache: dict[str, dict] = {}


async def _build() -> None:
    from tests.helpers import make_tenant
    from turnout.db.engine import db
    from turnout.db.session import tenant_session
    from turnout.recruiting.models import Candidate

    tenant = await make_tenant("tamper")
    async with tenant_session(tenant.ref) as s:
        mine, other = Candidate(name="Li Wei"), Candidate(name="Other")
        s.add_all([mine, other])
        await s.commit()
    await add_events(tenant, mine.id, 3)
    _cache["old"], _ = await build_bundle(tenant, mine.id)
    await add_events(tenant, mine.id, N - 3)
    await add_events(tenant, other.id, 2)
    _cache["small"], _ = await build_bundle(tenant, mine.id)
    _cache["other"], _ = await build_bundle(tenant, other.id)
    await db.dispose()  # this loop's pool


@pytest.fixture
def bundles() -> dict[str, dict]:
    """Built once, on a loop of its own (the schema is dropped after the first test; the
    bundles are plain data). Each test gets its own copy to tamper with."""
    if not _cache:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _build()).result()
    assert len(_cache["small"]["events"]) == N
    return {k: copy.deepcopy(v) for k, v in _cache.items()}


def _names(problems, seq: int, event_id: str | None = None) -> bool:
    """Some problem names this event: by its seq, or by its id."""
    pattern = re.compile(rf"\bseq {seq}\b")
    return any(pattern.search(p.message) or (event_id and event_id in p.message) for p in problems)


def _changed(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value + 100
    if isinstance(value, dict):
        return {**value, "i": -1}
    if value is None:
        return str(uuid.uuid4())
    if isinstance(value, str) and len(value) == 64:
        return "f" * 64
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def _rehash(event: dict) -> None:
    event["hash"] = C.event_hash(event)


def test_the_untouched_bundle_is_valid(bundles):
    for name in ("small", "old", "other"):
        report = verify_bundle(bundles[name])
        assert report.ok, (name, report.problems)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("pos", range(N))
def test_edit_any_field_of_any_event(bundles, pos, field):
    b = bundles["small"]
    e = b["events"][pos]
    e[field] = _changed(e[field])
    report = verify_bundle(b)
    assert not report.ok
    assert _names(report.problems, pos + 1, e["id"]), report.problems


@pytest.mark.parametrize("field", [f for f in FIELDS if f != "hash"])
@pytest.mark.parametrize("pos", range(N))
def test_edit_with_the_hash_recomputed(bundles, pos, field):
    b = bundles["small"]
    e = b["events"][pos]
    e[field] = _changed(e[field])
    _rehash(e)
    report = verify_bundle(b)
    assert not report.ok
    assert _names(report.problems, pos + 1, e["id"]), report.problems


@pytest.mark.parametrize("pos", range(N))
def test_delete_any_event(bundles, pos):
    b = bundles["small"]
    gone = b["events"].pop(pos)
    report = verify_bundle(b)
    assert not report.ok
    assert any(f"event seq {gone['seq']} missing" in p.message for p in report.problems), (
        report.problems
    )


@pytest.mark.parametrize("pos", range(N + 1))
@pytest.mark.parametrize("seq_kind", ["duplicate", "next"])
def test_insert_an_event_anywhere(bundles, pos, seq_kind):
    b = bundles["small"]
    events = b["events"]
    before = events[pos - 1] if pos > 0 else None
    forged = copy.deepcopy(events[min(pos, N - 1)])
    forged["id"] = str(uuid.uuid4())
    forged["data"] = {"forged": True}
    forged["seq"] = (before["seq"] + 1) if seq_kind == "duplicate" and before else N + 1
    forged["prev_hash"] = before["hash"] if before else C.GENESIS
    _rehash(forged)  # a perfectly well-formed event, linked to its predecessor
    events.insert(pos, forged)
    report = verify_bundle(b)
    assert not report.ok
    assert any(forged["id"] in p.message and "inserted" in p.message for p in report.problems), (
        report.problems
    )


@pytest.mark.parametrize("pos", range(N - 1))
def test_swap_neighbours(bundles, pos):
    events = bundles["small"]["events"]
    events[pos], events[pos + 1] = events[pos + 1], events[pos]
    report = verify_bundle(bundles["small"])
    assert not report.ok
    assert [p.message for p in report.problems] == [f"event order: seq {pos + 1} after {pos + 2}"]


@pytest.mark.parametrize("pos", range(N - 1))
def test_move_an_event_to_the_end(bundles, pos):
    events = bundles["small"]["events"]
    events.append(events.pop(pos))
    report = verify_bundle(bundles["small"])
    assert [p.message for p in report.problems] == [f"event order: seq {pos + 1} after {N}"]


def test_an_older_checkpoint_does_not_cover_the_later_events(bundles):
    b = bundles["small"]
    b["checkpoint"] = bundles["old"]["checkpoint"]
    report = verify_bundle(b)
    assert not report.ok
    for e in b["events"][3:]:
        assert _names(report.problems, e["seq"], e["id"]), report.problems


def test_another_candidates_checkpoint_is_refused(bundles):
    b = bundles["small"]
    b["checkpoint"] = bundles["other"]["checkpoint"]
    report = verify_bundle(b)
    assert any("not this bundle's chain" in p.message for p in report.problems)


def test_renaming_the_candidate_is_detected(bundles):
    b = bundles["small"]
    b["candidate_id"] = str(uuid.uuid4())
    assert not verify_bundle(b).ok


@pytest.mark.parametrize("what", ["signature", "root", "sealed_at", "id", "chains", "key_id"])
def test_a_changed_checkpoint_fails_its_signature(bundles, what):
    cp = bundles["small"]["checkpoint"]
    cp[what] = _changed(cp[what])
    report = verify_bundle(bundles["small"])
    assert any("signature is invalid" in p.message for p in report.problems), report.problems


@pytest.mark.parametrize("what", ["seq", "hash", "index", "sibling"])
def test_a_changed_head_or_proof_fails_inclusion(bundles, what):
    cp = bundles["small"]["checkpoint"]
    if what == "index":
        cp["proof"]["index"] ^= 1
    elif what == "sibling":
        cp["proof"]["siblings"][0] = "0" * 64
    else:
        cp["head"][what] = _changed(cp["head"][what])
    report = verify_bundle(bundles["small"])
    assert any("inclusion proof fails" in p.message for p in report.problems), report.problems


def test_a_bundle_re_signed_with_another_key(bundles):
    """Someone rewrites an event, re-seals with their own key and puts that key in the
    bundle: consistent in itself, refused against the tenant's published key."""
    b = bundles["small"]
    genuine_key = bytes.fromhex(b["tenant"]["public_key"]["public_key_hex"])
    e = b["events"][-1]
    e["data"] = {"rewritten": True}
    _rehash(e)
    forger = Ed25519PrivateKey.generate()
    raw = raw_public(forger.public_key())
    cp = b["checkpoint"]
    cp["head"]["hash"] = e["hash"]
    cp["chains"], cp["root"], cp["proof"] = (
        1,
        C.leaf_hash(b["chain"], e["seq"], e["hash"]).hex(),
        {
            "index": 0,
            "siblings": [],
        },
    )
    statement = C.checkpoint_statement(
        b["tenant"]["id"], cp["id"], cp["sealed_at"], 1, cp["root"], cp["key_id"]
    )
    cp["signature"] = forger.sign(statement).hex()
    b["tenant"]["public_key"]["public_key_hex"] = raw.hex()
    assert verify_bundle(b).ok  # why the key must come from elsewhere
    report = verify_bundle(b, trusted_key=genuine_key)
    assert any("not with the key you gave" in p.message for p in report.problems)
    assert any("signature is invalid" in p.message for p in report.problems)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"format": "something else"}',
        b'{"format": "turnout-evidence-bundle/1", "format": "turnout-evidence-bundle/1"}',
        b'{"format": "turnout-evidence-bundle/1", "events": []}',
        b"PK\x03\x04 broken zip",
        b'{"format": "turnout-evidence-bundle/1", "x": NaN}',
    ],
)
def test_unreadable_input(raw):
    with pytest.raises(Unreadable):
        parse_bundle(raw)


def test_parse_round_trip(bundles):
    raw = json.dumps(bundles["small"], ensure_ascii=False).encode()
    assert verify_bundle(parse_bundle(raw)).ok
