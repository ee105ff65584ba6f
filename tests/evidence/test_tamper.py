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
from turnout.evidence.verify import MAX_PROBLEMS, Unreadable, parse_bundle, verify_bundle

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
    report = verify_bundle(b)
    assert report.ok and not report.key_verified  # why the key must come from elsewhere
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


# --- malformed or hostile checkpoints: a named problem, quickly ---------------------------


def _resign(b: dict, seq: int, forger: Ed25519PrivateKey | None = None) -> None:
    """Point the checkpoint's head at `seq` (the last event's hash) and re-seal it with a
    key of the forger's own, put into the bundle: consistent in itself."""
    forger = forger or Ed25519PrivateKey.generate()
    cp = b["checkpoint"]
    cp["head"]["seq"] = seq
    cp["head"]["hash"] = b["events"][-1]["hash"]
    cp["chains"], cp["root"], cp["proof"] = (
        1,
        C.leaf_hash(b["chain"], seq, cp["head"]["hash"]).hex(),
        {"index": 0, "siblings": []},
    )
    statement = C.checkpoint_statement(
        b["tenant"]["id"], cp["id"], cp["sealed_at"], 1, cp["root"], cp["key_id"]
    )
    cp["signature"] = forger.sign(statement).hex()
    b["tenant"]["public_key"]["public_key_hex"] = raw_public(forger.public_key()).hex()


@pytest.mark.parametrize("missing", ["seq", "hash"])
def test_a_head_without_seq_or_hash_is_a_named_problem(bundles, missing):
    del bundles["small"]["checkpoint"]["head"][missing]
    report = verify_bundle(bundles["small"])  # raised UnboundLocalError
    assert any("head for this chain is malformed" in p.message for p in report.problems), (
        report.problems
    )


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("chains", "2"),
        ("chains", 2.0),
        ("chains", True),
        ("seq", str(N)),
        ("seq", float(N)),
        ("index", "index-as-string"),
        ("index", "index-as-float"),
        ("index", "index-as-bool"),
    ],
)
def test_integers_must_be_json_integers(bundles, where, value):
    b = bundles["small"]
    cp = b["checkpoint"]
    assert verify_bundle(b).ok and cp["chains"] == 2
    if where == "chains":
        cp["chains"] = value
    elif where == "seq":
        cp["head"]["seq"] = value
    else:
        index = cp["proof"]["index"]
        cp["proof"]["index"] = {
            "index-as-string": str(index),
            "index-as-float": float(index),
            "index-as-bool": bool(index),
        }[value]
    assert not verify_bundle(b).ok


def test_a_huge_head_with_a_failing_proof_is_not_walked(bundles):
    import time

    b = bundles["small"]
    b["checkpoint"]["head"]["seq"] = 3_000_000
    started = time.monotonic()
    report = verify_bundle(b)
    assert time.monotonic() - started < 1
    assert [p.message for p in report.problems] == [
        "the checkpoint's head for this chain is not the one it signed (inclusion proof "
        "fails): the head or the proof was changed"
    ]
    assert "the events were not checked: the checkpoint cannot be trusted" in report.notes


def test_a_failing_signature_stops_the_check(bundles):
    b = bundles["small"]
    b["checkpoint"]["signature"] = "00" * 64
    b["events"].pop(2)  # would be named if the head were trusted
    report = verify_bundle(b)
    assert [p.message for p in report.problems] == [
        "checkpoint signature is invalid: the checkpoint or the key was changed"
    ]


@pytest.mark.parametrize("seq", [3_000_000, C.MAX_INT])
def test_a_huge_signed_head_is_one_problem_quickly(bundles, seq):
    """Re-signed with the forger's key so the proof and signature hold: the walk from seq
    3,000,000 took 6.5 s (one problem per missing seq); from 2^53 - 1 it never ended."""
    import time

    b = bundles["small"]
    _resign(b, seq)
    started = time.monotonic()
    report = verify_bundle(b)
    assert time.monotonic() - started < 1
    last = b["events"][-1]
    assert [p.message for p in report.problems] == [
        f"event seq {seq} (id {last['id']}): the event says seq {N}",
        f"events seq {N} to {seq - 1} missing (chain jumps from {N - 1} to {seq})",
    ]


def test_a_run_of_missing_events_is_one_problem(bundles):
    b = bundles["small"]
    del b["events"][1:4]  # seq 2, 3 and 4
    report = verify_bundle(b)
    assert [p.message for p in report.problems] == [
        "events seq 2 to 4 missing (chain jumps from 1 to 5)"
    ]


def test_many_problems_stop_the_walk(bundles):
    """Every other event missing from a long chain: at most MAX_PROBLEMS, then it says it
    stopped."""
    b = bundles["small"]
    last = b["events"][-1]
    template = copy.deepcopy(last)
    events = []
    for n in range(1, 401):  # a chain of 400 events of which the odd ones are deleted
        e = copy.deepcopy(template)
        e["id"], e["seq"] = str(uuid.uuid4()), n
        e["prev_hash"] = events[-1]["hash"] if events else C.GENESIS
        _rehash(e)
        events.append(e)
    b["events"] = events
    _resign(b, 400)
    b["events"] = [e for e in events if e["seq"] % 2 == 0]
    report = verify_bundle(b)
    assert len(report.problems) == MAX_PROBLEMS + 1
    assert report.problems[-1].message.startswith(f"stopped after {MAX_PROBLEMS} problems")


@pytest.mark.parametrize("raw", [b"1" * 5000, b"[" * 100_000 + b"]" * 100_000])
def test_numbers_too_long_or_nesting_too_deep_are_unreadable(raw):
    with pytest.raises(Unreadable):
        parse_bundle(raw)
