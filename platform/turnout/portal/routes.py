"""HTTP ends of the portal: the candidate's page /i/<token> with its POST actions, and the
interview vendor's signed webhook."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qs, urlencode, urlparse

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..crypto.fields import cipher_for
from ..db.session import public_session, tenant_session
from ..delivery import signing
from ..kit.errors import Conflict, InvalidInput, NotFound, ServiceError
from ..kit.ids import sha256_hex
from ..recruiting.models import Candidate, Job
from ..tenancy.models import Tenant
from ..tenancy.service import tenant_by_slug
from . import pages, service, tokens, vendor

log = logging.getLogger(__name__)

MAX_FORM = 16 * 1024
MAX_EVENT = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"  # what the pages' forms send
DONE = {"confirm": "confirmed", "reschedule": "reschedule", "problem": "problem"}
ACTIONS = ("confirm", "start", "reschedule", "problem")


class AddressLimiter:
    """Requests whose link names no tenant of ours never reach a tenant's schema, so they are
    counted here, per process (a scan for links costs each process at most this much)."""

    def __init__(self, limit: int, window: float = 60.0, size: int = 10_000) -> None:
        self.limit, self.window, self.size = limit, window, size
        self.hits: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str) -> int | None:
        now = time.monotonic()
        q = self.hits.pop(address, None) or deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        self.hits[address] = q
        if len(self.hits) > self.size:
            self.hits.popitem(last=False)
        if len(q) >= self.limit:
            return max(int(q[0] + self.window - now) + 1, 1)
        q.append(now)
        return None


stray = AddressLimiter(service.PER_ADDRESS)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _too_many(locale: str, wait: int) -> Response:
    r = pages.message(locale, "slow.title", pages.T[locale]["slow.text"].format(n=wait), 429)
    r.headers["Retry-After"] = str(wait)
    return r


def _bad_link(request: Request, locale: str, why: str) -> Response:
    log.warning(
        "portal: %s link %s from %s",
        why,
        tokens.redacted(request.path_params["token"]),
        _address(request),
    )
    return pages.message(locale, "bad.title", pages.T[locale]["bad.text"], 404)


def _same_origin(request: Request) -> bool:
    """Forms post only from our own pages; the link itself is the capability, and this
    refuses what a browser marks as coming from elsewhere."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    allowed = {
        request.headers.get("host", ""),
        urlparse(request.app.state.settings.public_url).netloc,
    }
    return urlparse(origin).netloc in allowed


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than limit: refused by its Content-Length, or, when
    it has none (chunked) or understates it, while it streams in, never read past limit."""
    declared = request.headers.get("content-length") or "0"
    if declared.isdigit() and int(declared) > limit:
        return None
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _form(body: bytes, content_type: str) -> dict[str, str] | None:
    """An urlencoded form's fields (the first of each name); None for another encoding. An
    empty body is an empty form, whatever its type (the buttons send no fields)."""
    if not body:
        return {}
    if content_type.split(";", 1)[0].strip().lower() != FORM_TYPE:
        return None
    text = body.decode("utf-8", "replace")
    fields = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    return {name: values[0] for name, values in fields.items()}


async def _tenant(slug: str) -> Tenant | None:
    async with public_session() as s:
        try:
            tenant = await tenant_by_slug(s, slug)
        except NotFound:
            return None
    return tenant if tenant.active else None


async def portal(request: Request) -> Response:
    token = request.path_params["token"]
    action = request.path_params.get("action")
    lang = request.query_params.get("lang")
    locale = pages.locale_of(lang)
    address = _address(request)
    if action is not None and action not in ACTIONS:
        return pages.message(locale, "bad.title", pages.T[locale]["bad.text"], 404)
    parsed = tokens.parse(token)
    tenant = parsed and await _tenant(parsed[0])
    if tenant is None:
        if wait := stray.wait(address):
            return _too_many(locale, wait)
        return _bad_link(request, locale, "malformed" if parsed is None else "unknown tenant's")
    secret = parsed[1]
    async with tenant_session(tenant.ref) as s:
        wait = await service.throttle(s, address, sha256_hex(secret))
        await s.commit()  # counted even when what follows fails
        if wait:
            log.warning("portal: rate limited %s from %s", tokens.redacted(token), address)
            return _too_many(locale, wait)
        interview = await service.interview_by_secret(s, secret)
        if interview is None:
            return _bad_link(request, locale, "wrong")
        cand = await s.get(Candidate, interview.candidate_id)
        locale = pages.locale_of(lang, cand.locale, tenant.locale)
        if why := service.link_problem(interview):
            log.warning("portal: %s link %s from %s", why, tokens.redacted(token), address)
            return pages.message(locale, "gone.title", pages.T[locale][f"gone.{why}"], 410)
        if action is None:
            return await _show(request, s, tenant, cand, interview, locale, token)
        return await _act(request, s, interview, cand.time_zone, action, locale, token)


async def _show(request, s, tenant, cand, interview, locale, token) -> Response:
    done = request.query_params.get("done")
    if done not in DONE.values():  # after an action, its own event is the evidence
        done = None
        agent = request.headers.get("user-agent", "")
        await service.record_visit(s, interview, _address(request), agent)
        await s.commit()
    job = await s.get(Job, interview.job_id)
    return pages.interview(
        pages.View(
            token=token,
            locale=locale,
            employer=tenant.name,
            job=job.title,
            kind=interview.kind,
            state=interview.state,
            opens_at=interview.opens_at,
            closes_at=interview.closes_at,
            time_zone=cand.time_zone,
            start_block=service.can_start(interview),
            done=done,
        )
    )


async def _act(request, s, interview, time_zone, action, locale, token) -> Response:
    t = pages.T[locale]
    state = interview.state  # read now: a rollback expires the row
    back = f"/i/{token}?lang={locale}"
    if not _same_origin(request):
        log.warning("portal: cross-site %s for %s", action, tokens.redacted(token))
        return pages.message(locale, "no.title", t["no.origin"], 403, back)
    body = await _body(request, MAX_FORM)
    if body is None:
        return pages.message(locale, "no.title", t["no.input"].format(what="size"), 413, back)
    form = _form(body, request.headers.get("content-type", ""))
    if form is None:
        what = t["no.input"].format(what="form encoding")
        return pages.message(locale, "no.title", what, 415, back)
    address = _address(request)
    try:
        if action == "confirm":
            await service.confirm(s, interview, address)
        elif action == "start":
            if why := service.can_start(interview):
                text = {
                    "early": t["early"].format(at=pages.when(interview.opens_at, time_zone)),
                    "closed": t["closed"],
                    "live": t["no.live"],
                }.get(why)
                text = text or t["no.state"].format(state=why)
                return pages.message(locale, "no.title", text, 409, back)
            url = await service.start(s, interview, address, locale)
            await s.commit()
            return RedirectResponse(url, 303, headers=pages.HEADERS)
        elif action == "reschedule":
            await service.request_reschedule(s, interview, str(form.get("note") or ""), address)
        else:
            await service.report_problem(s, interview, str(form.get("description") or ""), address)
    except InvalidInput as exc:
        await s.rollback()
        what = "; ".join(p.message for p in exc.problems)
        return pages.message(locale, "no.title", t["no.input"].format(what=what), 400, back)
    except NotFound:  # no vendor set up: the candidate can still reach a person
        await s.rollback()
        log.warning("portal: start with no interview vendor set up (%s)", tokens.redacted(token))
        return pages.message(locale, "no.title", t["no.vendor"], 503, back)
    except ServiceError:  # Conflict: not in this state (or changed meanwhile)
        await s.rollback()
        return pages.message(locale, "no.title", t["no.state"].format(state=state), 409, back)
    await s.commit()
    query = urlencode({"lang": locale, "done": DONE[action]})
    return RedirectResponse(f"/i/{token}?{query}", 303, headers=pages.HEADERS)


# --- the vendor's webhook -------------------------------------------------------------


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status)


async def vendor_webhook(request: Request) -> Response:
    body = await _body(request, MAX_EVENT)
    if body is None:
        return _error(413, f"an event is at most {MAX_EVENT} bytes")
    tenant = await _tenant(request.path_params["tenant"])
    if tenant is None:
        return _error(404, "no such tenant")
    async with tenant_session(tenant.ref) as s:
        settings = await vendor.get_settings(s)
        if settings is None:
            return _error(404, "this tenant has no interview vendor set up")
        secret = vendor.secret_of(await cipher_for(s, tenant.id), settings)
        if not signing.verify(secret, body, request.headers.get("x-turnout-signature")):
            log.warning(
                "rejected an unsigned or forged interview-vendor event from %s for %s",
                _address(request),
                tenant.slug,
            )
            return _error(401, "bad or missing signature (X-Turnout-Signature: t=<unix>,v1=<hex>)")
        try:
            event = vendor.parse_event(orjson.loads(body))
        except orjson.JSONDecodeError:
            return _error(400, "the body is not JSON")
        except InvalidInput as exc:
            problems = [{"field": p.field, "message": p.message} for p in exc.problems]
            return _error(400, exc.message, problems=problems)
        try:
            out = await vendor.apply_event(s, event, "webhook", "vendor")
        except NotFound as exc:
            await s.rollback()
            return _error(404, exc.message, field=exc.field)
        except (Conflict, InvalidInput) as exc:  # illegal for the interview's state
            await s.rollback()
            log.warning("interview-vendor event %s refused: %s", event.event_id, exc.message)
            return _error(409, exc.message, code="illegal_transition")
        await s.commit()
    if out.duplicate:
        return JSONResponse({"ok": True, "duplicate": True})
    return JSONResponse(
        {"ok": True, "duplicate": False, "changed": out.changed, "state": out.interview.state}
    )


ROUTES = [
    Route("/i/{token}", portal, methods=["GET"]),
    Route("/i/{token}/{action:str}", portal, methods=["POST"]),
    Route("/webhooks/interview-vendor/{tenant}", vendor_webhook, methods=["POST"]),
]
