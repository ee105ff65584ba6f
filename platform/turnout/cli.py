"""The `turnout` command. Each command validates, reports a clear error and exits non-zero
on bad input, and writes nothing partial."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from .config import Settings, get_settings
from .crypto.keys import MasterKeyError, keyring
from .db.engine import db
from .kit.errors import InvalidInput, ServiceError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Turnout platform commands.",
)
tenants_app = typer.Typer(no_args_is_help=True, help="Create, list and suspend tenants.")
users_app = typer.Typer(no_args_is_help=True, help="Users of a tenant, and vendor operators.")
clients_app = typer.Typer(no_args_is_help=True, help="Integrators' OAuth2 clients.")
schema_app = typer.Typer(no_args_is_help=True, help="The GraphQL schema.")
keys_app = typer.Typer(no_args_is_help=True, help="Tenant data keys.")
app.add_typer(keys_app, name="keys")
scheduler_app = typer.Typer(
    help="Claims due notifications and hands them to the workers.", invoke_without_command=True
)
app.add_typer(scheduler_app, name="scheduler")
permissions_app = typer.Typer(no_args_is_help=True, help="Roles, scopes and fields.")
app.add_typer(permissions_app, name="permissions")


@permissions_app.command("doc")
def permissions_doc() -> None:
    """Print the permission matrix (docs/permissions.md) generated from the fields."""
    from .graphql.schema import permission_doc

    sys.stdout.write(permission_doc())


app.add_typer(tenants_app, name="tenants")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(schema_app, name="schema")

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def run(fn: Callable[..., Awaitable[object]]) -> Callable[..., object]:
    """Run an async command with the database and keys configured; ServiceError -> exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        settings = get_settings()
        try:
            keyring.configure(settings)
        except MasterKeyError as exc:
            fail(str(exc))
        if not db.configured:
            db.configure(settings)

        async def main():
            try:
                return await fn(*args, **kwargs)
            finally:
                await db.dispose()

        try:
            return asyncio.run(main())
        except InvalidInput as exc:
            for p in exc.problems:
                err.print(f"[red]error:[/red] {p.field}: {escape(p.message)}", highlight=False)
            raise typer.Exit(1) from None
        except ServiceError as exc:
            fail(exc.message)

    return wrapper


# --- tenants -------------------------------------------------------------------------


@tenants_app.command("create")
@run
async def tenants_create(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name")],
    admin_email: Annotated[str, typer.Option(help="First tenant admin's email")],
    admin_password: Annotated[str, typer.Option(help="First tenant admin's password")],
    pack: Annotated[list[str] | None, typer.Option(help="Industry pack (repeatable)")] = None,
    time_zone: str = "UTC",
    locale: str = "en",
    placement: str = "default",
) -> None:
    from .tenancy import service

    tenant = await service.create_tenant(
        service.NewTenant(
            slug=slug,
            name=name,
            admin_email=admin_email,
            admin_password=admin_password,
            packs=pack or [],
            time_zone=time_zone,
            locale=locale,
            placement=placement,
        )
    )
    out.print(
        f"created tenant {tenant.slug} (schema tenant_{tenant.slug}, packs: "
        f"{', '.join(tenant.packs) or 'none'})",
        highlight=False,
    )


@tenants_app.command("list")
@run
async def tenants_list() -> None:
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        rows = await service.list_tenants(session)
    table = Table("slug", "name", "status", "packs", "time zone", "placement")
    for t in rows:
        table.add_row(t.slug, t.name, t.status, ",".join(t.packs), t.time_zone, t.placement)
    out.print(table)


async def _set_status(slug: str, status: str) -> None:
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        await service.set_status(session, slug, status)
        await session.commit()
    out.print(f"tenant {slug} is {status}")


@tenants_app.command("suspend")
@run
async def tenants_suspend(slug: str) -> None:
    await _set_status(slug, "suspended")


@tenants_app.command("activate")
@run
async def tenants_activate(slug: str) -> None:
    await _set_status(slug, "active")


@tenants_app.command("set-packs")
@run
async def tenants_set_packs(
    slug: str, pack: Annotated[list[str] | None, typer.Option(help="Pack (repeatable)")] = None
) -> None:
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        tenant = await service.set_packs(session, slug, pack or [])
        await session.commit()
    out.print(f"tenant {slug} packs: {', '.join(tenant.packs) or 'none'}")


# --- users ---------------------------------------------------------------------------


@users_app.command("create")
@run
async def users_create(
    email: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    password: Annotated[str, typer.Option()],
    role: Annotated[list[str], typer.Option(help="Role (repeatable)")],
    name: str = "",
) -> None:
    from .auth import service as auth
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        t = await service.tenant_by_slug(session, tenant)
        user, m = await auth.add_member(session, t, email, role, password, name)
        await session.commit()
    out.print(f"{user.email} is {', '.join(m.roles)} in {tenant}", highlight=False)


