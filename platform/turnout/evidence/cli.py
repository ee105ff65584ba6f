"""`turnout evidence ...`: export, verify (a file offline, or the database), seal."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..cli import err, fail, out, run
from ..kit.errors import NotFound, invalid

evidence_app = typer.Typer(
    no_args_is_help=True,
    help="The evidence trail: export, verify offline or in the database, seal.",
)


def _candidate_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    from ..graphql.relay import from_global

    return from_global(text, "candidate", "Candidate")[1]


async def _tenant(slug: str):
    from ..db.session import public_session
    from ..tenancy.service import tenant_by_slug

    async with public_session() as s:
        return await tenant_by_slug(s, slug)


@evidence_app.command("export")
@run
async def export(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    candidate: Annotated[str, typer.Option(help="Candidate id (UUID or API id)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Archive to write (.zip)")],
) -> None:
    """Write a candidate's evidence archive (bundle.json + timeline.pdf); seals first."""
    from ..db.session import tenant_session
    from .bundle import export_archive
    from .service import record

    if output.is_dir():
        raise invalid("output", f"{output} is a folder; name the archive file")
    if not output.parent.exists():
        raise invalid("output", f"folder {output.parent} does not exist")
    pk = _candidate_id(candidate)
    t = await _tenant(tenant)
    archive = await export_archive(t, pk)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.write_bytes(archive.data)
    os.replace(tmp, output)  # never a half-written archive under the real name
    async with tenant_session(t.ref) as s:
        await record(
            s,
            "evidence.exported",
            {
                "filename": archive.filename,
                "sha256": archive.sha256,
                "via": "cli",
                "checkpoint_id": archive.checkpoint_id,
                "events": archive.events,
            },
            actor="system",
            candidate_id=pk,
        )
        await s.commit()
    out.print(
        f"wrote {escape(str(output))}: {archive.events} events, checkpoint "
        f"{archive.checkpoint_id}, sha256 {archive.sha256}"
        + ("" if archive.has_pdf else " (no timeline.pdf: the renderer is not installed)"),
        highlight=False,
    )


def _read_key(path: Path) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from .keys import raw_public

    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        fail(f"--public-key {path}: not a PEM public key ({exc})", 2)
    if not isinstance(key, Ed25519PublicKey):
        fail(f"--public-key {path}: not an Ed25519 key", 2)
    return raw_public(key)


def _fingerprint(text: str) -> str:
    fp = text.strip().lower().replace(":", "").replace(" ", "")
    if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        fail(f"--fingerprint {text}: not a SHA-256 fingerprint (64 hex digits)", 2)
    return fp


def _print_report(report, what: str, unverified: str | None = None) -> None:
    """Exit 0 valid, 1 tampered; 3 (`unverified` says why) consistent but checked only
    against a key the caller did not vouch for."""
    for note in report.notes:
        out.print(escape(note), highlight=False)
    if report.ok and unverified is not None:
        out.print(
            f"CONSISTENT, BUT THE KEY IS NOT VERIFIED: {escape(what)}; {escape(unverified)}",
            highlight=False,
        )
        raise typer.Exit(3)
    if report.ok:
        out.print(f"VALID: {escape(what)}", highlight=False)
        return
    out.print(f"TAMPERED: {len(report.problems)} problem(s) in {escape(what)}", highlight=False)
    for p in report.problems:
        out.print(f"  {escape(p.message)}", highlight=False)
    raise typer.Exit(1)


@evidence_app.command("verify")
def verify(
    file: Annotated[Path | None, typer.Argument(help="Archive (.zip) or bundle.json")] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="The tenant's key (PEM), fetched from /evidence/<tenant>/public-key"),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(help="Instead of --public-key: the key's SHA-256 fingerprint (hex)"),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Check this tenant's database instead")] = None,
    candidate: Annotated[str | None, typer.Option(help="With --tenant: one candidate")] = None,
) -> None:
    """Check an export offline, or with --tenant the chains in the database against every
    signed checkpoint. Pass the tenant's key (--public-key, or --fingerprint) fetched from
    /evidence/<tenant>/public-key, not taken from the bundle or the database.

    Exit codes: 0 valid; 1 tampered; 2 unreadable (or bad arguments); 3 consistent, but
    the key is not verified (a FILE checked without --public-key or --fingerprint)."""
    if public_key is not None and fingerprint is not None:
        fail("give --public-key or --fingerprint, not both", 2)
    pin = _fingerprint(fingerprint) if fingerprint is not None else None
    trusted = _read_key(public_key) if public_key else None
    if tenant is not None:
        if file is not None:
            fail("give either FILE (offline) or --tenant (the database), not both", 2)
        _verify_db(tenant, candidate, trusted, pin)
        return
    if file is None:
        fail("name the FILE to check, or --tenant SLUG to check the database", 2)
    if candidate is not None:
        fail("--candidate goes with --tenant", 2)
    from .verify import Unreadable, parse_bundle, verify_bundle

    try:
        bundle = parse_bundle(file.read_bytes())
        report = verify_bundle(bundle, trusted, pin)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    except Unreadable as exc:
        fail(f"{file}: {exc}", 2)
    what = (
        f"{report.events} events of candidate {bundle.get('candidate_id')} "
        f"(tenant {bundle['tenant'].get('slug')}), checkpoint {bundle['checkpoint']['id']} "
        f"sealed at {bundle['checkpoint']['sealed_at']}"
    )
    unverified = None
    if not report.key_verified:
        unverified = (
            f"it is signed with the key inside the bundle, fingerprint {report.fingerprint}; "
            f"fetch the tenant's key from {report.key_url} and pass --public-key "
            "(or compare the fingerprint and pass --fingerprint)"
        )
    _print_report(report, what, unverified)


@run
async def _verify_db(
    slug: str, candidate: str | None, trusted: bytes | None, pin: str | None
) -> None:
    from .dbcheck import verify_database

    try:
        t = await _tenant(slug)
    except NotFound as exc:
        fail(exc.message, 2)
    report = await verify_database(
        t, _candidate_id(candidate) if candidate else None, trusted_key=trusted, fingerprint=pin
    )
    _print_report(report, f"{report.events} events in tenant {slug}")


@evidence_app.command("seal")
@run
async def seal(tenant: Annotated[str, typer.Option(help="Tenant slug")]) -> None:
    """Sign the heads of all the tenant's chains into a checkpoint now."""
    from ..db.session import tenant_session
    from .service import seal as seal_heads

    t = await _tenant(tenant)
    async with tenant_session(t.ref) as s:
        cp = await seal_heads(s, t)
        await s.commit()
    out.print(
        f"checkpoint {cp.id}: {cp.chains} chains, {cp.events} events, root {cp.root}, "
        f"key {cp.key_id}",
        highlight=False,
    )


@evidence_app.command("public-key")
@run
async def public_key_cmd(tenant: Annotated[str, typer.Option(help="Tenant slug")]) -> None:
    """Print the tenant's checkpoint key (PEM) and its fingerprint."""
    from .keys import public_keys

    key = (await public_keys((await _tenant(tenant)).id))[0]
    err.print(f"key id {key.key_id}, SHA-256 fingerprint {key.fingerprint}", highlight=False)
    out.print(key.pem, end="", highlight=False)
