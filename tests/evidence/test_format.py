"""docs/evidence-format.md is enough to verify a bundle: a tiny verifier written here from the
document's rules alone (hashlib, json, cryptography; nothing of ours) accepts a real bundle and
refuses a changed one; and the document's worked example is right."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.evidence.conftest import add_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence-format.md"


# --- the independent verifier: written from the document only -------------------------


def canon(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def independent_verify(bundle: dict, pem: bytes) -> bool:
    key = load_pem_public_key(pem)
    assert isinstance(key, Ed25519PublicKey)
    cp, chain = bundle["checkpoint"], bundle["chain"]
    if chain != "candidate:" + bundle["candidate_id"] or cp["head"]["chain"] != chain:
        return False
    statement = b"turnout-evidence/checkpoint/v1\n" + canon(
        {
            "chains": cp["chains"],
            "checkpoint_id": cp["id"],
            "key_id": cp["key_id"],
            "root": cp["root"],
            "sealed_at": cp["sealed_at"],
            "tenant_id": bundle["tenant"]["id"],
        }
    )
    try:
        key.verify(bytes.fromhex(cp["signature"]), statement)
    except InvalidSignature:
        return False
    head = cp["head"]
    node = sha(
        b"turnout-evidence/leaf/v1\n"
        + canon({"chain": chain, "hash": head["hash"], "seq": head["seq"]})
    )
    i, n, sibs = (
        cp["proof"]["index"],
        cp["chains"],
        [bytes.fromhex(s) for s in cp["proof"]["siblings"]],
    )
    if not 0 <= i < n:
        return False
    while n > 1:
        if i % 2 == 1:
            node = sha(b"turnout-evidence/node/v1\n" + sibs.pop(0) + node)
        elif i + 1 < n:
            node = sha(b"turnout-evidence/node/v1\n" + node + sibs.pop(0))
        i, n = i // 2, (n + 1) // 2
    if sibs or node.hex() != cp["root"]:
        return False
    prev = "0" * 64
    for i, e in enumerate(bundle["events"], start=1):
        body = {k: v for k, v in e.items() if k != "hash"}
        if hashlib.sha256(b"turnout-evidence/event/v1\n" + canon(body)).hexdigest() != e["hash"]:
            return False
        if e["seq"] != i or e["prev_hash"] != prev or e["chain"] != chain:
            return False
        prev = e["hash"]
    last = bundle["events"][-1]
    return (last["seq"], last["hash"]) == (head["seq"], head["hash"])


# --- tests -----------------------------------------------------------------------------


async def test_independent_verifier_accepts_a_real_bundle(client, world):
    from turnout.evidence.bundle import export_archive
    from turnout.evidence.verify import parse_bundle

    await add_events(world.tenant, world.candidate, 9)
    archive = await export_archive(world.tenant, world.candidate)
    bundle = parse_bundle(archive.data)
    pem = (await client.get("/evidence/acme/public-key")).content  # the published key
    assert independent_verify(bundle, pem)
    changed = copy.deepcopy(bundle)
    changed["events"][4]["data"]["i"] = 99
    assert not independent_verify(changed, pem)
    dropped = copy.deepcopy(bundle)
    del dropped["events"][-1]
    assert not independent_verify(dropped, pem)


def test_the_documents_worked_example():
    doc = DOC.read_text(encoding="utf-8")
    section = doc[doc.index("### Worked example") :]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    event = json.loads(blocks[0][1])
    canonical_text, digest = blocks[1][1].rstrip("\n"), blocks[2][1].strip()
    assert canon({k: v for k, v in event.items() if k != "hash"}).decode() == canonical_text
    assert (
        hashlib.sha256(b"turnout-evidence/event/v1\n" + canonical_text.encode()).hexdigest()
        == digest
    )
    from turnout.evidence import canonical as C  # and ours agrees with the document

    assert C.event_hash(event) == digest and C.canonical(event).decode() == canonical_text


async def test_public_key_urls(client, world):
    pem = await client.get("/evidence/acme/public-key")
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN PUBLIC KEY-----")
    meta = (await client.get("/evidence/acme/public-key.json")).json()
    assert meta["key_id"] == pem.headers["x-key-id"] and meta["algorithm"] == "Ed25519"
    assert meta["public_key_pem"] == pem.text
    raw = bytes.fromhex(meta["keys"][0]["public_key_hex"])
    assert hashlib.sha256(raw).hexdigest() == meta["fingerprint_sha256"]
    assert meta["key_id"] == "ed25519-" + meta["fingerprint_sha256"][:16]
    again = await client.get("/evidence/acme/public-key")
    assert again.text == pem.text  # stable
    assert (await client.get("/evidence/nobody/public-key")).status_code == 404
    assert (await client.get("/evidence/Bad%20Slug/public-key.json")).status_code == 404


async def test_a_tenant_from_before_the_trail_gets_its_key_on_first_use(client, world):
    from sqlalchemy import delete

    from turnout.db.session import public_session
    from turnout.evidence import keys
    from turnout.evidence.models import EvidenceKey

    async with public_session() as s:
        await s.execute(delete(EvidenceKey).where(EvidenceKey.tenant_id == world.tenant.id))
        await s.commit()
    keys._signers.clear()
    await add_events(world.tenant, world.candidate, 2)
    from turnout.evidence.bundle import build_bundle
    from turnout.evidence.verify import verify_bundle

    bundle, _ = await build_bundle(world.tenant, world.candidate)
    published = (await client.get("/evidence/acme/public-key.json")).json()
    assert bundle["checkpoint"]["key_id"] == published["key_id"]
    assert verify_bundle(bundle, bytes.fromhex(published["keys"][0]["public_key_hex"])).ok
