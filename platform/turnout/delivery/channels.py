"""Channels behind one small interface: email over SMTP, and SMS, voice, WeChat template
messages and app push over providers' HTTP APIs. The notification id is the provider's
idempotency key, so a message re-sent after a crash is delivered once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx


class TransientError(Exception):
    """Worth retrying: timeouts, 5xx, 429, connection refused."""


class PermanentError(Exception):
    """Retrying cannot help: a bad address, a refused message."""


@dataclass
class Message:
    notification_id: str
    channel: str
    to: str
    subject: str
    body: str
    ics: bytes | None = None
    status_callback: str = ""  # where the provider posts delivery receipts


class Channel(Protocol):
    async def send(self, message: Message) -> str:
        """Hand the message to the provider; returns the provider's reference."""


@dataclass
class SmtpEmail:
    host: str
    port: int
    sender: str
    timeout: float = 10.0

    async def send(self, message: Message) -> str:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        # The same Message-ID on a retry lets the receiving side drop the duplicate.
        mail["Message-ID"] = f"<{message.notification_id}@turnout>"
        mail["X-Idempotency-Key"] = message.notification_id
        mail.set_content(message.body)
        if message.ics:
            mail.add_attachment(
                message.ics,
                maintype="text",
                subtype="calendar",
                filename="interview.ics",
                params={"method": "REQUEST"},
            )
        try:
            await aiosmtplib.send(
                mail, hostname=self.host, port=self.port, timeout=self.timeout, start_tls=False
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"smtp: {exc}") from exc
        return f"smtp:{message.notification_id}"


# One pooled client per event loop and provider: a new client per message would set up TLS
# and a connection every time (about half of a send's CPU, measured).
_clients: dict[tuple[int, str], httpx.AsyncClient] = {}


def _client(base_url: str, timeout: float) -> httpx.AsyncClient:
    key = (id(asyncio.get_running_loop()), base_url)
    client = _clients.get(key)
    if client is None or client.is_closed:
        client = _clients[key] = httpx.AsyncClient(base_url=base_url, timeout=timeout)
    return client


PATHS = {
    "sms": "/sms/messages",
    "voice": "/voice/calls",
    "wechat": "/wechat/template",
    "push": "/push/send",
}


@dataclass
class HttpProvider:
    """Twilio-style REST for SMS and voice, WeChat's template message, FCM-style push."""

    base_url: str
    channel: str
    token: str = ""
    timeout: float = 10.0

    async def send(self, message: Message) -> str:
        payload = {
            "to": message.to,
            "body": message.body,
            "subject": message.subject,
            "status_callback": message.status_callback,
        }
        headers = {"Idempotency-Key": message.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            r = await _client(self.base_url, self.timeout).post(
                PATHS[self.channel], json=payload, headers=headers
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.channel}: {exc!r}") from exc
        if r.status_code == 429 or r.status_code >= 500:
            raise TransientError(f"{self.channel}: provider answered {r.status_code}")
        if r.status_code >= 400:
            raise PermanentError(
                f"{self.channel}: provider refused ({r.status_code}): {r.text[:200]}"
            )
        return str(r.json().get("id", ""))
