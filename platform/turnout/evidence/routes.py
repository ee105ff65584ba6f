"""The tenant's public key at a stable URL, for anyone checking an evidence bundle:
GET /evidence/<slug>/public-key (PEM) and /evidence/<slug>/public-key.json (with key ids,
including keys no longer used for new checkpoints)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..db.engine import SLUG_RE
from ..db.session import public_session
from ..kit.errors import NotFound
from ..tenancy.service import tenant_by_slug
from .keys import public_keys

CACHE = {"Cache-Control": "public, max-age=300"}


async def _keys(slug: str):
    if not SLUG_RE.match(slug):
        return None, None
    async with public_session() as s:
        try:
            tenant = await tenant_by_slug(s, slug)
        except NotFound:
            return None, None
    return tenant, await public_keys(tenant.id)


async def public_key_pem(request: Request) -> Response:
    tenant, keys = await _keys(request.path_params["slug"])
    if tenant is None:
        return PlainTextResponse("no such tenant\n", 404)
    return PlainTextResponse(
        keys[0].pem,
        headers={**CACHE, "X-Key-Id": keys[0].key_id},
        media_type="application/x-pem-file",
    )


async def public_key_json(request: Request) -> Response:
    tenant, keys = await _keys(request.path_params["slug"])
    if tenant is None:
        return JSONResponse({"error": "no such tenant"}, 404)
    return JSONResponse(
        {
            "tenant": {"id": str(tenant.id), "slug": tenant.slug},
            "key_id": keys[0].key_id,
            "algorithm": "Ed25519",
            "public_key_pem": keys[0].pem,
            "fingerprint_sha256": keys[0].fingerprint,
            "keys": [k.as_json() for k in keys],
        },
        headers=CACHE,
    )


ROUTES = [
    Route("/evidence/{slug}/public-key", public_key_pem, methods=["GET"]),
    Route("/evidence/{slug}/public-key.json", public_key_json, methods=["GET"]),
]
