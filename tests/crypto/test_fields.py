"""Field encryption: contacts are stored as AES-GCM ciphertexts bound to tenant, table, column
and row, found by keyed hashes; a ciphertext moved anywhere else does not decrypt."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api
from turnout.crypto import fields
from turnout.crypto.fields import FORMAT, HEADER, DecryptionFailed, TenantCipher, key_version
from turnout.crypto.keys import keyring
from turnout.db.engine import db
from turnout.db.session import public_session

CONTACTS = {
    "phone": "13812345678",
    "email": "liwei@example.com",
    "wechatOpenId": "oWX-secret-openid",
    "pushToken": "fcm-secret-push-token",
    "idNumber": "110101199001011234",
    "notes": "prefers a call after six",
}
COLUMNS = {
    "phone": "phone_enc",
    "email": "email_enc",
    "wechatOpenId": "wechat_openid_enc",
    "pushToken": "push_token_enc",
    "idNumber": "id_number_enc",
    "notes": "notes_enc",
}
READ = """query($id: ID!) { candidate(id: $id) { name phone email wechatOpenId pushToken
  idNumber notes } }"""


def cipher(tenant_id: uuid.UUID | None = None, keys: dict[int, bytes] | None = None, active=1):
    keys = keys or {1: AESGCM.generate_key(bit_length=256)}
    return TenantCipher(
        tenant_id or uuid.uuid4(),
        {v: AESGCM(k) for v, k in keys.items()},
        active,
        os.urandom(32),
    )


async def sql(query: str, **params):
    async with db.engine().begin() as conn:
        result = await conn.execute(text(query), params)
        return result.all() if result.returns_rows else result.rowcount


def pk(gid: str) -> uuid.UUID:
    from turnout.graphql.relay import from_global

    return from_global(gid)[1]


async def read(client, token: str, gid: str):
    r = await gql(client, READ, {"id": gid}, token=token)
    assert r.status_code == 200
    return r


def refused(r, *secrets: str) -> None:
    """The read failed with an error, and none of these plaintexts came out."""
    body = r.json()
    assert body.get("errors"), body
    node = (body.get("data") or {}).get("candidate")
    assert node is None or all(node.get(k) is None for k in COLUMNS), body
    for s in secrets:
        assert s not in r.text, r.text


# --- unit level ------------------------------------------------------------------------


def test_round_trip_and_layout():
    c = cipher(active=1)
    row = uuid.uuid4()
    for value in ["13812345678", "", "李伟 <liwei@example.com>", "x" * 10_000]:
        blob = c.encrypt(value, "candidates", "phone_enc", row)
        assert isinstance(blob, bytes)
        assert blob[0] == FORMAT and key_version(blob) == 1
        assert blob[1:5] == (1).to_bytes(4, "big")
        assert len(blob) == HEADER + len(value.encode()) + 16
        assert value.encode() not in blob or value == ""
        assert c.decrypt(blob, "candidates", "phone_enc", row) == value
    assert c.encrypt(None, "candidates", "phone_enc", row) is None
    assert c.decrypt(None, "candidates", "phone_enc", row) is None


def test_same_value_encrypts_differently_each_time():
    c, row = cipher(), uuid.uuid4()
    a = c.encrypt("13812345678", "candidates", "phone_enc", row)
    b = c.encrypt("13812345678", "candidates", "phone_enc", row)
    assert a != b and a[5:HEADER] != b[5:HEADER]  # fresh nonce
    assert c.decrypt(a, "candidates", "phone_enc", row) == c.decrypt(
        b, "candidates", "phone_enc", row
    )


def test_every_tampered_byte_fails():
    c, row = cipher(), uuid.uuid4()
    blob = c.encrypt("13812345678", "candidates", "phone_enc", row)
    for i in range(len(blob)):
        for flip in (0x01, 0x80):
            bad = bytearray(blob)
            bad[i] ^= flip
            with pytest.raises(DecryptionFailed):
                c.decrypt(bytes(bad), "candidates", "phone_enc", row)
    for bad in (blob[:-1], blob[: HEADER + 15], blob[:HEADER], b"", blob + b"\x00"):
        with pytest.raises(DecryptionFailed):
            c.decrypt(bad, "candidates", "phone_enc", row)


def test_ciphertext_is_bound_to_tenant_table_column_and_row():
    tenant, row = uuid.uuid4(), uuid.uuid4()
    key = AESGCM.generate_key(bit_length=256)
    c = cipher(tenant, {1: key})
    blob = c.encrypt("13812345678", "candidates", "phone_enc", row)
    assert c.decrypt(blob, "candidates", "phone_enc", row) == "13812345678"
    assert c.decrypt(blob, "candidates", "phone_enc", str(row)) == "13812345678"
    with pytest.raises(DecryptionFailed):
        c.decrypt(blob, "candidates", "phone_enc", uuid.uuid4())  # another row
    with pytest.raises(DecryptionFailed):
        c.decrypt(blob, "candidates", "email_enc", row)  # another column
    with pytest.raises(DecryptionFailed):
        c.decrypt(blob, "interviews", "phone_enc", row)  # another table
    same_key_other_tenant = cipher(uuid.uuid4(), {1: key})
    with pytest.raises(DecryptionFailed):
        same_key_other_tenant.decrypt(blob, "candidates", "phone_enc", row)
    with pytest.raises(DecryptionFailed):
        cipher(tenant).decrypt(blob, "candidates", "phone_enc", row)  # another key


def test_key_versions():
    old, new = AESGCM.generate_key(bit_length=256), AESGCM.generate_key(bit_length=256)
    tenant, row = uuid.uuid4(), uuid.uuid4()
    v1 = cipher(tenant, {1: old}, active=1).encrypt("a@example.com", "candidates", "email_enc", row)
    both = cipher(tenant, {1: old, 7: new}, active=7)
    v7 = both.encrypt("a@example.com", "candidates", "email_enc", row)
    assert (key_version(v1), key_version(v7)) == (1, 7)
    assert v7[1:5] == b"\x00\x00\x00\x07"
    assert both.decrypt(v1, "candidates", "email_enc", row) == "a@example.com"
    assert both.decrypt(v7, "candidates", "email_enc", row) == "a@example.com"
    with pytest.raises(DecryptionFailed, match="unknown key version"):
        cipher(tenant, {1: old}).decrypt(v7, "candidates", "email_enc", row)
    # a version number pointing at another key than the one that encrypted
    forged = v1[:1] + (7).to_bytes(4, "big") + v1[5:]
    with pytest.raises(DecryptionFailed):
        both.decrypt(forged, "candidates", "email_enc", row)


def test_blind_index_unit():
    c = cipher()
    a = c.blind_index("phone", "13812345678")
    assert a == c.blind_index("phone", "13812345678")
    assert len(a) == 64 and int(a, 16) >= 0
    assert "13812345678" not in a
    assert a != hashlib.sha256(b"13812345678").hexdigest()
    assert a != hashlib.sha256(b"phone:13812345678").hexdigest()
    assert a != c.blind_index("phone", "13812345679")
    assert a != c.blind_index("email", "13812345678")  # kinds do not collide
    assert a != cipher().blind_index("phone", "13812345678")  # another index key
    assert c.blind_index("phone", None) is None


async def test_blind_index_is_stable_per_tenant_and_differs_between_tenants():
    acme, beta = await make_tenant("acme"), await make_tenant("beta")
    async with public_session() as s:
        a1 = await fields.cipher_for(s, acme.id, fresh=True)
        fields.forget(acme.id)
        a2 = await fields.cipher_for(s, acme.id)
        b = await fields.cipher_for(s, beta.id, fresh=True)
    assert a1 is not a2  # loaded again from the database
    for kind, value in (("phone", "13812345678"), ("email", "liwei@example.com")):
        assert a1.blind_index(kind, value) == a2.blind_index(kind, value)
        assert a1.blind_index(kind, value) != b.blind_index(kind, value)
    # a ciphertext of one tenant does not open with the other's keys, even on the same row id
    row = uuid.uuid4()
    blob = a1.encrypt("13812345678", "candidates", "phone_enc", row)
    assert a2.decrypt(blob, "candidates", "phone_enc", row) == "13812345678"
    with pytest.raises(DecryptionFailed):
        b.decrypt(blob, "candidates", "phone_enc", row)


async def test_tenant_keys_are_stored_wrapped_under_the_master_key():
    acme = await make_tenant("acme")
    rows = await sql(
        "SELECT purpose, version, state, wrapped, master_fingerprint FROM public.tenant_keys "
        "WHERE tenant_id = :t ORDER BY purpose, version",
        t=acme.id,
    )
    assert [(r.purpose, r.version, r.state) for r in rows] == [
        ("data", 1, "active"),
        ("index", 1, "active"),
    ]
    async with public_session() as s:
        c = await fields.cipher_for(s, acme.id, fresh=True)
    for r in rows:
        assert r.master_fingerprint == keyring.fingerprint
        assert len(r.wrapped) == 12 + 32 + 16  # nonce, key, tag: never the bare key
    assert c.index_key not in {bytes(r.wrapped[12:44]) for r in rows}


async def test_a_wrapped_key_moved_to_another_tenant_does_not_open():
    acme, beta = await make_tenant("acme"), await make_tenant("beta")
    assert 2 == await sql(
        "UPDATE public.tenant_keys b SET wrapped = a.wrapped FROM public.tenant_keys a "
        "WHERE a.tenant_id = :a AND b.tenant_id = :b AND a.purpose = b.purpose "
        "AND a.version = b.version",
        a=acme.id,
        b=beta.id,
    )
    fields.forget(beta.id)
    async with public_session() as s:
        with pytest.raises(InvalidTag):
            await fields.cipher_for(s, beta.id, fresh=True)


# --- stored through the API ------------------------------------------------------------


async def _candidate(client, token, name="Li Wei", phone="13812345678", **contacts):
    inp = {"name": name, "phone": phone, **contacts}
    res = await api.ok(client, api.CREATE_CANDIDATE, {"i": inp}, token, "createCandidate")
    return res["candidate"]["id"]


async def test_contacts_are_stored_encrypted(client):
    acme = await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    extra = {k: v for k, v in CONTACTS.items() if k != "phone"}
    gid = await _candidate(client, token, **extra)
    (row,) = await sql(
        "SELECT id, phone_enc, phone_hash, email_enc, email_hash, wechat_openid_enc, "
        "push_token_enc, id_number_enc, notes_enc FROM tenant_acme.candidates"
    )
    assert row.id == pk(gid)
    async with public_session() as s:
        c = await fields.cipher_for(s, acme.id)
    for name, column in COLUMNS.items():
        blob = bytes(getattr(row, column))
        plain = CONTACTS[name].encode()
        assert plain not in blob, column
        assert plain.hex().encode() not in blob
        assert blob[0] == FORMAT and key_version(blob) == 1
        assert c.decrypt(blob, "candidates", column, row.id) == CONTACTS[name]
    for hashed, kind, plain in (
        (row.phone_hash, "phone", CONTACTS["phone"]),
        (row.email_hash, "email", CONTACTS["email"]),
    ):
        assert hashed != plain and plain not in hashed
        assert hashed == c.blind_index(kind, plain)
        assert hashed not in {
            hashlib.sha256(plain.encode()).hexdigest(),
            hashlib.md5(plain.encode()).hexdigest(),
        }
    # nowhere in the row's text: dump the whole row as PostgreSQL prints it
    ((dump,),) = await sql("SELECT c::text FROM tenant_acme.candidates c")
    for value in CONTACTS.values():
        assert value not in dump
    # and it reads back through the API
    r = await read(client, token, gid)
    assert r.json() == {"data": {"candidate": {"name": "Li Wei", **CONTACTS}}}


async def test_ciphertext_copied_to_another_row_does_not_decrypt(client):
    await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    li = await _candidate(client, token, "Li Wei", "13812345678", email="li@example.com")
    wang = await _candidate(client, token, "Wang Fang", "13900000000", email="wang@example.com")
    assert 1 == await sql(
        "UPDATE tenant_acme.candidates SET phone_enc = "
        "(SELECT phone_enc FROM tenant_acme.candidates WHERE id = :src) WHERE id = :dst",
        src=pk(li),
        dst=pk(wang),
    )
    refused(await read(client, token, wang), "13812345678")
    r = await gql(
        client, "{ candidates(first: 10) { edges { node { name phone } } } }", token=token
    )
    refused(r, "13812345678", "13900000000")
    # the row the ciphertext came from is unaffected
    r = await read(client, token, li)
    assert r.json()["data"]["candidate"]["phone"] == "13812345678"
    # a read that does not ask for contacts still works
    r = await gql(client, "query($id: ID!) { candidate(id: $id) { name } }", {"id": wang},
                  token=token)  # fmt: skip
    assert r.json() == {"data": {"candidate": {"name": "Wang Fang"}}}


async def test_ciphertext_copied_to_another_column_does_not_decrypt(client):
    await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    li = await _candidate(client, token, "Li Wei", "13812345678", email="li@example.com")
    n = await sql(
        "UPDATE tenant_acme.candidates SET email_enc = phone_enc WHERE id = :id", id=pk(li)
    )
    assert n == 1
    r = await gql(client, "query($id: ID!) { candidate(id: $id) { email } }", {"id": li},
                  token=token)  # fmt: skip
    refused(r, "13812345678")


async def test_ciphertext_copied_to_another_tenant_does_not_decrypt(client):
    await make_tenant("tenant_a")
    await make_tenant("tenant_b")
    a = await token_for(client, "admin@tenant_a.example", "tenant_a")
    b = await token_for(client, "admin@tenant_b.example", "tenant_b")
    src = await _candidate(client, a, "Li Wei", "13812345678", email="li@example.com")
    dst = await _candidate(client, b, "Wang Fang", "13900000000", email="wang@example.com")
    # the strongest case: the same row id in both tenants, so only the tenant differs
    assert 1 == await sql(
        "UPDATE tenant_tenant_b.candidates SET id = :src WHERE id = :dst", src=pk(src), dst=pk(dst)
    )
    assert 1 == await sql(
        "UPDATE tenant_tenant_b.candidates b SET phone_enc = a.phone_enc, email_enc = a.email_enc "
        "FROM tenant_tenant_a.candidates a WHERE a.id = :id AND b.id = :id",
        id=pk(src),
    )
    r = await read(client, b, src)  # same global id, asked of tenant_b
    refused(r, "13812345678", "li@example.com")
    r = await read(client, a, src)
    assert r.json()["data"]["candidate"]["phone"] == "13812345678"
