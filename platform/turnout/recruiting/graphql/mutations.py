"""Recruiting mutations: each returns its payload or typed errors, and writes nothing partial."""

from __future__ import annotations

import uuid
from datetime import datetime, time

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from ...auth.permissions import Perm
from ...graphql.errors import ConflictError, as_error, result
from ...graphql.lookahead import selected_paths
from ...graphql.permissions import any_of, requires
from ...graphql.relay import from_global
from ...kit.errors import FieldProblem, InvalidInput, ServiceError, invalid
from .. import csv_import, scheduling, service
from .loaders import sub
from .scope import actor, scope
from .types import (
    ApplicationType,
    CandidateType,
    InterviewerType,
    InterviewType,
    JobType,
    SlotType,
    WeeklyAvailabilityType,
    gid,
)

MAX_UPLOAD = 20 * 1024 * 1024


@strawberry.input
class JobInput:
    title: str | None = None
    department: str | None = None
    location: str | None = None
    family: str | None = None
    priority: str | None = None
    required_qualifications: list[str] | None = None
    status: str | None = None


@strawberry.input
class ChannelConsentInput:
    channel: str
    granted: bool


@strawberry.input
class CandidateInput:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat_open_id: str | None = None
    push_token: str | None = None
    id_number: str | None = None
    notes: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    consent: list[ChannelConsentInput] | None = None
    tags: list[str] | None = None
    source: str | None = None


@strawberry.input
class ScheduleInterviewInput:
    application_id: strawberry.ID
    kind: str
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    slot_id: strawberry.ID | None = None


@strawberry.input
class AddInterviewerInput:
    name: str
    email: str = ""
    time_zone: str = "UTC"
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The tenant user (from `users`) who interviews."
    )


@strawberry.input
class WeeklyAvailabilityInput:
    weekday: int = strawberry.field(description="0 = Monday ... 6 = Sunday")
    start: str = strawberry.field(description="HH:MM, in the interviewer's time zone")
    end: str


@strawberry.input
class AvailabilityExceptionInput:
    starts_at: datetime
    ends_at: datetime
    available: bool = False
    reason: str = ""


@strawberry.input
class CreateSlotInput:
    interviewer_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    capacity: int = 1
    location: str = ""


@strawberry.type
class JobPayload:
    job: JobType


@strawberry.type
class CandidatePayload:
    candidate: CandidateType


@strawberry.type
class ApplicationPayload:
    application: ApplicationType


@strawberry.type
class InterviewPayload:
    interview: InterviewType


@strawberry.type
class InterviewsPayload:
    interviews: list[InterviewType]


@strawberry.type
class InterviewerPayload:
    interviewer: InterviewerType
    weekly: list[WeeklyAvailabilityType]


@strawberry.type
class SlotPayload:
    slot: SlotType


@strawberry.type
class RowError:
    row: int = strawberry.field(description="1-based data row; the header is row 0.")
    field: str
    message: str


@strawberry.type
class ImportCandidatesPayload:
    rows: int
    created: int
    committed: bool = strawberry.field(
        description="False when errors stopped an all-or-nothing import: nothing was written."
    )
    errors: list[RowError]
    candidate_ids: list[strawberry.ID]


JobResult = result("JobResult", JobPayload)
CandidateResult = result("CandidateResult", CandidatePayload)
ApplicationResult = result("ApplicationResult", ApplicationPayload)
InterviewResult = result("InterviewResult", InterviewPayload)
InterviewsResult = result("InterviewsResult", InterviewsPayload)
InterviewerResult = result("InterviewerResult", InterviewerPayload)
SlotResult = result("SlotResult", SlotPayload)
ImportResult = result("ImportCandidatesResult", ImportCandidatesPayload)


def _pk(value: str | None, field: str, type_name: str) -> uuid.UUID | None:
    return from_global(value, field, type_name)[1] if value else None


def _job_fields(i: JobInput) -> service.JobFields:
    return service.JobFields(**{k: getattr(i, k) for k in vars(service.JobFields())})


def _candidate_fields(i: CandidateInput) -> service.CandidateFields:
    f = service.CandidateFields(
        **{k: getattr(i, k) for k in vars(service.CandidateFields()) if k != "consent"}
    )
    if i.consent is not None:
        f.consent = {c.channel: c.granted for c in i.consent}
    return f


def _duplicate(exc: service.DuplicateCandidate) -> ConflictError:
    return ConflictError(
        code="duplicate",
        message=exc.message,
        path=[exc.field],
        conflicting_ids=[gid("Candidate", i) for i in exc.ids],
    )


