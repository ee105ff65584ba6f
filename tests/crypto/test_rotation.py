"""Key rotation: `turnout keys rotate`, re-encryption while the API keeps reading (in this
process and with the command running in another one), and tenant keys re-wrapped from a
previous master key to the current one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

import pytest
from sqlalchemy import text

from tests.cli import turnout
from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api
from turnout.config import get_settings
from turnout.crypto import fields, rotation
from turnout.crypto.keys import _fingerprint, decode_master_key, keyring
from turnout.crypto.keys import generate_master_key as new_master
from turnout.crypto.registry import ENCRYPTED
from turnout.db.engine import db
from turnout.db.session import public_session
from turnout.kit.errors import ServiceError

CONTACTS = {
    "phone": "13812345678",
    "email": "liwei@example.com",
    "wechatOpenId": "oWX-openid",
    "pushToken": "fcm-token",
    "idNumber": "110101199001011234",
    "notes": "mornings",
}
ALL = """{ candidates(first: 100) { totalCount edges { node { name phone email wechatOpenId
  pushToken idNumber notes interviews { candidateLink } } } } }"""
PAGE = """query($tag: String!) { candidates(first: 50, filter: {tag: $tag}) {
  edges { node { name phone email } } } }"""
IMPORT = """mutation($csv: String!) { importCandidates(csv: $csv) { __typename
  ... on ImportCandidatesPayload { created errors { row field message } } } }"""


@pytest.fixture
def short_key_cache(monkeypatch):
    """Keys cached for 1 s in this process, so an in-process rotation settles quickly; the
    readers here use the same cache, so the rotation still has to wait for them."""
    monkeypatch.setattr(fields, "CACHE_SECONDS", 1.0)
    monkeypatch.setattr(rotation, "SETTLE_MARGIN", 0.5)


async def sql(query: str, **params):
    async with db.engine().begin() as conn:
        result = await conn.execute(text(query), params)
        return result.all() if result.returns_rows else result.rowcount


async def versions(slug: str) -> dict[str, set[int]]:
    """Key versions found in every registered encrypted column of the tenant: "table.column"
    -> versions (bytes 1..4 of each ciphertext, big-endian)."""
    found: dict[str, set[int]] = {}
    for table, columns in ENCRYPTED.values():
        for c in columns:
            rows = await sql(
                f'SELECT "{c}" FROM tenant_{slug}.{table.name} WHERE "{c}" IS NOT NULL'
            )
            seen = {int.from_bytes(bytes(r[0])[1:5], "big") for r in rows}
            if seen:  # columns with no values (e.g. no webhooks yet) say nothing
                found[f"{table.name}.{c}"] = seen
    assert "candidates.phone_enc" in found
    return found


async def keys(tenant_id) -> list[tuple[str, int, str, str]]:
    rows = await sql(
        "SELECT purpose, version, state, master_fingerprint FROM public.tenant_keys "
        "WHERE tenant_id = :t ORDER BY purpose, version",
        t=tenant_id,
    )
    return [tuple(r) for r in rows]


async def read_all(client, token: str) -> dict:
    r = await gql(client, ALL, token=token)
    body = r.json()
    assert r.status_code == 200 and not body.get("errors"), body
    return {e["node"]["name"]: e["node"] for e in body["data"]["candidates"]["edges"]}


async def populate(client, token: str, n: int = 3, slug: str = "acme") -> dict:
    """n candidates with every contact, the first with an interview (an encrypted link)."""
    job = await api.job(client, token)
    for i in range(n):
        inp = {k: f"{v}{i}" for k, v in CONTACTS.items()}
        inp.update(name=f"Person {i}", phone=f"1381234{i:04d}", email=f"p{i}@example.com")
        res = await api.ok(client, api.CREATE_CANDIDATE, {"i": inp}, token, "createCandidate")
        if i == 0:
            app = await api.application(client, token, res["candidate"]["id"], job)
            await api.ai_interview(client, token, app)
    before = await read_all(client, token)
    assert len(before) == n and before["Person 0"]["interviews"][0]["candidateLink"]
    assert all(v == {1} for v in (await versions(slug)).values())
    return before


async def turnout_async(*args: str, env: dict | None = None) -> tuple[int, str, str]:
    """The real `turnout` command in another process, without blocking this event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "turnout",
        *args,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


