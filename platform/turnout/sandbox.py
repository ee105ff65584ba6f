"""`turnout sandbox`: a local stand-in for every provider (SMS, voice, WeChat, push over
HTTP, and an SMTP server) that records what it receives and shows it on a page. It honours
idempotency keys, and can be told to fail a share of requests or to be slow."""

from __future__ import annotations

import asyncio
import html
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as email_policy

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

CHANNEL_PATHS = {
    "/2010-04-01/Accounts/{sid}/Messages.json": "sms",  # Twilio
    "/2010-04-01/Accounts/{sid}/Calls.json": "voice",  # Twilio
    "/cgi-bin/message/template/send": "wechat",  # WeChat template message
    "/v1/projects/{project}/messages:send": "push",  # FCM HTTP v1
}


@dataclass
class Recorder:
    fail_rate: float = 0.0
    delay: float = 0.0
    # Receipts: "delivered" after receipt_delay seconds, then "read" for a share of them.
    receipt_delay: float | None = None
    read_rate: float = 0.0
    webhook_secret: str = "change-me-provider-webhook-secret"
    receipts_sent: int = 0
    messages: list[dict] = field(default_factory=list)
    by_key: dict[str, dict] = field(default_factory=dict)
    seen: Counter = field(default_factory=Counter)  # idempotency key -> requests

    def record(self, channel: str, key: str, to: str, subject: str, body: str) -> dict:
        self.seen[key] += 1
        if key and key in self.by_key:
            return self.by_key[key]
        msg = {
            "id": f"sb_{uuid.uuid4().hex[:16]}",
            "channel": channel,
            "to": to,
            "subject": subject,
            "body": body,
            "idempotency_key": key,
        }
        self.messages.append(msg)
        if key:
            self.by_key[key] = msg
        return msg


class SmtpHandler:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, server, session, envelope) -> str:
        mail = message_from_bytes(envelope.content, policy=email_policy)
        body = mail.get_body(preferencelist=("plain",))
        ics = next(
            (
                a.get_content()
                for a in mail.iter_attachments()
                if a.get_content_type() == "text/calendar"
            ),
            None,
        )
        msg = self.recorder.record(
            "email",
            mail.get("X-Idempotency-Key", ""),
            ", ".join(envelope.rcpt_tos),
            mail.get("Subject", ""),
            body.get_content() if body else "",
        )
        if ics is not None:
            msg["ics"] = ics if isinstance(ics, str) else ics.decode()
        return "250 OK"


def _read(channel: str, request: Request, form: dict, data: dict) -> tuple[str, str, str, str]:
    """(to, subject, body, status callback) from each provider's own request shape."""
    if channel == "sms":
        return form.get("To", ""), "", form.get("Body", ""), form.get("StatusCallback", "")
    if channel == "voice":
        return form.get("To", ""), "", form.get("Twiml", ""), form.get("StatusCallback", "")
    if channel == "wechat":
        values = data.get("data", {})
        return (
            str(data.get("touser", "")),
            values.get("first", {}).get("value", ""),
            values.get("remark", {}).get("value", ""),
            "",
        )
    msg = data.get("message", {})
    note = msg.get("notification", {})
    return (
        str(msg.get("token", "")),
        note.get("title", ""),
        note.get("body", ""),
        msg.get("data", {}).get("status_callback", ""),
    )


def create_app(recorder: Recorder) -> Starlette:
    async def provider(request: Request) -> JSONResponse:
        channel = request.scope["route"].name
        if recorder.delay:
            await asyncio.sleep(recorder.delay)
        if recorder.fail_rate and random.random() < recorder.fail_rate:
            return JSONResponse({"error": "sandbox: told to fail"}, 503)
        form, data = {}, {}
        if channel in ("sms", "voice"):
            form = dict(await request.form())
        else:
            data = await request.json()
        key = request.headers.get("i-twilio-idempotency-token") or request.headers.get(
            "idempotency-key", ""
        )
        to, subject, body, callback = _read(channel, request, form, data)
        known = key in recorder.by_key
        msg = recorder.record(channel, key, str(to), str(subject), str(body))
        if callback and not known and recorder.receipt_delay is not None:
            task = asyncio.create_task(_receipts(recorder, callback, msg["idempotency_key"]))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        if channel == "wechat":
            return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": abs(hash(msg["id"]))})
        if channel == "push":
            return JSONResponse({"name": f"projects/sandbox/messages/{msg['id']}"})
        return JSONResponse({"sid": msg["id"], "status": "queued"})

    async def messages(request: Request) -> JSONResponse:
        channel = request.query_params.get("channel")
        return JSONResponse(
            [m for m in recorder.messages if not channel or m["channel"] == channel]
        )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "messages": len(recorder.messages),
                "requests": sum(recorder.seen.values()),
                "keys_seen_more_than_once": sum(1 for n in recorder.seen.values() if n > 1),
            }
        )

    async def page(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(m['channel'])}</td><td>{html.escape(m['to'])}</td>"
            f"<td>{html.escape(m['subject'])}</td><td>{html.escape(m['body'])}</td></tr>"
            for m in reversed(recorder.messages[-500:])
        )
        return HTMLResponse(
            "<!doctype html><meta charset=utf-8><title>Turnout sandbox</title>"
            "<h1>Sandbox: messages received</h1><table border=1 cellpadding=4>"
            f"<tr><th>channel<th>to<th>subject<th>body</tr>{rows}</table>"
        )

    routes = [Route(p, provider, methods=["POST"], name=c) for p, c in CHANNEL_PATHS.items()]
    routes += [Route("/messages", messages), Route("/stats", stats), Route("/", page)]
    return Starlette(routes=routes)


_pending: set[asyncio.Task] = set()
_clients: dict[int, object] = {}  # event loop -> the receipts' httpx client
_gates: dict[int, asyncio.Semaphore] = {}
RECEIPT_ATTEMPTS = 6
RECEIPTS_IN_FLIGHT = 32  # callbacks posted at once, as a provider's sender pool would


def _receipt_gate() -> asyncio.Semaphore:
    loop = id(asyncio.get_running_loop())
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(RECEIPTS_IN_FLIGHT)
    return gate


async def _receipts(recorder: Recorder, callback: str, key: str) -> None:
    """Post signed receipts back, as a provider does; failures are only counted."""
    import httpx
    import orjson

    from .delivery.signing import sign

    statuses = ["delivered"] + (["read"] if random.random() < recorder.read_rate else [])
    # One pooled client per loop: a new client per receipt costs more than the post itself.
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(timeout=10)
    for status in statuses:
        await asyncio.sleep(recorder.receipt_delay or 0)
        body = orjson.dumps({"idempotency_key": key, "status": status})
        # As providers do: a callback that fails is tried again, a few times, with backoff.
        for attempt in range(RECEIPT_ATTEMPTS):
            try:
                async with _receipt_gate():
                    r = await client.post(
                        callback,
                        content=body,
                        headers={
                            "content-type": "application/json",
                            "x-turnout-signature": sign(recorder.webhook_secret, body),
                        },
                    )
                if r.status_code < 500:
                    recorder.receipts_sent += 1
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(min(2**attempt, 30) * random.uniform(0.5, 1.5))


def start_smtp(recorder: Recorder, host: str, port: int):
    from aiosmtpd.controller import Controller

    controller = Controller(SmtpHandler(recorder), hostname=host, port=port)
    controller.start()
    return controller
