"""POST /graphql: authenticate, bind the tenant, pick the tenant's schema, execute."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..auth import service as auth
from ..auth.graphql import SESSION_COOKIE
from ..auth.principal import ANONYMOUS, Principal
from ..config import Settings
from ..db.session import public_session
from ..kit.errors import NotFound
from ..tenancy import service as tenancy
from ..tenancy.models import Tenant
from .context import Context
from .schema import schema_for

log = logging.getLogger(__name__)


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def requested_tenant(request: Request, settings: Settings) -> str | None:
    """The tenant named by the X-Tenant header, or else by the host's subdomain."""
    header = request.headers.get("x-tenant")
    if header:
        return header.strip().lower()
    host = request.headers.get("host", "").split(":", 1)[0].lower()
    suffix = "." + settings.base_domain
    if host.endswith(suffix) and host != settings.base_domain:
        sub = host[: -len(suffix)]
        return sub if "." not in sub else None
    return None


async def resolve(request: Request, settings: Settings) -> tuple[Principal, Tenant | None]:
    """The principal and the tenant it is bound to; Denied when they do not fit together."""
    wanted = requested_tenant(request, settings)
    authz = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    async with public_session() as session:
        found = None
        if authz.lower().startswith("bearer "):
            found = await auth.principal_from_bearer(session, authz[7:].strip())
            if found is None:
                raise Denied(401, "invalid or expired bearer token")
        elif cookie:
            found = await auth.principal_from_cookie(session, cookie)
        if found is None:
            tenant = None
            if wanted:
                try:
                    tenant = await tenancy.tenant_by_slug(session, wanted)
                except NotFound:
                    raise Denied(404, f"no tenant {wanted!r}") from None
            principal = ANONYMOUS
        else:
            principal, tenant = found
    if principal.tenant_id is None and not principal.anonymous and wanted:
        raise Denied(403, "vendor operators have no access to a tenant's data")
    if tenant is not None and wanted and wanted != tenant.slug:
        raise Denied(403, "this credential belongs to another tenant")
    if tenant is not None and not tenant.active:
        raise Denied(403, f"tenant {tenant.slug} is suspended")
    return principal, tenant


async def _read_body(request: Request) -> dict:
    """JSON, or the GraphQL multipart request spec (file uploads) with files put into
    the variables at the paths `map` names."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return orjson.loads(await request.body())
    form = await request.form(max_files=5, max_fields=20)
    body = orjson.loads(form["operations"])
    for key, paths in orjson.loads(form.get("map", "{}")).items():
        upload = form[key]
        for path in paths:
            *parents, last = path.split(".")
            target = body
            for part in parents:
                target = target[int(part)] if isinstance(target, list) else target[part]
            if isinstance(target, list):
                target[int(last)] = upload
            else:
                target[last] = upload
    return body


def _json(payload: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def graphql_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if request.method == "GET":
        if settings.development and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(request.app.state.graphiql_html)
        return _json({"errors": [{"message": "send queries with POST"}]}, 405)
    try:
        body = await _read_body(request)
        query = body["query"]
        variables = body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _json(
            {
                "errors": [
                    {
                        "message": "body must be JSON with a string 'query' and "
                        "optional object 'variables'"
                    }
                ]
            },
            400,
        )
    try:
        principal, tenant = await resolve(request, settings)
    except Denied as exc:
        return _json({"errors": [{"message": exc.message}]}, exc.status)
    ctx = Context(
        request=request,
        principal=principal,
        tenant=tenant,
        settings=settings,
        csrf_ok=auth.csrf_ok(principal, request.headers.get("x-csrf-token")),
    )
    # A signed-in member sees its tenant's packs; nobody else sees pack fields.
    packs = frozenset(tenant.packs) if tenant is not None and principal.tenant_id else frozenset()
    introspection = settings.introspection_for_anonymous or not principal.anonymous
    schema = schema_for(packs, introspection)
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=ctx,
        operation_name=body.get("operationName"),
    )
    payload: dict = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    response = _json(payload)
    for name, value, opts in ctx.set_cookies:
        response.set_cookie(name, value, **opts)
    for name in ctx.delete_cookies:
        response.delete_cookie(name, path="/")
    return response
