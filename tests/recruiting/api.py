"""GraphQL snippets and helpers for the recruiting tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import gql

CREATE_JOB = """mutation($i: JobInput!) { createJob(input: $i) { __typename
  ... on JobPayload { job { id title status priority family } }
  ... on InvalidInputError { errors { path code message } } } }"""
CREATE_CANDIDATE = """mutation($i: CandidateInput!, $d: Boolean! = false) {
  createCandidate(input: $i, allowDuplicate: $d) { __typename
  ... on CandidatePayload { candidate { id name phone email tags timeZone } }
  ... on InvalidInputError { errors { path code message } }
  ... on ConflictError { code message path conflictingIds } } }"""
APPLY = """mutation($c: ID!, $j: ID!, $s: Int! = 50) { apply(candidateId: $c, jobId: $j,
  matchScore: $s) { __typename ... on ApplicationPayload { application { id stage matchScore } }
  ... on InvalidInputError { errors { path code message } }
  ... on NotFoundError { message path } ... on ConflictError { message } } }"""
SCHEDULE = """mutation($i: ScheduleInterviewInput!) { scheduleInterview(input: $i) { __typename
  ... on InterviewPayload { interview { id kind state attempt opensAt closesAt
        interviewer { name } } }
  ... on InvalidInputError { errors { path code message } }
  ... on NotFoundError { message path } ... on ConflictError { message path } } }"""
TRANSITION = """mutation($id: ID!, $s: String!) { transitionInterview(id: $id, state: $s) {
  __typename ... on InterviewPayload { interview { state } }
  ... on InvalidInputError { errors { path code message } }
  ... on ConflictError { message } } }"""
ADD_INTERVIEWER = """mutation($i: AddInterviewerInput!) { addInterviewer(input: $i) {
  __typename ... on InterviewerPayload { interviewer { id name } }
  ... on InvalidInputError { errors { path message } } ... on ConflictError { message } } }"""
SET_AVAILABILITY = """mutation($id: ID!, $w: [WeeklyAvailabilityInput!]!,
  $e: [AvailabilityExceptionInput!]) { setAvailability(interviewerId: $id, weekly: $w,
  exceptions: $e) { __typename ... on InterviewerPayload { weekly { weekday start end } }
  ... on InvalidInputError { errors { path code message } } ... on NotFoundError { message } } }"""
CREATE_SLOT = """mutation($i: CreateSlotInput!) { createSlot(input: $i) { __typename
  ... on SlotPayload { slot { id capacity booked startsAt } }
  ... on InvalidInputError { errors { path code message } } } }"""


def future(days: float = 1, hour: int | None = None) -> datetime:
    t = datetime.now(UTC) + timedelta(days=days)
    if hour is not None:
        t = t.replace(hour=hour, minute=0, second=0, microsecond=0)
    return t


async def ok(client, query: str, variables: dict, token: str, field: str) -> dict:
    r = await gql(client, query, variables, token=token)
    body = r.json()
    assert r.status_code == 200 and not body.get("errors"), body
    res = body["data"][field]
    assert not res["__typename"].endswith("Error"), res
    return res


async def job(client, token: str, title: str = "ICU Nurse", **extra) -> str:
    res = await ok(
        client, CREATE_JOB, {"i": {"title": title, "status": "open", **extra}}, token, "createJob"
    )
    return res["job"]["id"]


async def candidate(
    client,
    token: str,
    name: str = "Li Wei",
    phone: str = "13812345678",
    email: str | None = "liwei@example.com",
    **extra,
) -> str:
    inp = {"name": name, "phone": phone, **extra}
    if email:
        inp["email"] = email
    res = await ok(client, CREATE_CANDIDATE, {"i": inp}, token, "createCandidate")
    return res["candidate"]["id"]


async def application(client, token: str, cand: str, job_id: str) -> str:
    res = await ok(client, APPLY, {"c": cand, "j": job_id}, token, "apply")
    return res["application"]["id"]


async def ai_interview(client, token: str, app: str, days: float = 1) -> dict:
    res = await ok(
        client,
        SCHEDULE,
        {
            "i": {
                "applicationId": app,
                "kind": "ai_async",
                "opensAt": future(days).isoformat(),
                "closesAt": future(days + 3).isoformat(),
            }
        },
        token,
        "scheduleInterview",
    )
    return res["interview"]


async def interviewer_with_slot(
    client, token: str, capacity: int = 1, user_id: str | None = None
) -> tuple[str, str]:
    inp = {"name": "Dr. Zhang", "timeZone": "UTC"}
    if user_id:
        inp["userId"] = user_id
    iid = (await ok(client, ADD_INTERVIEWER, {"i": inp}, token, "addInterviewer"))["interviewer"][
        "id"
    ]
    await ok(
        client,
        SET_AVAILABILITY,
        {"id": iid, "w": [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]},
        token,
        "setAvailability",
    )
    start = future(2, hour=10)
    slot = await ok(
        client,
        CREATE_SLOT,
        {
            "i": {
                "interviewerId": iid,
                "startsAt": start.isoformat(),
                "endsAt": (start + timedelta(minutes=45)).isoformat(),
                "capacity": capacity,
            }
        },
        token,
        "createSlot",
    )
    return iid, slot["slot"]["id"]