# --- the CLI ---------------------------------------------------------------------------


async def test_cli_rotates_one_tenant_while_the_server_keeps_reading(client):
    acme, beta = await make_tenant("acme"), await make_tenant("beta")
    token = await token_for(client, "admin@acme.example", "acme")
    beta_token = await token_for(client, "admin@beta.example", "beta")
    before = await populate(client, token)
    beta_before = await populate(client, beta_token, 1, "beta")

    # This process is the server: it has the tenant's keys cached and keeps reading while
    # the command runs in its own process.
    command = asyncio.create_task(turnout_async("keys", "rotate", "--tenant", "acme"))
    reads = 0
    while not command.done():
        assert await read_all(client, token) == before
        reads += 1
        await asyncio.sleep(0.05)
    rc, out, err = await command
    assert rc == 0, err
    assert reads > 10
    assert await read_all(client, token) == before  # and right after it finished

    assert "acme: data key v2 active" in out + err, out + err
    # 3 candidates with 6 contacts each and one interview link: 4 rows
    assert "4 rows re-encrypted" in out + err, out + err
    found = await versions("acme")
    assert found["candidates.phone_enc"] == {2} and found["interviews.link_token_enc"] == {2}
    assert all(v == {2} for v in found.values()), found
    fp = keyring.fingerprint
    assert await keys(acme.id) == [
        ("data", 1, "decrypt_only", fp),
        ("data", 2, "active", fp),
        ("index", 1, "active", fp),
    ]
    # search by keyed hash still finds them (the index key is not rotated)
    r = await gql(
        client,
        """{ candidates(first: 5, filter: {search: "13812340001"}) { edges { node { name } } } }""",
        token=token,
    )
    assert [e["node"]["name"] for e in r.json()["data"]["candidates"]["edges"]] == ["Person 1"]
    # new writes use the new key
    fields.forget(acme.id)
    await api.candidate(client, token, name="Late", phone="13700000000", email=None)
    assert (await versions("acme"))["candidates.phone_enc"] == {2}
    # the other tenant was not touched
    assert all(v == {1} for v in (await versions("beta")).values())
    assert [k[:3] for k in await keys(beta.id)] == [("data", 1, "active"), ("index", 1, "active")]
    assert await read_all(client, beta_token) == beta_before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name one tenant with --tenant SLUG, or --all"),
        (("--tenant", "acme", "--all"), "name one tenant with --tenant SLUG, or --all"),
        (("--tenant", "nosuch"), "no tenant 'nosuch'"),
    ],
    ids=["neither", "both", "unknown-tenant"],
)
async def test_cli_bad_input(args, message):
    acme = await make_tenant("acme")
    before = await keys(acme.id)
    p = turnout("keys", "rotate", *args)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert await keys(acme.id) == before


async def test_cli_without_the_old_master_key_fails_clearly_and_changes_nothing():
    acme = await make_tenant("acme")
    before = await keys(acme.id)
    p = turnout("keys", "rotate", "--tenant", "acme", env={"TURNOUT_MASTER_KEY": new_master()})
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    assert "TURNOUT_PREVIOUS_MASTER_KEYS" in p.stderr and before[0][3] in p.stderr, p.stderr
    assert await keys(acme.id) == before


# --- reads during rotation -------------------------------------------------------------