@users_app.command("create-operator")
@run
async def users_create_operator(email: str, password: Annotated[str, typer.Option()]) -> None:
    from .auth import service as auth
    from .db.session import public_session

    async with public_session() as session:
        user = await auth.create_operator(session, email, password)
        await session.commit()
    out.print(f"{user.email} is a vendor operator", highlight=False)


# --- clients -------------------------------------------------------------------------


@clients_app.command("create")
@run
async def clients_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug")],
    scope: Annotated[list[str], typer.Option(help="Scope (repeatable)")],
    name: str = "integration",
) -> None:
    from .auth import clients
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        t = await service.tenant_by_slug(session, tenant)
        client, secret = await clients.create_client(session, t, name, scope)
        await session.commit()
    out.print(
        f"client_id:     {client.client_id}\nclient_secret: {secret}\n"
        f"scopes:        {' '.join(client.scopes)}\n(the secret is shown only once)",
        highlight=False,
    )


# --- scheduler -----------------------------------------------------------------------


@scheduler_app.callback()
def scheduler_loop(
    ctx: typer.Context,
    interval: float = typer.Option(1.0, min=0.05, max=60.0),
    lease: float = typer.Option(
        120.0, min=1.0, max=3600.0, help="Seconds before a claim whose worker died is retaken"
    ),
) -> None:
    """Without a subcommand: run passes every `interval` seconds until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    _scheduler_forever(interval, lease)


@run
async def _scheduler_forever(interval: float, lease: float) -> None:
    from datetime import timedelta

    from .broker import broker_from_url, use_broker
    from .delivery.tasks import tick

    url = get_settings().broker_url
    use_broker(broker_from_url(url))
    while True:
        try:
            n = await tick(inline=url is None, lease=timedelta(seconds=lease))
        except Exception as exc:  # e.g. the database restarting: try again next pass
            err.print(f"[red]scheduler pass failed:[/red] {escape(str(exc))}")
            n = 0
        if n:
            err.print(f"queued {n} notifications")
        await asyncio.sleep(interval)


@scheduler_app.command("tick")
@run
async def scheduler_tick(
    at: Annotated[str | None, typer.Option(help="ISO time to act as now")] = None,
) -> None:
    """One pass: claim every due notification and enqueue it."""
    from datetime import datetime

    from .broker import broker_from_url, use_broker
    from .delivery.tasks import tick

    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not an ISO time, e.g. 2026-12-01T09:00:00+08:00")
        if when.tzinfo is None:
            fail("--at needs a time zone offset, e.g. 2026-12-01T09:00:00+08:00")
    url = get_settings().broker_url
    use_broker(broker_from_url(url))
    n = await tick(when, inline=url is None)
    out.print(f"{'queued' if url else 'sent'} {n} notifications")


# --- keys ----------------------------------------------------------------------------


@keys_app.command("rotate")
@run
async def keys_rotate(
    tenant: Annotated[str | None, typer.Option(help="Tenant slug")] = None,
    all_tenants: Annotated[bool, typer.Option("--all", help="Every tenant")] = False,
    batch: int = typer.Option(500, min=1, max=10_000),
) -> None:
    """New data key, keys re-wrapped under the current master key, rows re-encrypted in
    batches while the app keeps serving."""
    from .crypto.rotation import rotate_all
    from .db.session import public_session
    from .tenancy import service

    if (tenant is None) == (not all_tenants):
        fail("name one tenant with --tenant SLUG, or --all")
    async with public_session() as session:
        targets = (
            [await service.tenant_by_slug(session, tenant)]
            if tenant
            else await service.list_tenants(session)
        )
    with Progress(console=err) as progress:
        tasks = {t.slug: progress.add_task(f"re-encrypting {t.slug}", total=None) for t in targets}
        reports = await rotate_all(
            [t.ref for t in targets],
            batch,
            on_start=lambda slug, n: progress.update(tasks[slug], total=n),
            on_batch=lambda slug, n: progress.advance(tasks[slug], n),
        )
    for report in reports:
        out.print(
            f"{report.tenant}: data key v{report.new_version} active, "
            f"{report.reencrypted} rows re-encrypted, {report.rewrapped} keys re-wrapped",
            highlight=False,
        )


# --- schema, migrate, serve ----------------------------------------------------------


@schema_app.command("print")
def schema_print(tenant: Annotated[str | None, typer.Option(help="Tenant slug")] = None) -> None:
    from .graphql.schema import sdl

    packs: frozenset[str] = frozenset()
    if tenant:
        packs = _tenant_packs(tenant)
    sys.stdout.write(sdl(packs))


@run
async def _tenant_packs(slug: str) -> frozenset[str]:
    from .db.session import public_session
    from .tenancy import service

    async with public_session() as session:
        return frozenset((await service.tenant_by_slug(session, slug)).packs)


@app.command()
@run
async def migrate(concurrency: int = typer.Option(4, min=1, max=64)) -> None:
    """Upgrade the public schema and every tenant schema."""
    if await _migrate(concurrency):
        raise typer.Exit(1)


async def _migrate(concurrency: int) -> int:
    from .tenancy import service

    with Progress(console=err, transient=False) as progress:
        task = progress.add_task("migrating tenants", total=None)

        def done(outcome: service.MigrationOutcome) -> None:
            progress.advance(task)
            if outcome.error:
                progress.console.print(
                    f"[red]failed:[/red] {outcome.slug}: {outcome.error}", highlight=False
                )

        outcomes = await service.migrate_all(
            concurrency, done, lambda n: progress.update(task, total=n)
        )
    failures = sum(1 for o in outcomes if o.error)
    err.print(
        f"migrated {len(outcomes) - failures} of {len(outcomes)} tenants"
        + (f", {failures} failed" if failures else "")
    )
    return failures


@app.command()
def sandbox(
    host: str = "127.0.0.1",
    port: int = 8025,
    smtp_port: int = 2525,
    fail_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    delay: Annotated[float, typer.Option(min=0.0, max=60.0, help="Seconds per request")] = 0.0,
    receipt_delay: Annotated[
        float, typer.Option(min=0.0, max=3600.0, help="Seconds before receipts")
    ] = 2.0,
    read_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
) -> None:
    """Run a local provider for every channel (HTTP + SMTP) that records what it gets and
    posts delivery and read receipts back, signed with TURNOUT_PROVIDER_WEBHOOK_SECRET."""
    import uvicorn

    from . import sandbox as sb

    recorder = sb.Recorder(
        fail_rate=fail_rate,
        delay=delay,
        receipt_delay=receipt_delay,
        read_rate=read_rate,
        webhook_secret=get_settings().provider_webhook_secret,
    )
    smtp = sb.start_smtp(recorder, host, smtp_port)
    out.print(f"sandbox: http://{host}:{port}/ (providers), smtp://{host}:{smtp_port}")
    try:
        uvicorn.run(sb.create_app(recorder), host=host, port=port, log_level="warning")
    finally:
        smtp.stop()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[bool, typer.Option(help="Seed demo tenants on first start")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request")] = False,
    sandbox: Annotated[bool, typer.Option(help="Also run the provider sandbox")] = False,
    sandbox_port: int = 8025,
    smtp_port: int = 2525,
) -> None:
    """Migrate, then serve the app with uvicorn."""
    import uvicorn

    if sandbox:
        _start_sandbox(host, port, sandbox_port, smtp_port)
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "httpx", "mail.log"):  # a line per request or SMTP session
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        keyring.configure(settings)
    except MasterKeyError as exc:
        fail(str(exc))
    db.configure(settings)
    # Worker processes read their settings from the environment: hand them the database
    # this process resolved (the embedded one included).
    os.environ["TURNOUT_DATABASE_URL"] = db.url()
    asyncio.run(_prepare(settings, demo, host, port))
    uvicorn.run(
        "turnout.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        access_log=access_log,
    )


def _start_sandbox(host: str, port: int, sandbox_port: int, smtp_port: int) -> None:
    """The sandbox in this process, and the providers' settings pointed at it."""
    import threading

    import uvicorn

    from . import sandbox as sb

    recorder = sb.Recorder(
        receipt_delay=2.0, read_rate=0.5, webhook_secret=get_settings().provider_webhook_secret
    )
    sb.start_smtp(recorder, host, smtp_port)
    server = uvicorn.Server(
        uvicorn.Config(sb.create_app(recorder), host=host, port=sandbox_port, log_level="warning")
    )
    threading.Thread(target=server.run, name="sandbox", daemon=True).start()
    os.environ.update(
        TURNOUT_PROVIDER_URL=f"http://{host}:{sandbox_port}",
        TURNOUT_SMTP_URL=f"smtp://{host}:{smtp_port}",
        TURNOUT_PUBLIC_URL=f"http://{host}:{port}",
    )
    get_settings.cache_clear()
    out.print(f"sandbox (every message the demo sends): http://{host}:{sandbox_port}/")


async def _prepare(settings: Settings, demo: bool, host: str, port: int) -> None:
    from .tenancy import service

    outcomes = await service.migrate_all()
    for o in outcomes:
        if o.error:
            err.print(f"[red]tenant {o.slug} failed to migrate:[/red] {o.error}")
    if demo:
        from . import demo as demo_data

        logins = await demo_data.seed()
        out.print(
            f"\n[bold]Turnout is starting at http://{host}:{port}/[/bold]  "
            f"(GraphQL: http://{host}:{port}/graphql)"
        )
        table = Table(
            "tenant", "email", "role", title=f"demo logins, password {demo_data.DEMO_PASSWORD}"
        )
        for row in logins:
            table.add_row(*row)
        out.print(table)
    await db.dispose()


# The evidence commands live beside their domain; they use run() and fail() from here.
from .evidence.cli import evidence_app  # noqa: E402

app.add_typer(evidence_app, name="evidence")


def main() -> None:
    app()
