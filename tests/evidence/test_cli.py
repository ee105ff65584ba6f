"""`turnout evidence export | verify | seal | public-key` through the real command."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import uuid
import zipfile

from tests.cli import turnout
from tests.evidence.conftest import add_events
from tests.helpers import make_tenant
from turnout.db.engine import db


async def run(*args: str):
    return await asyncio.to_thread(turnout, *args)


def _bundle_json(archive) -> bytes:
    with zipfile.ZipFile(archive) as z:
        return z.read("bundle.json")


def _rewrite(src, dst, change) -> None:
    """Copy an archive, changing its bundle.json with `change(bundle)`."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    bundle = json.loads(files["bundle.json"])
    change(bundle)
    files["bundle.json"] = json.dumps(bundle, ensure_ascii=False).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    dst.write_bytes(buf.getvalue())


async def test_export_and_verify_round_trip(world, tmp_path):
    await add_events(world.tenant, world.candidate, 5)
    out = tmp_path / "evidence.zip"
    r = await run(
        "evidence",
        "export",
        "--tenant",
        "acme",
        "--candidate",
        str(world.candidate),
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and out.exists()
    r = await run("evidence", "public-key", "--tenant", "acme")
    assert r.returncode == 0 and r.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    key = tmp_path / "acme.pem"
    key.write_text(r.stdout)

    r = await run("evidence", "verify", str(out), "--public-key", str(key))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"VALID: {world.base + 5} events" in r.stdout and "matches the key you gave" in r.stdout
    r = await run("evidence", "verify", str(out))  # no key given: says where to get one
    assert r.returncode == 3, r.stdout + r.stderr
    assert "CONSISTENT, BUT THE KEY IS NOT VERIFIED" in r.stdout and "VALID" not in r.stdout
    key_hex = json.loads(_bundle_json(out))["tenant"]["public_key"]["public_key_hex"]
    fp = hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()
    assert f"fingerprint {fp}" in r.stdout and "/evidence/acme/public-key" in r.stdout
    assert "--public-key" in r.stdout
    r = await run("evidence", "verify", str(out), "--fingerprint", fp.upper())
    assert r.returncode == 0 and "VALID" in r.stdout, r.stdout + r.stderr
    r = await run("evidence", "verify", str(out), "--fingerprint", "ab" * 32)
    assert r.returncode == 1 and "not with the key you gave" in r.stdout
    r = await run("evidence", "verify", str(out), "--fingerprint", "xyz")
    assert r.returncode == 2 and "fingerprint" in r.stderr

    bad = tmp_path / "changed.zip"
    ids = {}

    def change(b):  # the third of the events added above
        ids["id"] = b["events"][world.base + 2]["id"]
        b["events"][world.base + 2]["data"]["step"] = 2

    _rewrite(out, bad, change)
    r = await run("evidence", "verify", str(bad), "--public-key", str(key))
    assert r.returncode == 1
    seq = world.base + 3
    assert f"event seq {seq} (id {ids['id']}): hash mismatch (content changed)" in r.stdout

    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    r = await run("evidence", "verify", str(out), "--public-key", str(other))
    assert r.returncode == 1 and "not with the key you gave" in r.stdout


async def test_unreadable_inputs_exit_2(world, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 nothing")
    text = tmp_path / "bundle.json"
    text.write_text('{"format": "other"}')
    for args in (
        [str(junk)],
        [str(text)],
        [str(tmp_path / "missing.zip")],
        [],
        [str(text), "--tenant", "acme"],
        [str(text), "--public-key", str(text)],
    ):
        r = await run("evidence", "verify", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "error" in r.stderr


async def test_export_bad_input(world, tmp_path):
    for args, message in [
        (["--candidate", str(uuid.uuid4()), "-o", str(tmp_path / "x.zip")], "no candidate"),
        (["--candidate", "not-an-id", "-o", str(tmp_path / "x.zip")], "candidate"),
        (["--candidate", str(world.candidate), "-o", str(tmp_path)], "is a folder"),
        (
            ["--candidate", str(world.candidate), "-o", str(tmp_path / "no" / "x.zip")],
            "does not exist",
        ),
    ]:
        r = await run("evidence", "export", "--tenant", "acme", *args)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing partial written
    r = await run(
        "evidence",
        "export",
        "--tenant",
        "nobody",
        "--candidate",
        str(world.candidate),
        "-o",
        str(tmp_path / "x.zip"),
    )
    assert r.returncode == 1 and "no tenant" in r.stderr


async def test_seal_and_verify_the_database(world):
    await make_tenant("quiet")  # no candidate, so nothing recorded
    r = await run("evidence", "seal", "--tenant", "quiet")
    assert r.returncode == 1 and "nothing to seal" in r.stderr
    await add_events(world.tenant, world.candidate, 4)
    r = await run("evidence", "seal", "--tenant", "acme")
    assert r.returncode == 0 and f"1 chains, {world.base + 4} events" in r.stdout, r.stderr
    r = await run("evidence", "verify", "--tenant", "acme")
    assert r.returncode == 0 and "VALID" in r.stdout, r.stdout + r.stderr
    table = f'"{world.tenant.ref.schema}".evidence_events'
    async with db.engine().begin() as conn:
        await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.exec_driver_sql(f"DELETE FROM {table} WHERE seq = 2")
        await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    r = await run("evidence", "verify", "--tenant", "acme", "--candidate", str(world.candidate))
    assert r.returncode == 1 and "event seq 2 missing (chain jumps from 1 to 3)" in r.stdout
    r = await run("evidence", "verify", "--tenant", "nobody")
    assert r.returncode == 2 and "no tenant" in r.stderr


def _forge(src, dst) -> None:
    """Rewrite the last event, re-seal with a key of one's own and put that key in."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from turnout.evidence import canonical as C
    from turnout.evidence.keys import raw_public

    def change(b):
        e = b["events"][-1]
        e["data"] = {"rewritten": True}
        e["hash"] = C.event_hash(e)
        forger = Ed25519PrivateKey.generate()
        cp = b["checkpoint"]
        cp["head"]["hash"] = e["hash"]
        cp["chains"], cp["proof"] = 1, {"index": 0, "siblings": []}
        cp["root"] = C.leaf_hash(b["chain"], e["seq"], e["hash"]).hex()
        statement = C.checkpoint_statement(
            b["tenant"]["id"], cp["id"], cp["sealed_at"], 1, cp["root"], cp["key_id"]
        )
        cp["signature"] = forger.sign(statement).hex()
        b["tenant"]["public_key"]["public_key_hex"] = raw_public(forger.public_key()).hex()

    _rewrite(src, dst, change)


async def test_a_re_signed_bundle_is_never_valid_without_a_trusted_key(world, tmp_path):
    await add_events(world.tenant, world.candidate, 2)
    out, forged, key = tmp_path / "e.zip", tmp_path / "forged.zip", tmp_path / "acme.pem"
    args = ["--tenant", "acme", "--candidate", str(world.candidate), "-o", str(out)]
    assert (await run("evidence", "export", *args)).returncode == 0
    key.write_text((await run("evidence", "public-key", "--tenant", "acme")).stdout)
    _forge(out, forged)
    r = await run("evidence", "verify", str(forged))  # was "VALID", exit 0
    assert r.returncode == 3 and "VALID" not in r.stdout, r.stdout + r.stderr
    assert "CONSISTENT, BUT THE KEY IS NOT VERIFIED" in r.stdout
    r = await run("evidence", "verify", str(forged), "--public-key", str(key))
    assert r.returncode == 1 and "not with the key you gave" in r.stdout
    r = await run("evidence", "verify", "--help")
    assert r.returncode == 0
    assert "3 consistent, but" in " ".join(r.stdout.split()) and "--fingerprint" in r.stdout


async def test_a_malformed_head_is_a_named_problem_not_a_traceback(world, tmp_path):
    await add_events(world.tenant, world.candidate, 2)
    out, bad, key = tmp_path / "e.zip", tmp_path / "bad.zip", tmp_path / "acme.pem"
    args = ["--tenant", "acme", "--candidate", str(world.candidate), "-o", str(out)]
    assert (await run("evidence", "export", *args)).returncode == 0
    key.write_text((await run("evidence", "public-key", "--tenant", "acme")).stdout)
    _rewrite(out, bad, lambda b: b["checkpoint"]["head"].pop("seq"))
    r = await run("evidence", "verify", str(bad), "--public-key", str(key))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "head for this chain is malformed" in r.stdout
