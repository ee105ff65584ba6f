"""CSV import of candidates through real GraphQL requests: JSON `csv` strings and multipart
uploads (the GraphQL multipart request spec), all-or-nothing by default, `partial` keeping the
valid rows, file-level problems as InvalidInputError, row problems with row number and column."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text

from tests.helpers import gql, make_tenant, make_user, token_for
from tests.recruiting import api
from turnout.db.engine import db

IMPORT = """mutation($csv: String, $file: Upload, $p: Boolean! = false) {
  importCandidates(csv: $csv, file: $file, partial: $p) { __typename
    ... on ImportCandidatesPayload { rows created committed candidateIds
          errors { row field message } }
    ... on InvalidInputError { code message errors { path code message } }
    ... on ForbiddenError { code message } } }"""
CANDIDATE = """query($id: ID!) { candidate(id: $id) { name phone email tags timeZone locale
  source consent { channel granted } } }"""
TOTAL = "{ candidates(first: 5) { totalCount } }"
SEARCH = """query($s: String!) { candidates(first: 5, filter: {search: $s}) { totalCount
  edges { node { name phone email } } } }"""
HEADER = ["name", "phone", "email", "time_zone", "tags", "source", "consent"]


def to_csv(rows: list[list[str]], header: list[str] | None = HEADER) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def person(i: int, **over: str) -> list[str]:
    """One valid row for HEADER; keyword arguments replace columns."""
    row = {
        "name": f"Candidate {i:05d}",
        "phone": f"139{i:08d}",
        "email": f"person{i}@example.com",
        "time_zone": "Asia/Shanghai",
        "tags": "night shift;icu",
        "source": "job fair",
        "consent": "sms;email",
    }
    row.update(over)
    return [row[h] for h in HEADER]


async def admin_token(client, slug: str = "acme") -> str:
    await make_tenant(slug)
    return await token_for(client, f"admin@{slug}.example", slug)


async def run_import(client, token: str, data: str, partial: bool = False) -> dict:
    r = await gql(client, IMPORT, {"csv": data, "p": partial}, token=token)
    body = r.json()
    assert r.status_code == 200 and not body.get("errors"), body
    return body["data"]["importCandidates"]


async def upload(
    client,
    token: str,
    content: bytes,
    partial: bool = False,
    csv_too: str | None = None,
    filename: str = "candidates.csv",
):
    """A GraphQL multipart request: `operations`, `map` and the file part "0"."""
    operations = {"query": IMPORT, "variables": {"csv": csv_too, "file": None, "p": partial}}
    return await client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (filename, content, "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )


async def total(client, token: str) -> int:
    r = await gql(client, TOTAL, token=token)
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]["candidates"]["totalCount"]


async def rows_in_db(slug: str = "acme") -> int:
    async with db.engine().connect() as conn:
        return await conn.scalar(text(f"SELECT count(*) FROM tenant_{slug}.candidates"))


async def fetch(client, token: str, gid: str) -> dict:
    r = await gql(client, CANDIDATE, {"id": gid}, token=token)
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]["candidate"]


def problems(res: dict) -> set[tuple[int, str]]:
    return {(e["row"], e["field"]) for e in res["errors"]}


# --- valid files -----------------------------------------------------------------------


async def test_several_thousand_rows_import_and_read_back(client):
    token = await admin_token(client)
    n = 3000
    rows = [person(i) for i in range(1, n + 1)]
    rows[9] = person(10, phone="+86 139-0000-0010", email="  Person10@Example.COM ")
    rows[10] = person(11, time_zone="", tags="", consent="", source="")
    res = await run_import(client, token, to_csv(rows))
    assert res["__typename"] == "ImportCandidatesPayload", res
    assert res["errors"] == []
    assert (res["rows"], res["created"], res["committed"]) == (n, n, True)
    assert len(res["candidateIds"]) == n == len(set(res["candidateIds"]))
    assert await total(client, token) == n
    assert await rows_in_db() == n

    ids = res["candidateIds"]  # one per row, in row order
    for i in (1, 2, 1500, 2999, 3000):
        got = await fetch(client, token, ids[i - 1])
        assert got == {
            "name": f"Candidate {i:05d}",
            "phone": f"139{i:08d}",
            "email": f"person{i}@example.com",
            "tags": ["icu", "night shift"],
            "timeZone": "Asia/Shanghai",
            "locale": "en",
            "source": "job fair",
            "consent": [
                {"channel": "email", "granted": True},
                {"channel": "sms", "granted": True},
            ],
        }, i
    # normalized on the way in: phone without separators, email lower-cased and trimmed
    got = await fetch(client, token, ids[9])
    assert (got["phone"], got["email"]) == ("+8613900000010", "person10@example.com")
    # empty optional cells take the defaults
    got = await fetch(client, token, ids[10])
    assert (got["timeZone"], got["tags"], got["consent"], got["source"]) == (
        "UTC",
        [],
        [],
        "import",
    )
    # the keyed hashes were written too: the imported rows are found by phone and email
    for s in ("13900002999", "person2999@example.com"):
        r = (await gql(client, SEARCH, {"s": s}, token=token)).json()
        assert r["data"]["candidates"]["totalCount"] == 1, (s, r)
        assert r["data"]["candidates"]["edges"][0]["node"]["name"] == "Candidate 02999"


async def test_columns_in_any_order_and_only_some_of_them(client):
    token = await admin_token(client)
    data = "email,name\nzoe@example.com,Zoe\nyan@example.com,Yan\n"
    res = await run_import(client, token, data)
    assert (res["rows"], res["created"], res["committed"], res["errors"]) == (2, 2, True, [])
    got = await fetch(client, token, res["candidateIds"][1])
    assert (got["name"], got["email"], got["phone"]) == ("Yan", "yan@example.com", None)


async def test_all_columns_and_quoted_values(client):
    token = await admin_token(client)
    header = [
        "name", "phone", "email", "wechat_open_id", "push_token", "id_number",
        "time_zone", "locale", "tags", "source", "consent", "notes",
    ]  # fmt: skip
    row = [
        "Wang, Fang", "13700000001", "fang@example.com", "oWX-1", "fcm-1", "110101199001011234",
        "Europe/Berlin", "zh-CN", "a;b", "referral", "wechat", 'said "call after 6",\nthanks',
    ]  # fmt: skip
    res = await run_import(client, token, to_csv([row], header))
    assert (res["created"], res["errors"]) == (1, [])
    r = await gql(
        client,
        """query($id: ID!) { candidate(id: $id) { name phone email wechatOpenId pushToken
        idNumber timeZone locale tags source notes consent { channel granted } } }""",
        {"id": res["candidateIds"][0]},
        token=token,
    )
    assert r.json() == {
        "data": {
            "candidate": {
                "name": "Wang, Fang",
                "phone": "13700000001",
                "email": "fang@example.com",
                "wechatOpenId": "oWX-1",
                "pushToken": "fcm-1",
                "idNumber": "110101199001011234",
                "timeZone": "Europe/Berlin",
                "locale": "zh-CN",
                "tags": ["a", "b"],
                "source": "referral",
                "notes": 'said "call after 6",\nthanks',
                "consent": [{"channel": "wechat", "granted": True}],
            }
        }
    }


async def test_a_byte_order_mark_before_the_header_is_ignored(client):
    token = await admin_token(client)
    res = await run_import(client, token, "\ufeffname,phone\nLi,13800000001\n")
    assert (res["__typename"], res["created"]) == ("ImportCandidatesPayload", 1), res


async def test_imported_candidates_can_be_paged_through(client):
    token = await admin_token(client)
    n = 120
    res = await run_import(client, token, to_csv([person(i) for i in range(1, n + 1)]))
    assert res["created"] == n
    seen: list[str] = []
    after = None
    for _ in range(10):
        r = await gql(
            client,
            """query($a: String) { candidates(first: 50, after: $a) {
              pageInfo { hasNextPage endCursor } edges { node { name } } } }""",
            {"a": after},
            token=token,
        )
        page = r.json()["data"]["candidates"]
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == [f"Candidate {i:05d}" for i in range(1, n + 1)]


# --- bad rows --------------------------------------------------------------------------

BAD_FILE = [
    person(1),  # 1 ok
    person(2, email="not-an-email"),  # 2
    person(3, phone="12ab"),  # 3
    person(4, name=""),  # 4
    person(5, time_zone="Mars/Olympus"),  # 5
    person(6),  # 6 ok
    person(7, phone="139 0000 0006"),  # 7: same phone as row 6 once normalized
    person(8, phone="138-1234-5678"),  # 8: the phone of a candidate already in the database
    person(9),  # 9 ok
]
BAD = {(2, "email"), (3, "phone"), (4, "name"), (5, "time_zone"), (7, "phone"), (8, "phone")}


def check_bad_report(res: dict) -> None:
    assert res["__typename"] == "ImportCandidatesPayload", res
    assert res["rows"] == len(BAD_FILE)
    assert problems(res) == BAD, res["errors"]
    by_row = {e["row"]: e["message"] for e in res["errors"]}
    assert "row 6" in by_row[7], by_row
    assert "exists" in by_row[8], by_row
    assert "Mars/Olympus" in by_row[5], by_row
    assert all(m for m in by_row.values())


async def test_bad_rows_write_nothing_by_default(client):
    token = await admin_token(client)
    existing = await api.candidate(client, token, phone="13812345678", email="li@example.com")
    res = await run_import(client, token, to_csv(BAD_FILE))
    check_bad_report(res)
    assert (res["committed"], res["created"], res["candidateIds"]) == (False, 0, [])
    assert await total(client, token) == 1
    assert await rows_in_db() == 1
    # the existing candidate is untouched
    got = await fetch(client, token, existing)
    assert (got["phone"], got["email"]) == ("13812345678", "li@example.com")


async def test_partial_keeps_the_valid_rows_and_reports_the_bad_ones(client):
    token = await admin_token(client)
    await api.candidate(client, token, phone="13812345678", email="li@example.com")
    res = await run_import(client, token, to_csv(BAD_FILE), partial=True)
    check_bad_report(res)
    assert (res["committed"], res["created"]) == (True, 3)
    assert await total(client, token) == 4
    assert await rows_in_db() == 4
    names = [(await fetch(client, token, i))["name"] for i in res["candidateIds"]]
    assert names == ["Candidate 00001", "Candidate 00006", "Candidate 00009"]
    # row 7 lost to row 6: the phone now belongs to row 6's candidate only
    r = (await gql(client, SEARCH, {"s": "13900000006"}, token=token)).json()
    assert [e["node"]["name"] for e in r["data"]["candidates"]["edges"]] == ["Candidate 00006"]


async def test_partial_with_only_bad_rows_creates_nothing(client):
    token = await admin_token(client)
    res = await run_import(
        client, token, to_csv([person(1, email="x"), person(2, name="")]), partial=True
    )
    assert problems(res) == {(1, "email"), (2, "name")}
    assert (res["created"], res["candidateIds"]) == (0, [])
    assert await rows_in_db() == 0


async def test_every_problem_of_a_row_is_reported(client):
    token = await admin_token(client)
    res = await run_import(
        client, token, to_csv([person(1, name="", email="bad", phone="1", consent="fax")])
    )
    assert problems(res) == {(1, "name"), (1, "email"), (1, "phone"), (1, "consent")}
    assert await rows_in_db() == 0


async def test_a_row_without_any_contact_is_reported(client):
    token = await admin_token(client)
    res = await run_import(client, token, to_csv([person(1, phone="", email="")]))
    assert problems(res) == {(1, "phone")}
    assert "reached" in res["errors"][0]["message"]
    assert not res["committed"]


async def test_duplicate_emails_are_reported_on_the_email_column(client):
    token = await admin_token(client)
    await api.candidate(client, token, phone="13812345678", email="taken@example.com")
    rows = [
        person(1, email="same@example.com"),
        person(2, email="SAME@example.com"),  # same email as row 1, different phone
        person(3, email="taken@example.com"),  # email of a candidate in the database
        person(1, email="same@example.com"),  # phone and email of row 1
    ]
    res = await run_import(client, token, to_csv(rows))
    assert problems(res) == {(2, "email"), (3, "email"), (4, "phone"), (4, "email")}, res
    by_row = {(e["row"], e["field"]): e["message"] for e in res["errors"]}
    assert "row 1" in by_row[2, "email"] and "exists" in by_row[3, "email"]
    assert "row 1" in by_row[4, "phone"] and "row 1" in by_row[4, "email"]
    assert await rows_in_db() == 1


async def test_later_rows_clashing_with_one_earlier_row_are_each_reported(client):
    token = await admin_token(client)
    rows = [person(1), person(2, phone="13900000001"), person(3, phone="13900000001")]
    res = await run_import(client, token, to_csv(rows), partial=True)
    assert problems(res) == {(2, "phone"), (3, "phone")}
    assert res["created"] == 1 and await rows_in_db() == 1


async def test_values_the_database_cannot_hold_are_row_errors(client):
    token = await admin_token(client)
    rows = [person(1), person(2, source="s" * 81), person(3)]
    res = await run_import(client, token, to_csv(rows))
    assert res["__typename"] == "ImportCandidatesPayload", res
    assert problems(res) == {(2, "source")}
    assert await rows_in_db() == 0
    res = await run_import(client, token, to_csv(rows), partial=True)
    assert problems(res) == {(2, "source")} and res["created"] == 2
    assert await rows_in_db() == 2
    # PostgreSQL text cannot hold NUL: a row error naming the column, not a failed request
    rows = [person(11), person(12, name="Li\x00Wei", tags="a;b\x00c"), person(13)]
    res = await run_import(client, token, to_csv(rows))
    assert res["__typename"] == "ImportCandidatesPayload", res
    assert problems(res) == {(2, "name"), (2, "tags")}
    assert await rows_in_db() == 2
    res = await run_import(client, token, to_csv(rows), partial=True)
    assert problems(res) == {(2, "name"), (2, "tags")} and res["created"] == 2
    assert await rows_in_db() == 4


# --- malformed files -------------------------------------------------------------------


def assert_file_error(res: dict, path: str = "csv", *words: str) -> None:
    assert res["__typename"] == "InvalidInputError", res
    assert res["code"] == "invalid_input"
    assert [e["path"] for e in res["errors"]] == [[path]], res
    message = res["errors"][0]["message"]
    for w in words:
        assert w in message, message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("", ("header",)),
        ("\n\n", ("header",)),
        ("Li Wei,13800000000\nWang,13800000001\n", ("header", "unknown")),  # no header
        ("name,phone,age\nLi,13800000000,30\n", ("unknown: age",)),
        ("phone,email\n13800000000,a@example.com\n", ("include name",)),
        ("name,phone\n", ("no rows",)),
        ("name,phone\n\n\n", ("no rows",)),
    ],
    ids=["empty", "blank", "no-header", "unknown-column", "no-name", "no-rows", "blank-rows"],
)
async def test_file_level_problems_are_invalid_input(client, data, words):
    token = await admin_token(client)
    res = await run_import(client, token, data)
    assert_file_error(res, "csv", *words)
    res = await run_import(client, token, data, partial=True)
    assert_file_error(res, "csv", *words)
    assert await rows_in_db() == 0


async def test_a_row_with_more_values_than_the_header_is_a_row_error(client):
    token = await admin_token(client)
    data = "name,phone\nLi,13800000001\nWang,13800000002,extra\nZhao,13800000003\n"
    res = await run_import(client, token, data)
    assert res["__typename"] == "ImportCandidatesPayload", res
    assert problems(res) == {(2, "csv")}
    assert "more values" in res["errors"][0]["message"]
    assert (res["committed"], res["created"]) == (False, 0)
    assert await rows_in_db() == 0
    res = await run_import(client, token, data, partial=True)
    assert problems(res) == {(2, "csv")} and res["created"] == 2
    assert await rows_in_db() == 2


async def test_too_many_rows_is_a_file_error(client):
    from turnout.recruiting.csv_import import MAX_IMPORT_ROWS

    token = await admin_token(client)
    data = "name,phone\n" + "".join(f"P,{i:011d}\n" for i in range(MAX_IMPORT_ROWS + 1))
    res = await run_import(client, token, data, partial=True)
    assert_file_error(res, "csv", str(MAX_IMPORT_ROWS))
    assert await rows_in_db() == 0


async def test_a_large_file_with_phone_and_email_on_every_row(client):
    """More rows than one SQL statement may carry parameters for (32767 on PostgreSQL)."""
    token = await admin_token(client)
    await api.candidate(client, token, phone="13900017000", email="old@example.com")
    n = 17_000
    rows = [person(i, time_zone="") for i in range(1, n + 1)]
    res = await run_import(client, token, to_csv(rows))
    assert res["__typename"] == "ImportCandidatesPayload", res
    # the last row's phone belongs to the candidate created above: still found
    assert problems(res) == {(n, "phone")}
    assert not res["committed"] and await rows_in_db() == 1
    res = await run_import(client, token, to_csv(rows[:-1]))
    assert (res["committed"], res["created"], res["errors"]) == (True, n - 1, [])
    assert await rows_in_db() == n


# --- multipart uploads -----------------------------------------------------------------


async def test_upload_a_file(client):
    token = await admin_token(client)
    content = ("\ufeff" + to_csv([person(i) for i in range(1, 51)])).encode()
    r = await upload(client, token, content)
    body = r.json()
    assert r.status_code == 200 and not body.get("errors"), body
    res = body["data"]["importCandidates"]
    assert (res["rows"], res["created"], res["committed"], res["errors"]) == (50, 50, True, [])
    assert await total(client, token) == 50
    got = await fetch(client, token, res["candidateIds"][49])
    assert (got["name"], got["phone"], got["email"]) == (
        "Candidate 00050",
        "13900000050",
        "person50@example.com",
    )


async def test_upload_with_bad_rows_writes_nothing_unless_partial(client):
    token = await admin_token(client)
    await api.candidate(client, token, phone="13812345678", email="li@example.com")
    content = to_csv(BAD_FILE).encode()
    res = (await upload(client, token, content)).json()["data"]["importCandidates"]
    check_bad_report(res)
    assert (res["committed"], res["created"]) == (False, 0)
    assert await rows_in_db() == 1
    res = (await upload(client, token, content, partial=True)).json()["data"]["importCandidates"]
    check_bad_report(res)
    assert (res["committed"], res["created"]) == (True, 3)
    assert await rows_in_db() == 4


async def test_upload_of_a_malformed_file(client):
    token = await admin_token(client)
    res = (await upload(client, token, b"name,phone,age\nLi,1380000,3\n")).json()
    assert_file_error(res["data"]["importCandidates"], "csv", "unknown: age")
    res = (await upload(client, token, b"")).json()
    assert_file_error(res["data"]["importCandidates"], "csv", "header")
    assert await rows_in_db() == 0


async def test_upload_that_is_not_utf8(client):
    token = await admin_token(client)
    content = "name,phone\n李伟,13800000001\n".encode("gb18030")
    res = (await upload(client, token, content)).json()["data"]["importCandidates"]
    assert_file_error(res, "file", "UTF-8")
    assert await rows_in_db() == 0


async def test_upload_larger_than_the_limit(client):
    from turnout.recruiting.graphql.mutations import MAX_UPLOAD

    token = await admin_token(client)
    line = b"Somebody,13800000001,,,,,\n"
    content = b",".join(h.encode() for h in HEADER) + b"\n"
    content += line * (MAX_UPLOAD // len(line) + 1)
    assert len(content) > MAX_UPLOAD
    res = (await upload(client, token, content)).json()["data"]["importCandidates"]
    assert_file_error(res, "file", "20 MB")
    assert await rows_in_db() == 0


async def test_both_csv_and_file_or_neither_is_invalid_input(client):
    token = await admin_token(client)
    good = to_csv([person(1)])
    r = await upload(client, token, good.encode(), csv_too=good)
    assert_file_error(r.json()["data"]["importCandidates"], "csv", "exactly one")
    r = await gql(client, IMPORT, {}, token=token)
    assert_file_error(r.json()["data"]["importCandidates"], "csv", "exactly one")
    r = await gql(client, IMPORT, {"csv": None, "file": None}, token=token)
    assert_file_error(r.json()["data"]["importCandidates"], "csv", "exactly one")
    assert await rows_in_db() == 0


# --- permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["interviewer", "compliance", "auditor"])
async def test_without_candidates_write_the_import_is_forbidden(client, role):
    admin = await admin_token(client)
    await make_user("acme", "someone@acme.example", [role])
    token = await token_for(client, "someone@acme.example", "acme")
    data = to_csv([person(1), person(2)])
    for r in (
        await gql(client, IMPORT, {"csv": data}, token=token),
        await gql(client, IMPORT, {"csv": data, "p": True}, token=token),
        await upload(client, token, data.encode()),
    ):
        body = r.json()
        assert body["data"] is None, body
        assert "forbidden" in body["errors"][0]["message"]
        assert "candidates.write" in body["errors"][0]["message"]
    assert await rows_in_db() == 0
    assert await total(client, admin) == 0


async def test_recruiter_may_import(client):
    await admin_token(client)
    await make_user("acme", "rec@acme.example", ["recruiter"])
    token = await token_for(client, "rec@acme.example", "acme")
    res = await run_import(client, token, to_csv([person(1)]))
    assert (res["created"], res["committed"]) == (1, True)


async def test_anonymous_import_is_refused(client):
    await make_tenant("acme")
    r = await gql(client, IMPORT, {"csv": to_csv([person(1)])}, tenant="acme")
    body = r.json()
    assert body.get("errors") and not (body.get("data") or {}).get("importCandidates"), body
    assert await rows_in_db() == 0


async def test_an_import_lands_in_the_callers_tenant_only(client):
    acme = await admin_token(client, "acme")
    beta = await admin_token(client, "beta")
    res = await run_import(client, acme, to_csv([person(1), person(2)]))
    assert res["created"] == 2
    assert await rows_in_db("acme") == 2 and await rows_in_db("beta") == 0
    assert await total(client, beta) == 0
    # the same phones are not duplicates in the other tenant
    res = await run_import(client, beta, to_csv([person(1)]))
    assert (res["created"], res["errors"]) == (1, [])
