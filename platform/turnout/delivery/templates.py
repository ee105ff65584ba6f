"""Message templates per channel and locale, rendered in Jinja2's sandbox."""

from __future__ import annotations

from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(autoescape=False)

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


def render(channel: str, locale: str, **values: str) -> tuple[str, str]:
    key = ("email" if channel == "email" else "short", locale if locale == "zh-CN" else "en")
    subject, body = BUILT_IN[key]
    return _env.from_string(subject).render(**values), _env.from_string(body).render(**values)
