"""CSV import of candidates: every row validated and reported; valid rows kept only when the
caller asks for a partial import, otherwise all or nothing."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.errors import InvalidInput, invalid
from .models import Candidate
from .service import CandidateFields, apply_fields, changed_fields, check_candidate

MAX_IMPORT_ROWS = 50_000

IMPORT_COLUMNS = (
    "name",
    "phone",
    "email",
    "wechat_open_id",
    "push_token",
    "id_number",
    "time_zone",
    "locale",
    "tags",
    "source",
    "consent",
    "notes",
)


@dataclass
class RowProblem:
    row: int  # 1-based data row (the header is row 0)
    field: str
    message: str


@dataclass
class ImportReport:
    created: list[uuid.UUID] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows: int = 0


IMPORT_FIELD = {"timeZone": "time_zone"}  # check_candidate's field -> CSV column


def _row_fields(row: dict[str, str]) -> CandidateFields:
    consent = None
    if row.get("consent"):
        consent = {c.strip(): True for c in row["consent"].split(";") if c.strip()}
    return CandidateFields(
        name=row.get("name") or None,
        phone=row.get("phone") or None,
        email=row.get("email") or None,
        wechat_open_id=row.get("wechat_open_id") or None,
        push_token=row.get("push_token") or None,
        id_number=row.get("id_number") or None,
        notes=row.get("notes") or None,
        time_zone=row.get("time_zone") or None,
        locale=row.get("locale") or None,
        consent=consent,
        tags=[t for t in (row.get("tags") or "").split(";") if t.strip()] or None,
        source=row.get("source") or "import",
    )


async def import_candidates(
    session: AsyncSession, cipher: TenantCipher, data: str, partial: bool, actor: str = "system"
) -> ImportReport:
    """Validate every row; keep the valid ones only if `partial`, else all or nothing."""
    report = ImportReport()
    try:
        reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise invalid("csv", f"not CSV: {exc}") from None
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if not header or "name" not in header or unknown:
        raise invalid(
            "csv",
            f"the header must name columns among {', '.join(IMPORT_COLUMNS)} "
            f"and include name" + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
        )
    valid: list[tuple[int, CandidateFields]] = []
    seen_phone: dict[str, int] = {}
    seen_email: dict[str, int] = {}
    try:
        for i, row in enumerate(reader, start=1):
            report.rows = i
            if i > MAX_IMPORT_ROWS:
                raise invalid("csv", f"at most {MAX_IMPORT_ROWS} rows per import")
            if None in row:
                report.problems.append(RowProblem(i, "csv", "more values than header columns"))
                continue
            try:
                f = check_candidate(_row_fields(row), creating=True)
                bad = []
            except InvalidInput as exc:
                bad = exc.problems
            if bad:  # named by CSV column, not by GraphQL input field
                report.problems += [
                    RowProblem(i, IMPORT_FIELD.get(p.field, p.field), p.message) for p in bad
                ]
                continue
            clashes = [
                RowProblem(i, name, f"duplicate of row {seen[value]} in this file")
                for name, value, seen in (
                    ("phone", f.phone, seen_phone),
                    ("email", f.email, seen_email),
                )
                if value and value in seen
            ]
            if clashes:
                report.problems += clashes
                continue
            if f.phone:
                seen_phone[f.phone] = i
            if f.email:
                seen_email[f.email] = i
            valid.append((i, f))
    except csv.Error as exc:
        raise invalid("csv", f"not CSV at row {report.rows + 1}: {exc}") from None
    if report.rows == 0:
        raise invalid("csv", "no rows after the header")
    await _existing_duplicates(session, cipher, valid, report)
    if report.problems and not partial:
        return report
    bad_rows = {p.row for p in report.problems}
    values = []
    for i, f in valid:
        if i in bad_rows:
            continue
        c = Candidate(id=uuid.uuid4(), time_zone="UTC", locale="en", consent={}, tags=[])
        apply_fields(c, f, cipher)
        values.append(
            {
                col.key: getattr(c, col.key)
                for col in Candidate.__table__.columns
                if col.key not in ("created_at", "updated_at")
            }
        )
        report.created.append(c.id)
    for chunk in range(0, len(values), 1000):
        await session.execute(insert(Candidate), values[chunk : chunk + 1000])
    created = [
        evidence.NewEvent(
            "candidate.created",
            {"fields": changed_fields(f), "source": "csv import", "row": i},
            evidence.as_actor(actor),
            c_id,
        )
        for (i, f), c_id in zip(
            [(i, f) for i, f in valid if i not in bad_rows], report.created, strict=True
        )
    ]
    for chunk in range(0, len(created), evidence.MAX_BATCH):
        await evidence.record_many(session, created[chunk : chunk + evidence.MAX_BATCH])
    return report


async def _existing_duplicates(
    session: AsyncSession,
    cipher: TenantCipher,
    valid: list[tuple[int, CandidateFields]],
    report: ImportReport,
) -> None:
    phones = {cipher.blind_index("phone", f.phone): i for i, f in valid if f.phone}
    emails = {cipher.blind_index("email", f.email): i for i, f in valid if f.email}
    # in chunks: one statement carries at most 32767 parameters
    for name, column, index in (
        ("phone", Candidate.phone_hash, phones),
        ("email", Candidate.email_hash, emails),
    ):
        hashes = list(index)
        for start in range(0, len(hashes), 10_000):
            rows = await session.execute(
                select(Candidate.id, column)
                .where(column.in_(hashes[start : start + 10_000]))
                .order_by(Candidate.id)
            )
            for cid, h in rows:
                report.problems.append(
                    RowProblem(index[h], name, f"a candidate with this {name} exists: {cid}")
                )
