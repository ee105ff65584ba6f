"""Done when: a candidate's clicks and the vendor's reports are on their evidence timeline,
through the real interfaces (message link, portal page, signed webhook, GraphQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.helpers import gql
from tests.portal.conftest import event, post_event, set_vendor
from turnout.db.session import tenant_session
from turnout.delivery import links
from turnout.delivery.models import Notification
from turnout.kit.clock import clock

TIMELINE = """query($id: ID!) { candidate(id: $id) { timeline(first: 100) {
  edges { node { kind actor interviewId data } } } } }"""


async def test_portal_actions_and_vendor_events_are_on_the_timeline(client, world):
    await set_vendor(client, world["admin"])
    async with tenant_session(world["tenant"].ref) as s:
        n = (await s.execute(select(Notification).limit(1))).scalar_one()
    opened = await client.get(f"/r/{links.token('acme', n.id)}", follow_redirects=True)
    assert opened.status_code == 200 and "ICU Nurse" in opened.text
    assert (await client.post(world["link"] + "/confirm")).status_code == 303
    await client.post(world["link"] + "/reschedule", data={"note": "mornings"})
    await client.post(world["link"] + "/problem", data={"description": "no camera"})
    clock.freeze(world["opens"] + timedelta(hours=1))
    assert (await client.post(world["link"] + "/start")).status_code == 303
    clock.unfreeze()
    for kind, eid in (("started", "v1"), ("completed", "v2")):
        r = await post_event(client, "acme", event(world["interview"], kind, eid))
        assert r.status_code == 200, r.text
    r = await gql(client, TIMELINE, {"id": world["candidate"]}, token=world["admin"])
    body = r.json()
    assert not body.get("errors"), body
    events = [e["node"] for e in body["data"]["candidate"]["timeline"]["edges"]]
    ours = [
        (e["kind"], e["actor"]) for e in events if e["kind"].split(".")[0] in ("portal", "vendor")
    ]
    assert ours == [
        ("portal.visited", "candidate"),
        ("portal.confirmed", "candidate"),
        ("portal.reschedule_requested", "candidate"),
        ("portal.problem_reported", "candidate"),
        ("portal.started", "candidate"),
        ("vendor.started", "vendor"),
        ("vendor.completed", "vendor"),
    ]
    assert all(
        e["interviewId"] == world["interview"] for e in events if e["kind"].startswith("portal.")
    )
    problem = next(e for e in events if e["kind"] == "portal.problem_reported")
    assert (
        problem["data"]["description"] == "no camera" and problem["data"]["address"] == "10.1.2.3"
    )
