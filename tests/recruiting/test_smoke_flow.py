from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api


async def test_recruiter_flow_end_to_end(client):
    await make_tenant("acme", ["hospital"])
    admin = await token_for(client, "admin@acme.example", "acme")
    job = await api.job(client, admin, priority="critical", family="icu")
    cand = await api.candidate(client, admin)
    app = await api.application(client, admin, cand, job)
    iv = await api.ai_interview(client, admin, app)
    assert iv["state"] == "scheduled" and iv["attempt"] == 1
    r = await gql(
        client,
        """{ candidates(first: 10) { totalCount edges { node { name phone email
      applications { stage job { title priority } history { fromStage toStage } }
      interviews { state kind candidateLink } } } } }""",
        token=admin,
    )
    node = r.json()["data"]["candidates"]["edges"][0]["node"]
    assert node["phone"] == "13812345678" and node["email"] == "liwei@example.com"
    assert node["applications"][0]["stage"] == "interview_scheduled"
    assert node["applications"][0]["job"] == {"title": "ICU Nurse", "priority": "critical"}
    assert node["interviews"][0]["candidateLink"].startswith("/i/")
