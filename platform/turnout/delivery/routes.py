"""HTTP ends of delivery: tracked links (/r/<token>) and providers' status callbacks."""

from __future__ import annotations

import html
import logging
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..crypto.fields import cipher_for
from ..db.session import public_session, tenant_session
from ..kit.errors import NotFound
from ..portal import tokens as portal_tokens
from ..recruiting.models import Interview
from ..recruiting.scheduling import link_token
from ..tenancy.service import tenant_by_slug
from . import links, receipts, signing
from .models import Notification

log = logging.getLogger(__name__)

PAGE = """<!doctype html><html lang="{lang}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<body style="font-family:system-ui;max-width:32rem;margin:2rem auto;padding:0 1rem">
<h1 style="font-size:1.4rem">{title}</h1><p>{text}</p></body></html>"""


def _page(title: str, text: str, status: int = 200, lang: str = "en") -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(title=html.escape(title), text=html.escape(text), lang=lang), status
    )


async def tracked_link(request: Request) -> Response:
    found = links.read(request.path_params["token"])
    if found is None:
        log.warning("tracked link with a bad token from %s", request.client)
        return _page(
            "Link not valid",
            "This link is not valid. Please use the latest "
            "message you received, or contact the recruiter.",
            404,
        )
    slug, nid = found
    async with public_session() as s:
        try:
            tenant = await tenant_by_slug(s, slug)
        except NotFound:
            return _page("Link not valid", "This link is no longer valid.", 404)
    if not tenant.active:
        return _page("Link not valid", "This link is no longer valid.", 404)
    async with tenant_session(tenant.ref) as s:
        n = await s.get(Notification, nid)
        if n is None:
            return _page("Link not valid", "This link is no longer valid.", 404)
        await receipts.record_open(s, nid, user_agent=request.headers.get("user-agent", ""))
        await s.commit()
        interview = await s.get(Interview, n.interview_id)
        secret = link_token(await cipher_for(s, tenant.id), interview)
    # The open is recorded; the candidate's portal page shows the interview (and is
    # evidence of its own visit).
    return RedirectResponse(portal_tokens.path(tenant.slug, secret), 303)


async def provider_callback(request: Request) -> Response:
    settings = request.app.state.settings
    body = await request.body()
    if not signing.verify(
        settings.provider_webhook_secret, body, request.headers.get("x-turnout-signature")
    ):
        log.warning(
            "rejected an unsigned or forged provider callback from %s for %s",
            request.client,
            request.url.path,
        )
        return JSONResponse({"error": "bad or missing signature"}, 401)
    try:
        data = orjson.loads(body)
        nid = uuid.UUID(str(data["idempotency_key"]))
        status = str(data["status"])
        if status not in receipts.STATUSES:
            raise ValueError(status)
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        return JSONResponse(
            {
                "error": "expected JSON with idempotency_key and status "
                f"({', '.join(receipts.STATUSES)})"
            },
            400,
        )
    async with public_session() as s:
        try:
            tenant = await tenant_by_slug(s, request.path_params["tenant"])
        except NotFound:
            return JSONResponse({"error": "no such tenant"}, 404)
    async with tenant_session(tenant.ref) as s:
        # Kept, and applied with the others of the next scheduler pass (within a second):
        # the provider gets its answer after one INSERT, however many it sends at once.
        await receipts.queue_status(s, nid, status)
        await s.commit()
    return JSONResponse({"ok": True, "queued": True})


ROUTES = [
    Route("/r/{token}", tracked_link),
    Route("/webhooks/providers/{tenant}/{channel}", provider_callback, methods=["POST"]),
]
