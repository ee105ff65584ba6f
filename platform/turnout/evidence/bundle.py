"""Export: one candidate's chain, the signed checkpoint covering its last event and the
inclusion proof, as bundle.json; with the readable timeline.pdf, one zip archive."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
import zipfile
from dataclasses import dataclass

from sqlalchemy import select

from ..config import get_settings
from ..db.session import tenant_session
from ..kit.clock import clock
from ..kit.errors import NotFound
from ..recruiting.models import Candidate
from ..tenancy.models import Tenant
from . import canonical as C
from .keys import public_key
from .models import EvidenceEvent, EvidenceHead
from .service import event_of_row, head_in, latest_checkpoint, seal

log = logging.getLogger(__name__)


def public_key_url(slug: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/evidence/{slug}/public-key"


async def build_bundle(tenant: Tenant, candidate_id: uuid.UUID) -> tuple[dict, Candidate]:
    """The bundle of a candidate's evidence; seals first when the latest checkpoint does not
    cover the chain's last event, so a bundle always ends at a signed head."""
    chain = C.candidate_chain(candidate_id)
    async with tenant_session(tenant.ref) as s:
        candidate = await s.get(Candidate, candidate_id)
        if candidate is None:
            raise NotFound("no candidate with this id", "candidateId")
        head = await s.get(EvidenceHead, chain)
        if head is None or head.seq == 0:
            raise NotFound("no evidence has been recorded for this candidate yet", "candidateId")
        cp = await latest_checkpoint(s)
        found = head_in(cp, chain) if cp else None
        if found is None or found[1]["seq"] < head.seq:
            cp = await seal(s, tenant)
            await s.commit()
            found = head_in(cp, chain)
        index, entry = found
        rows = (
            await s.execute(
                select(EvidenceEvent.__table__)
                .where(EvidenceEvent.chain == chain, EvidenceEvent.seq <= entry["seq"])
                .order_by(EvidenceEvent.seq)
            )
        ).all()
    levels = C.merkle_levels([C.leaf_hash(h["chain"], h["seq"], h["hash"]) for h in cp.heads])
    key = await public_key(tenant.id, cp.key_id)
    bundle = {
        "format": C.BUNDLE_FORMAT,
        "exported_at": C.rfc3339(clock.now()),
        # Only tenant.id is signed (in the checkpoint statement); the rest is for reading.
        "tenant": {
            "id": str(tenant.id),
            "slug": tenant.slug,
            "name": tenant.name,
            "time_zone": tenant.time_zone,
            "locale": tenant.locale,
            "key_id": key.key_id,
            "public_key_url": public_key_url(tenant.slug),
            "public_key": {**key.as_json(), "url": public_key_url(tenant.slug)},
        },
        "candidate_id": str(candidate_id),
        "chain": chain,
        "events": [event_of_row(r) for r in rows],
        "checkpoint": {
            "id": str(cp.id),
            "sealed_at": C.rfc3339(cp.sealed_at),
            "key_id": cp.key_id,
            "chains": cp.chains,
            "root": cp.root,
            "signature": cp.signature,
            "head": {"chain": chain, "seq": entry["seq"], "hash": entry["hash"]},
            "proof": {
                "index": index,
                "siblings": [h.hex() for h in C.merkle_proof(levels, index)],
            },
        },
    }
    return bundle, candidate


@dataclass
class Archive:
    filename: str
    data: bytes
    sha256: str
    events: int
    checkpoint_id: str
    has_pdf: bool


README = """Evidence export from Turnout.

bundle.json   the events, their hash chain and the signed checkpoint covering them
timeline.pdf  the same events, readable

Check it with `turnout evidence verify THIS.zip --public-key KEY.pem`, where KEY.pem is
fetched from {url} (not taken from the bundle), or with your own verifier written from
docs/evidence-format.md.
"""


def _pdf(bundle: dict, tenant: Tenant, candidate: Candidate) -> bytes | None:
    try:
        from .pdf import render_timeline_pdf
    except ImportError as exc:  # the renderer is built separately; ship the bundle anyway
        log.warning("evidence export without timeline.pdf: %s", exc)
        return None
    return render_timeline_pdf(bundle, tenant.locale, tenant.name, candidate.name)


async def export_archive(tenant: Tenant, candidate_id: uuid.UUID) -> Archive:
    bundle, candidate = await build_bundle(tenant, candidate_id)
    body = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
    pdf = _pdf(bundle, tenant, candidate)
    stamp = clock.now()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        date = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
        files = [
            ("bundle.json", body),
            ("README.txt", README.format(url=public_key_url(tenant.slug)).encode()),
        ]
        if pdf is not None:
            files.insert(1, ("timeline.pdf", pdf))
        for name, data in files:
            z.writestr(zipfile.ZipInfo(name, date), data, zipfile.ZIP_DEFLATED)
    data = buf.getvalue()
    return Archive(
        filename=f"evidence-{tenant.slug}-{candidate_id}-{stamp:%Y%m%dT%H%M%SZ}.zip",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        events=len(bundle["events"]),
        checkpoint_id=bundle["checkpoint"]["id"],
        has_pdf=pdf is not None,
    )
