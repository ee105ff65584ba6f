"""The portal's server-rendered pages (mobile first, English and Simplified Chinese): plain HTML
with POST forms, no script. Everything shown is escaped."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.responses import HTMLResponse

LOCALES = ("en", "zh-CN")

T: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your interview",
        "employer": "Employer",
        "job": "Position",
        "when": "When",
        "ai_window": "Any time from {start} to {end}",
        "live_time": "{start} to {end}",
        "kind.ai_async": "AI video interview",
        "kind.live": "Interview with an interviewer",
        "state": "Status",
        "state.scheduled": "Scheduled: please confirm you will attend",
        "state.confirmed": "Confirmed",
        "state.started": "Started",
        "state.completed": "Completed: thank you",
        "state.no_show": "Missed: you can ask for another time",
        "prepare": "How to prepare",
        "confirm": "I will attend",
        "start": "Start the interview",
        "continue": "Continue the interview",
        "early": "You can start from {at}.",
        "closed": "The interview window has closed. You can ask for another time.",
        "reschedule": "Ask for another time",
        "note": "When would suit you? (optional)",
        "problem": "Report a technical problem",
        "describe": "What went wrong?",
        "send": "Send",
        "done.confirmed": "Thank you: your attendance is confirmed.",
        "done.reschedule": "Your request was sent. A recruiter will contact you.",
        "done.problem": "Your report was sent. A recruiter will contact you soon.",
        "other": "中文",
        "bad.title": "Link not valid",
        "bad.text": "This link is not valid. Please use the link in the latest message you "
        "received, or contact the recruiter.",
        "gone.title": "Link no longer valid",
        "gone.expired": "This link has expired. Please contact the recruiter if you still "
        "need help.",
        "gone.cancelled": "This interview was cancelled.",
        "gone.rescheduled": "This interview was moved. Please use the link in the latest "
        "message you received.",
        "slow.title": "Too many requests",
        "slow.text": "Please wait {n} seconds and try again.",
        "no.title": "Not possible",
        "no.vendor": "The interview cannot be started online yet. Please report a technical "
        "problem and a recruiter will help you.",
        "no.state": "This is not possible while the interview is {state}.",
        "no.live": "This interview is held with an interviewer at the time shown; there is "
        "nothing to start online.",
        "no.input": "Please check what you entered: {what}",
        "no.origin": "This form was sent from another site.",
        "back": "Back to your interview",
    },
    "zh-CN": {
        "title": "您的面试",
        "employer": "招聘单位",
        "job": "职位",
        "when": "时间",
        "ai_window": "{start} 至 {end} 之间任意时间",
        "live_time": "{start} 至 {end}",
        "kind.ai_async": "AI 视频面试",
        "kind.live": "面试官面试",
        "state": "状态",
        "state.scheduled": "已安排：请确认您将参加",
        "state.confirmed": "已确认",
        "state.started": "已开始",
        "state.completed": "已完成，谢谢",
        "state.no_show": "已错过：您可以申请改期",
        "prepare": "面试准备",
        "confirm": "确认参加",
        "start": "开始面试",
        "continue": "继续面试",
        "early": "您可以从 {at} 开始。",
        "closed": "面试时间已结束，您可以申请改期。",
        "reschedule": "申请改期",
        "note": "您方便的时间（选填）",
        "problem": "报告技术问题",
        "describe": "遇到了什么问题？",
        "send": "提交",
        "done.confirmed": "谢谢，您已确认参加。",
        "done.reschedule": "您的申请已提交，招聘人员会与您联系。",
        "done.problem": "您的问题已提交，招聘人员会尽快与您联系。",
        "other": "English",
        "bad.title": "链接无效",
        "bad.text": "此链接无效。请使用您最近收到的消息中的链接，或联系招聘人员。",
        "gone.title": "链接已失效",
        "gone.expired": "此链接已过期。如仍需帮助，请联系招聘人员。",
        "gone.cancelled": "此面试已取消。",
        "gone.rescheduled": "此面试已改期。请使用您最近收到的消息中的链接。",
        "slow.title": "请求过于频繁",
        "slow.text": "请等待 {n} 秒后重试。",
        "no.title": "无法操作",
        "no.vendor": "目前无法在线开始面试。请报告技术问题，招聘人员会协助您。",
        "no.state": "面试当前状态（{state}）下无法进行此操作。",
        "no.live": "此面试由面试官在上述时间进行，无需在线开始。",
        "no.input": "请检查您填写的内容：{what}",
        "no.origin": "此表单来自其他网站。",
        "back": "返回面试页面",
    },
}

GUIDE = {
    ("en", "ai_async"): [
        "Use a phone or computer with a camera and microphone, and a recent browser.",
        "Find a quiet, well-lit place and a stable internet connection (Wi-Fi is best).",
        "The AI interviewer asks questions on screen; you answer by video. It takes about "
        "20-30 minutes, and you can start any time within the window.",
        "If something does not work, report a technical problem below: a person will help.",
    ],
    ("zh-CN", "ai_async"): [
        "请使用带摄像头和麦克风的手机或电脑，并使用较新的浏览器。",
        "请选择安静、光线充足的地方，并确保网络稳定（建议使用 Wi-Fi）。",
        "AI 面试官会在屏幕上提问，您以视频回答，约需 20-30 分钟，可在时间段内任意时间开始。",
        "如遇问题，请在下方报告技术问题，会有专人协助您。",
    ],
    ("en", "live"): [
        "Be there a few minutes early; bring your identity document.",
        "If you cannot come, ask for another time below as early as you can.",
    ],
    ("zh-CN", "live"): [
        "请提前几分钟到达，并携带身份证件。",
        "如无法参加，请尽早在下方申请改期。",
    ],
}

CSS = (
    "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
    "max-width:34rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1a1a1a}"
    "h1{font-size:1.4rem}dt{color:#555;font-size:.9rem}dd{margin:0 0 .6rem}"
    "form{margin:.8rem 0}button{font-size:1rem;padding:.7rem 1rem;width:100%;border-radius:.4rem;"
    "border:1px solid #1857b8;background:#1857b8;color:#fff}"
    "button.alt{background:#fff;color:#1857b8}textarea{width:100%;box-sizing:border-box;"
    "font:inherit;min-height:4rem}.notice{background:#e8f4ea;padding:.6rem;border-radius:.4rem}"
    "details{margin:.8rem 0}summary{cursor:pointer;color:#1857b8}"
)
HEADERS = {
    "Cache-Control": "no-store",
    # The link is the candidate's key: never send it on to another site (the vendor's).
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # No form-action: browsers apply it to the redirect after "start", to the vendor's site.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
}


def locale_of(*choices: str | None) -> str:
    return next((c for c in choices if c in LOCALES), "en")


def _doc(locale: str, title: str, body: str, status: int) -> HTMLResponse:
    page = (
        f'<!doctype html><html lang="{locale}"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(page, status, headers=HEADERS)


def message(
    locale: str, title_key: str, text: str, status: int, back: str | None = None
) -> HTMLResponse:
    """A page that only says something (bad link, too many requests, not possible)."""
    t = T[locale]
    link = f'<p><a href="{html.escape(back)}">{t["back"]}</a></p>' if back else ""
    return _doc(locale, t[title_key], f"<p>{html.escape(text)}</p>{link}", status)


@dataclass
class View:
    token: str
    locale: str
    employer: str
    job: str
    kind: str
    state: str
    opens_at: datetime
    closes_at: datetime
    time_zone: str
    start_block: str | None  # None: start allowed; else "early", "closed", "live", a state
    done: str | None = None


def when(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _form(v: View, action: str, label: str, cls: str = "", field: str = "") -> str:
    url = html.escape(f"/i/{v.token}/{action}?lang={v.locale}")
    c = f' class="{cls}"' if cls else ""
    return (
        f'<form method="post" action="{url}">{field}<button{c}>{html.escape(label)}</button></form>'
    )


def interview(v: View) -> HTMLResponse:
    t = T[v.locale]
    esc = html.escape
    start, end = when(v.opens_at, v.time_zone), when(v.closes_at, v.time_zone)
    span = t["ai_window" if v.kind == "ai_async" else "live_time"].format(start=start, end=end)
    parts = []
    if v.done in ("confirmed", "reschedule", "problem"):
        parts.append(f'<p class="notice" role="status">{esc(t["done." + v.done])}</p>')
    parts.append(
        "<dl>"
        f"<dt>{t['employer']}</dt><dd>{esc(v.employer)}</dd>"
        f"<dt>{t['job']}</dt><dd>{esc(v.job)} · {esc(t['kind.' + v.kind])}</dd>"
        f"<dt>{t['when']}</dt><dd>{esc(span)} ({esc(v.time_zone)})</dd>"
        f"<dt>{t['state']}</dt><dd>{esc(t.get('state.' + v.state, v.state))}</dd></dl>"
    )
    if v.state == "scheduled":
        parts.append(_form(v, "confirm", t["confirm"]))
    if v.start_block is None:
        parts.append(_form(v, "start", t["continue" if v.state == "started" else "start"]))
    elif v.start_block == "early":
        parts.append(f"<p>{esc(t['early'].format(at=start))}</p>")
    elif v.start_block == "closed":
        parts.append(f"<p>{esc(t['closed'])}</p>")
    guide = GUIDE[(v.locale, v.kind)]
    parts.append(
        f"<h2>{t['prepare']}</h2><ul>" + "".join(f"<li>{esc(g)}</li>" for g in guide) + "</ul>"
    )
    if v.state != "completed":
        note = f'<label>{t["note"]}<textarea name="note" maxlength="2000"></textarea></label>'
        parts.append(
            f"<details><summary>{t['reschedule']}</summary>"
            + _form(v, "reschedule", t["send"], "alt", note)
            + "</details>"
        )
    problem = (
        f'<label>{t["describe"]}<textarea name="description" required maxlength="2000">'
        "</textarea></label>"
    )
    parts.append(
        f"<details><summary>{t['problem']}</summary>"
        + _form(v, "problem", t["send"], "alt", problem)
        + "</details>"
    )
    other = "zh-CN" if v.locale == "en" else "en"
    parts.append(f'<p><a href="/i/{esc(v.token)}?lang={other}">{t["other"]}</a></p>')
    return _doc(v.locale, t["title"], "".join(parts), 200)