def _hhmm(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise invalid(field, "must be a time as HH:MM") from None


WRITE_AVAILABILITY = any_of(Perm.AVAILABILITY_WRITE, Perm.AVAILABILITY_WRITE_OWN)


@strawberry.type
class RecruitingMutation:
    @strawberry.mutation(permission_classes=[requires(Perm.JOBS_WRITE)])
    async def create_job(self, info: Info, input: JobInput) -> JobResult:
        async with scope(info) as L:
            try:
                job = await service.create_job(L.session, _job_fields(input))
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            return JobPayload(job=(await L.jobs([job]))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.JOBS_WRITE)])
    async def update_job(self, info: Info, id: strawberry.ID, input: JobInput) -> JobResult:
        async with scope(info) as L:
            try:
                job = await service.update_job(L.session, _pk(id, "id", "Job"), _job_fields(input))
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            return JobPayload(job=(await L.jobs([job]))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.CANDIDATES_WRITE)])
    async def create_candidate(
        self, info: Info, input: CandidateInput, allow_duplicate: bool = False
    ) -> CandidateResult:
        async with scope(info) as L:
            try:
                c = await service.create_candidate(
                    L.session, L.cipher, _candidate_fields(input), allow_duplicate, actor(info)
                )
            except service.DuplicateCandidate as exc:
                return _duplicate(exc)
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "candidate")
            return CandidatePayload(candidate=(await L.candidates([c], paths))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.CANDIDATES_WRITE)])
    async def update_candidate(
        self, info: Info, id: strawberry.ID, input: CandidateInput, allow_duplicate: bool = False
    ) -> CandidateResult:
        async with scope(info) as L:
            try:
                c = await service.update_candidate(
                    L.session,
                    L.cipher,
                    _pk(id, "id", "Candidate"),
                    _candidate_fields(input),
                    allow_duplicate,
                    actor(info),
                )
            except service.DuplicateCandidate as exc:
                return _duplicate(exc)
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "candidate")
            return CandidatePayload(candidate=(await L.candidates([c], paths))[0])

    @strawberry.mutation(
        permission_classes=[requires(Perm.CANDIDATES_WRITE)],
        description="CSV with a header row; `partial` keeps the valid rows "
        "when some are bad, otherwise nothing is written.",
    )
    async def import_candidates(
        self, info: Info, csv: str | None = None, file: Upload | None = None, partial: bool = False
    ) -> ImportResult:
        try:
            data = await _csv_text(csv, file)
            async with scope(info) as L:
                report = await csv_import.import_candidates(
                    L.session, L.cipher, data, partial, actor(info)
                )
                committed = partial or not report.problems
                if committed:
                    await L.session.commit()
        except ServiceError as exc:
            return as_error(exc)
        return ImportCandidatesPayload(
            rows=report.rows,
            created=len(report.created) if committed else 0,
            committed=committed,
            errors=[RowError(row=p.row, field=p.field, message=p.message) for p in report.problems],
            candidate_ids=[gid("Candidate", i) for i in report.created] if committed else [],
        )

    @strawberry.mutation(permission_classes=[requires(Perm.CANDIDATES_WRITE)])
    async def apply(
        self, info: Info, candidate_id: strawberry.ID, job_id: strawberry.ID, match_score: int = 0
    ) -> ApplicationResult:
        async with scope(info) as L:
            try:
                app = await service.apply(
                    L.session,
                    _pk(candidate_id, "candidateId", "Candidate"),
                    _pk(job_id, "jobId", "Job"),
                    match_score,
                    actor(info),
                )
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "application")
            return ApplicationPayload(application=(await L.applications([app], paths))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.CANDIDATES_WRITE)])
    async def move_application(
        self, info: Info, id: strawberry.ID, stage: str
    ) -> ApplicationResult:
        async with scope(info) as L:
            try:
                app = await service.move_application(
                    L.session, _pk(id, "id", "Application"), stage, actor(info)
                )
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "application")
            return ApplicationPayload(application=(await L.applications([app], paths))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.AVAILABILITY_WRITE)])
    async def add_interviewer(self, info: Info, input: AddInterviewerInput) -> InterviewerResult:
        async with scope(info) as L:
            try:
                user = None
                if input.user_id:
                    user = service.parse_uuid(input.user_id, "userId")
                    await _member(info, user)
                i = await scheduling.add_interviewer(
                    L.session, input.name, input.email, input.time_zone, user
                )
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            return InterviewerPayload(interviewer=(await L.interviewers([i]))[0], weekly=[])

    @strawberry.mutation(permission_classes=[WRITE_AVAILABILITY])
    async def set_availability(
        self,
        info: Info,
        interviewer_id: strawberry.ID,
        weekly: list[WeeklyAvailabilityInput],
        exceptions: list[AvailabilityExceptionInput] | None = None,
    ) -> InterviewerResult:
        async with scope(info) as L:
            try:
                pk = _pk(interviewer_id, "interviewerId", "Interviewer")
                if not info.context.principal.can(Perm.AVAILABILITY_WRITE):
                    mine = await scheduling.interviewer_of_user(
                        L.session, info.context.principal.user_id
                    )
                    if mine is None or mine.id != pk:
                        raise invalid(
                            "interviewerId", "you may set only your own availability", "forbidden"
                        )
                windows = [
                    scheduling.WeeklyWindow(
                        w.weekday,
                        _hhmm(w.start, f"weekly.{n}.start"),
                        _hhmm(w.end, f"weekly.{n}.end"),
                    )
                    for n, w in enumerate(weekly)
                ]
                i = await scheduling.set_availability(
                    L.session,
                    pk,
                    windows,
                    [
                        scheduling.ExceptionWindow(e.starts_at, e.ends_at, e.available, e.reason)
                        for e in exceptions or []
                    ],
                )
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            return InterviewerPayload(
                interviewer=(await L.interviewers([i]))[0],
                weekly=[
                    WeeklyAvailabilityType(
                        weekday=w.weekday,
                        start=w.start.strftime("%H:%M"),
                        end=w.end.strftime("%H:%M"),
                    )
                    for w in windows
                ],
            )

    @strawberry.mutation(permission_classes=[requires(Perm.AVAILABILITY_WRITE)])
    async def create_slot(self, info: Info, input: CreateSlotInput) -> SlotResult:
        async with scope(info) as L:
            try:
                slot = await scheduling.create_slot(
                    L.session,
                    _pk(input.interviewer_id, "interviewerId", "Interviewer"),
                    input.starts_at,
                    input.ends_at,
                    input.capacity,
                    input.location,
                )
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "slot")
            return SlotPayload(slot=(await L.slots([slot], paths))[0])

    @strawberry.mutation(permission_classes=[requires(Perm.INTERVIEWS_WRITE)])
    async def schedule_interview(
        self, info: Info, input: ScheduleInterviewInput
    ) -> InterviewResult:
        async with scope(info) as L:
            try:
                i = await scheduling.schedule(L.session, L.cipher, _request(input), actor(info))
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "interview")
            return InterviewPayload(interview=(await L.interviews([i], paths))[0])

    @strawberry.mutation(
        permission_classes=[requires(Perm.INTERVIEWS_WRITE)],
        description="All or nothing: any bad input or full slot stops the lot.",
    )
    async def schedule_interviews(
        self, info: Info, inputs: list[ScheduleInterviewInput]
    ) -> InterviewsResult:
        async with scope(info) as L:
            try:
                reqs = [_request(r, f"inputs.{n}.") for n, r in enumerate(inputs)]
                done = await scheduling.schedule_many(L.session, L.cipher, reqs, actor(info))
            except ServiceError as exc:
                return as_error(exc)
            await L.session.commit()
            paths = sub(selected_paths(info), "interviews")
            return InterviewsPayload(interviews=await L.interviews(done, paths))

    @strawberry.mutation(permission_classes=[requires(Perm.INTERVIEWS_WRITE)])
    async def cancel_interview(
        self, info: Info, id: strawberry.ID, reason: str = ""
    ) -> InterviewResult:
        return await _transition(info, id, "cancelled", reason)

    @strawberry.mutation(
        permission_classes=[requires(Perm.INTERVIEWS_WRITE)],
        description="Move an interview along its state machine.",
    )
    async def transition_interview(
        self, info: Info, id: strawberry.ID, state: str
    ) -> InterviewResult:
        return await _transition(info, id, state, "")


