"""Message templates per channel kind and locale: built in (en, zh-CN), or the tenant's own,
rendered in Jinja2's sandbox so a template cannot reach into the application."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.errors import FieldProblem, InvalidInput
from .models import MessageTemplate

_env = SandboxedEnvironment(autoescape=False)
KINDS = ("short", "email")  # short: SMS, voice, WeChat, push
LOCALES = ("en", "zh-CN")
SAMPLE = {
    "name": "Li Wei",
    "job": "ICU Nurse",
    "when": "2026-12-01 09:00",
    "link": "https://example.com/r/xyz",
    "tenant": "St Mary's",
}

BUILT_IN: dict[tuple[str, str], tuple[str, str]] = {
    ("short", "en"): (
        "Interview reminder",
        "Hi {{ name }}, your {{ job }} interview is {{ when }}. Open: {{ link }}",
    ),
    ("short", "zh-CN"): (
        "面试提醒",
        "{{ name }}您好，您的{{ job }}面试时间：{{ when }}。打开链接：{{ link }}",
    ),
    ("email", "en"): (
        "Your interview for {{ job }}: {{ when }}",
        "Hello {{ name }},\n\nThis is a reminder of your {{ job }} interview, "
        "{{ when }}.\n\nConfirm, start or ask for another time here:\n{{ link }}\n"
        "\n{{ tenant }}",
    ),
    ("email", "zh-CN"): (
        "您的{{ job }}面试：{{ when }}",
        "{{ name }}您好：\n\n提醒您参加{{ job }}面试，时间：{{ when }}。\n\n"
        "确认、开始或改期请点击：\n{{ link }}\n\n{{ tenant }}",
    ),
}


def kind_of(channel: str) -> str:
    return "email" if channel == "email" else "short"


@lru_cache(maxsize=256)
def _compiled(text: str):
    return _env.from_string(text)


def render(
    channel: str, locale: str, custom: tuple[str, str] | None = None, **values: str
) -> tuple[str, str]:
    key = (kind_of(channel), locale if locale in LOCALES else "en")
    subject, body = custom or BUILT_IN[key]
    return _compiled(subject).render(**values), _compiled(body).render(**values)


async def custom_for(session: AsyncSession, channel: str, locale: str) -> tuple[str, str] | None:
    row = await session.get(MessageTemplate, (kind_of(channel), locale))
    return (row.subject, row.body) if row else None


async def set_template(
    session: AsyncSession, kind: str, locale: str, subject: str, body: str
) -> MessageTemplate:
    p = []
    if kind not in KINDS:
        p.append(FieldProblem("kind", f"must be one of {', '.join(KINDS)}"))
    if locale not in LOCALES:
        p.append(FieldProblem("locale", f"must be one of {', '.join(LOCALES)}"))
    if not body.strip() or len(body) > 20_000 or len(subject) > 500:
        p.append(FieldProblem("body", "1-20000 characters, and a subject of at most 500"))
    if "{{ link }}" not in body.replace("{{link}}", "{{ link }}"):
        p.append(
            FieldProblem("body", "must contain {{ link }}: every message carries its tracked link")
        )
    for name, text in (("subject", subject), ("body", body)):
        try:
            _env.from_string(text).render(**SAMPLE)
        except TemplateError as exc:  # syntax errors and what the sandbox refuses
            p.append(FieldProblem(name, f"template error: {exc}"))
    if p:
        raise InvalidInput(problems=p)
    row = await session.get(MessageTemplate, (kind, locale))
    if row is None:
        row = MessageTemplate(kind=kind, locale=locale, subject=subject, body=body)
        session.add(row)
    else:
        row.subject, row.body = subject, body
    await session.flush()
    return row


async def all_templates(session: AsyncSession) -> dict[tuple[str, str], tuple[str, str]]:
    rows = (await session.execute(select(MessageTemplate))).scalars()
    return {(r.kind, r.locale): (r.subject, r.body) for r in rows}