async def test_reads_never_fail_during_rotation(client, short_key_cache):
    acme = await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    n, groups = 300, 6
    data = "name,phone,email,tags\n" + "".join(
        f"P{i:03d},1390000{i:04d},p{i}@example.com,g{i % groups}\n" for i in range(n)
    )
    r = await gql(client, IMPORT, {"csv": data}, token=token)
    assert r.json()["data"]["importCandidates"]["created"] == n, r.text
    expected = {f"P{i:03d}": (f"1390000{i:04d}", f"p{i}@example.com") for i in range(n)}

    rotating, done = asyncio.Event(), asyncio.Event()
    during: list[int] = []  # pages read while the rotation ran
    failures: list[object] = []

    async def reader():
        """Reads every candidate (a page of 50 per tag) again and again until the rotation
        has finished, and once more after that."""
        while True:
            finished_before = done.is_set()
            seen = {}
            for g in range(groups):
                r = await gql(client, PAGE, {"tag": f"g{g}"}, token=token)
                body = r.json()
                if r.status_code != 200 or body.get("errors"):
                    failures.append(body)
                    return
                for e in body["data"]["candidates"]["edges"]:
                    seen[e["node"]["name"]] = (e["node"]["phone"], e["node"]["email"])
                if rotating.is_set() and not done.is_set():
                    during.append(g)
            if seen != expected:
                failures.append({k: v for k, v in seen.items() if expected.get(k) != v})
                return
            if finished_before:
                return

    async def rotate():
        await asyncio.sleep(0.05)  # the readers are going, with the keys in their cache
        rotating.set()
        try:
            return await rotation.rotate(acme.ref, batch=20)
        finally:
            done.set()

    report, *_ = await asyncio.gather(rotate(), reader(), reader(), reader())
    assert failures == [], failures[:3]
    assert report.new_version == 2 and report.reencrypted == n
    assert len(during) >= groups, "the readers ran during the rotation"
    found = await versions("acme")
    assert found["candidates.phone_enc"] == found["candidates.email_enc"] == {2}


async def test_a_new_key_is_not_used_until_every_process_can_know_it(client):
    """A process that loaded the keys just before the rotation began (here: a cipher held on
    to) reads everything written while the new key settles; only then do rows move to it."""
    acme = await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    await populate(client, token, 2)
    async with public_session() as s:
        other_process = await fields.cipher_for(s, acme.id, fresh=True)
    assert set(other_process.data_keys) == {1}

    task = asyncio.create_task(rotation.rotate(acme.ref, batch=1, settle=1.5))
    for _ in range(100):
        if len(await keys(acme.id)) == 3:
            break
        await asyncio.sleep(0.01)
    assert [k[:3] for k in await keys(acme.id)] == [
        ("data", 1, "active"),
        ("data", 2, "decrypt_only"),  # known to whoever loads the keys, not yet used
        ("index", 1, "active"),
    ]
    # this process already knows the new key, and still writes under the old one
    await api.candidate(client, token, name="Meanwhile", phone="13700000001", email=None)
    (row,) = await sql("SELECT id, phone_enc FROM tenant_acme.candidates WHERE name = 'Meanwhile'")
    assert fields.key_version(bytes(row.phone_enc)) == 1
    assert all(v == {1} for v in (await versions("acme")).values())
    assert other_process.decrypt(bytes(row.phone_enc), "candidates", "phone_enc", row.id) == (
        "13700000001"
    )
    assert not task.done()

    report = await task
    assert report.new_version == 2 and report.reencrypted == 4  # with "Meanwhile"
    assert [k[:3] for k in await keys(acme.id)] == [
        ("data", 1, "decrypt_only"),
        ("data", 2, "active"),
        ("index", 1, "active"),
    ]
    assert all(v == {2} for v in (await versions("acme")).values())
    assert (await read_all(client, token))["Meanwhile"]["phone"] == "13700000001"


async def test_rotation_reports_progress_and_rotates_again(client, short_key_cache):
    acme = await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    before = await populate(client, token, 5)
    started, batches = [], []
    report = await rotation.rotate(acme.ref, 2, on_start=started.append, on_batch=batches.append)
    assert started == [6]  # 5 candidates and one interview hold older ciphertexts
    assert sum(batches) == 6 == report.reencrypted and max(batches) <= 2
    assert (report.tenant, report.new_version, report.rewrapped) == ("acme", 2, 0)
    assert await rotation.count_stale(acme.ref, 2) == 0
    report = await rotation.rotate(acme.ref, 500)
    assert (report.new_version, report.reencrypted) == (3, 6)
    assert all(v == {3} for v in (await versions("acme")).values())
    assert [k[:3] for k in await keys(acme.id)] == [
        ("data", 1, "decrypt_only"),
        ("data", 2, "decrypt_only"),
        ("data", 3, "active"),
        ("index", 1, "active"),
    ]
    assert await read_all(client, token) == before