async def _transition(info: Info, id: str, state: str, reason: str) -> object:
    async with scope(info) as L:
        try:
            i = await scheduling.get_interview(L.session, _pk(id, "id", "Interview"))
            i = await scheduling.transition(L.session, i, state, actor(info), reason)
        except ServiceError as exc:
            return as_error(exc)
        await L.session.commit()
        paths = sub(selected_paths(info), "interview")
        return InterviewPayload(interview=(await L.interviews([i], paths))[0])


def _request(i: ScheduleInterviewInput, prefix: str = "") -> scheduling.InterviewRequest:
    return scheduling.InterviewRequest(
        application_id=_pk(i.application_id, f"{prefix}applicationId", "Application"),
        kind=i.kind,
        opens_at=i.opens_at,
        closes_at=i.closes_at,
        slot_id=_pk(i.slot_id, f"{prefix}slotId", "Slot"),
    )


async def _csv_text(csv: str | None, file: Upload | None) -> str:
    if (csv is None) == (file is None):
        raise InvalidInput(problems=[FieldProblem("csv", "send exactly one of csv or file")])
    if csv is not None:
        return csv
    raw = await file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise invalid("file", "the file is larger than 20 MB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("file", "the file is not UTF-8 text") from None


async def _member(info: Info, user_id: uuid.UUID) -> None:
    from ...auth.models import Membership

    tenant = info.context.require_tenant()
    async with info.context.public_db() as s:
        if await s.get(Membership, (user_id, tenant.id)) is None:
            raise invalid("userId", "no such user in this tenant", "not_found")
