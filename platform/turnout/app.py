"""The ASGI app: /graphql, /oauth/token, /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from .auth import clients
from .config import DEV_PROVIDER_SECRET, Settings, get_settings
from .crypto.keys import keyring
from .db.engine import db
from .db.session import public_session
from .delivery import routes as delivery_routes
from .delivery.tasks import run_scheduler
from .evidence import routes as evidence_routes
from .graphql.endpoint import graphql_endpoint
from .portal import routes as portal_routes

log = logging.getLogger(__name__)

LANDING = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Turnout</title>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>Turnout</h1><p>Reminders, evidence and follow-up for AI interviews.</p>
<ul><li><a href="/graphql">GraphQL API</a> (GraphiQL in development)</li>
<li><code>POST /oauth/token</code>: integrators' client credentials</li></ul></body></html>"""


async def token_endpoint(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    headers = request.headers  # case-insensitive, as authlib expects
    async with public_session() as session:
        row, tenant_active = await clients.client_row(session, clients.client_id_of(headers, form))
    try:
        status, body, extra = clients.token_response(
            row,
            tenant_active,
            request.app.state.settings.bearer_token_minutes,
            str(request.url),
            headers,
            form,
        )
    except InsecureTransportError:
        return JSONResponse(
            {"error": "invalid_request", "error_description": "the token endpoint requires https"},
            400,
        )
    extra.pop("Content-Type", None)
    return JSONResponse(body, status, headers=extra)


async def healthz(request: Request) -> Response:
    async with public_session() as session:
        await session.execute(text("SELECT 1"))
    return JSONResponse({"ok": True})


async def landing(request: Request) -> Response:
    return HTMLResponse(LANDING)


def create_app(settings: Settings | None = None, configure: bool = True) -> Starlette:
    """configure=False when the caller has already configured db and keyring (tests, serve)."""
    settings = settings or get_settings()
    if not settings.development and settings.provider_webhook_secret == DEV_PROVIDER_SECRET:
        raise RuntimeError(
            "set TURNOUT_PROVIDER_WEBHOOK_SECRET in production: with the "
            "development value anyone could forge delivery receipts"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # What exists after start-up lives for the whole process: keep it out of the
        # collector's way, so full collections stay short and rare.
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        loop_task = None
        if settings.run_scheduler:
            loop_task = asyncio.create_task(run_scheduler(stop, settings))
        yield
        stop.set()
        if loop_task is not None:
            await loop_task
        if configure:
            await db.dispose()

    if configure:
        if not db.configured:
            db.configure(settings)
        keyring.configure(settings)
    app = Starlette(
        debug=False,
        routes=[
            Route("/", landing),
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/healthz", healthz),
            *delivery_routes.ROUTES,
            *evidence_routes.ROUTES,
            *portal_routes.ROUTES,
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.graphiql_html = get_graphql_ide_html(graphql_ide="graphiql")
    return app