# --- re-wrapping under a new master key ------------------------------------------------


@pytest.fixture
def master_keys():
    """Switch the process's keyring to other master keys; the conftest one comes back after."""
    original = get_settings()
    touched: set = set()

    def use(master: str, previous: list[str] | None = None, *tenants) -> None:
        keyring.configure(
            original.model_copy(
                update={"master_key": master, "previous_master_keys": previous or []}
            )
        )
        for t in tenants:
            touched.add(t.id)
            fields.forget(t.id)

    try:
        yield use
    finally:
        keyring.configure(original)
        for t in touched:
            fields.forget(t)


async def test_rewrap_under_a_new_master_key(client, master_keys, short_key_cache):
    acme, beta = await make_tenant("acme"), await make_tenant("beta")
    token = await token_for(client, "admin@acme.example", "acme")
    before = await populate(client, token, 2)
    old = os.environ["TURNOUT_MASTER_KEY"]
    old_fp = _fingerprint(decode_master_key(old))
    assert {k[3] for k in await keys(acme.id)} == {old_fp}

    new = new_master()
    new_fp = _fingerprint(decode_master_key(new))
    # without the old master key the tenant's keys no longer open: the test means something
    master_keys(new, [], acme, beta)
    token = await token_for(client, "admin@acme.example", "acme")  # token keys changed too
    r = (await gql(client, ALL, token=token)).json()
    assert old_fp in json.dumps(r.get("errors")) and "13812340000" not in json.dumps(r), r
    # listed as a previous master key, they open again
    master_keys(new, [old], acme, beta)
    assert await read_all(client, token) == before

    report = await rotation.rotate(acme.ref, batch=1)
    assert (report.new_version, report.rewrapped, report.reencrypted) == (2, 2, 3)
    assert await keys(acme.id) == [
        ("data", 1, "decrypt_only", new_fp),
        ("data", 2, "active", new_fp),
        ("index", 1, "active", new_fp),
    ]
    # beta was not rotated: still under the old master key
    assert {k[3] for k in await keys(beta.id)} == {old_fp}

    # the old master key can go now, for acme
    master_keys(new, [], acme, beta)
    assert await read_all(client, token) == before
    r = await gql(
        client,
        """{ candidates(first: 5, filter: {search: "p1@example.com"}) { totalCount } }""",
        token=token,
    )
    assert r.json()["data"]["candidates"]["totalCount"] == 1
    # not for beta: rotating it now says which key is missing, and changes nothing
    beta_keys = await keys(beta.id)
    with pytest.raises(ServiceError, match=old_fp):
        await rotation.rotate(beta.ref)
    assert await keys(beta.id) == beta_keys

    # a tenant created now gets keys wrapped under the new master key
    gamma = await make_tenant("gamma")
    assert {k[3] for k in await keys(gamma.id)} == {new_fp}


async def test_cli_rotates_all_tenants_and_rewraps_with_previous_master_keys(client, master_keys):
    acme, beta = await make_tenant("acme"), await make_tenant("beta")
    token = await token_for(client, "admin@acme.example", "acme")
    before = await populate(client, token, 2)
    old, new = os.environ["TURNOUT_MASTER_KEY"], new_master()
    rc, out, err = await turnout_async(
        "keys",
        "rotate",
        "--all",
        env={"TURNOUT_MASTER_KEY": new, "TURNOUT_PREVIOUS_MASTER_KEYS": json.dumps([old])},
    )
    assert rc == 0, err
    text_ = out + err
    assert re.search(r"acme: data key v2 active, 3 rows re-encrypted, 2 keys re-wrapped", text_)
    assert re.search(r"beta: data key v2 active, 0 rows re-encrypted, 2 keys re-wrapped", text_)
    new_fp = _fingerprint(decode_master_key(new))
    for t in (acme, beta):
        assert await keys(t.id) == [
            ("data", 1, "decrypt_only", new_fp),
            ("data", 2, "active", new_fp),
            ("index", 1, "active", new_fp),
        ]
    assert all(v == {2} for v in (await versions("acme")).values())
    master_keys(new, [], acme, beta)
    token = await token_for(client, "admin@acme.example", "acme")
    assert await read_all(client, token) == before
