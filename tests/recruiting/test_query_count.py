"""The candidates page costs the same number of SQL statements for 10 rows as for 100."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from tests.helpers import gql, make_tenant, token_for
from turnout.crypto.fields import cipher_for
from turnout.db.engine import db
from turnout.db.session import tenant_session
from turnout.kit.clock import clock
from turnout.recruiting import scheduling, service

PAGE = """query($n: Int!) { candidates(first: $n) { totalCount edges { node { id name phone email
  applications { stage matchScore job { title } history { toStage } }
  interviews { state kind opensAt interviewer { name } job { title } } } } } }"""


async def _seed(tenant, n: int) -> None:
    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        jobs = [
            await service.create_job(s, service.JobFields(title=f"Job {j}", status="open"))
            for j in range(3)
        ]
        interviewer = await scheduling.add_interviewer(s, "Dr. Li", "li@x.example", "UTC", None)
        for i in range(n):
            c = await service.create_candidate(
                s,
                cipher,
                service.CandidateFields(
                    name=f"Candidate {i:03d}", phone=f"1390000{i:04d}", email=f"c{i}@x.example"
                ),
            )
            for job in jobs[: 1 + i % 2]:
                app = await service.apply(s, c.id, job.id, 50, "test")
                iv = await scheduling.schedule(
                    s,
                    cipher,
                    scheduling.InterviewRequest(
                        app.id,
                        "ai_async",
                        clock.now() + timedelta(days=1),
                        clock.now() + timedelta(days=3),
                    ),
                    "test",
                )
                iv.interviewer_id = interviewer.id
        await s.commit()


def _count_statements():
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    return seen, count


async def test_candidates_page_has_a_fixed_number_of_queries(client):
    tenant = await make_tenant("acme")
    await _seed(tenant, 100)
    token = await token_for(client, "admin@acme.example", "acme")
    await gql(client, PAGE, {"n": 5}, token=token)  # warm the key cache and schema
    counts = {}
    for n in (10, 100):
        seen, count = _count_statements()
        engine = db.engine().sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            r = await gql(client, PAGE, {"n": n}, token=token)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        body = r.json()
        assert not body.get("errors"), body
        edges = body["data"]["candidates"]["edges"]
        assert len(edges) == n
        assert all(e["node"]["applications"] and e["node"]["interviews"] for e in edges)
        assert edges[0]["node"]["interviews"][0]["interviewer"] == {"name": "Dr. Li"}
        counts[n] = len(seen)
    print("statements per page:", counts)
    assert counts[10] == counts[100], counts
    # principal + page + count + applications + jobs + history + interviews + interviewers
    assert 5 <= counts[100] <= 9, counts
