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


def _print_report(report, what: str) -> None:
    for note in report.notes:
        out.print(escape(note), highlight=False)
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
    tenant: Annotated[str | None, typer.Option(help="Check this tenant's database instead")] = None,
    candidate: Annotated[str | None, typer.Option(help="With --tenant: one candidate")] = None,
) -> None:
    """Check an export offline (exit 0 valid, 1 tampered, 2 unreadable), or with --tenant the
    chains in the database against the latest signed checkpoint."""
    if tenant is not None:
        if file is not None or public_key is not None:
            fail("give either FILE (offline) or --tenant (the database), not both", 2)
        _verify_db(tenant, candidate)
        return
    if file is None:
        fail("name the FILE to check, or --tenant SLUG to check the database", 2)
    if candidate is not None:
        fail("--candidate goes with --tenant", 2)
    from .verify import Unreadable, parse_bundle, verify_bundle

    trusted = _read_key(public_key) if public_key else None
    try:
        bundle = parse_bundle(file.read_bytes())
        report = verify_bundle(bundle, trusted)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    except Unreadable as exc:
        fail(f"{file}: {exc}", 2)
    if trusted is None:
        err.print(
            "warning: the key was taken from the bundle itself; a distrustful check passes "
            "--public-key with the key fetched from the tenant's URL",
            highlight=False,
        )
    what = (
        f"{report.events} events of candidate {bundle.get('candidate_id')} "
        f"(tenant {bundle['tenant'].get('slug')}), checkpoint {bundle['checkpoint']['id']} "
        f"sealed at {bundle['checkpoint']['sealed_at']}"
    )
    _print_report(report, what)


@run
async def _verify_db(slug: str, candidate: str | None) -> None:
    from .dbcheck import verify_database

    try:
        t = await _tenant(slug)
    except NotFound as exc:
        fail(exc.message, 2)
    report = await verify_database(t, _candidate_id(candidate) if candidate else None)
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
