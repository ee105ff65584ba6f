"""The words of the evidence PDF, in English and Simplified Chinese, and one sentence per
event kind. Kept apart from the layout (pdf.py) so a translator reads only this file."""

from __future__ import annotations

import json
from typing import Any

LOCALES = ("en", "zh-CN")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Evidence record: messages, receipts and candidate actions",
        "subtitle": "A readable rendering of the signed evidence bundle exported with it.",
        "employer": "Employer",
        "candidate": "Candidate",
        "candidate_id": "Candidate ID",
        "exported_at": "Exported at",
        "sealed_at": "Checkpoint sealed at",
        "key_id": "Signing key ID",
        "event_count": "Number of events",
        "first_hash": "First event hash",
        "last_hash": "Last event hash",
        "time_zone": "Time zone",
        "time_zone_value": "{zone}; every time below gives its offset from UTC",
        "summary": "Summary",
        "summary_line": (
            "{sent} messages sent, {delivered} delivery receipts, {opened} opened, "
            "{failed} failed or bounced; {actions} candidate actions."
        ),
        "verify_heading": "How to check this record",
        "verify": (
            "Each event below carries a SHA-256 hash that covers its content and the hash of the "
            "event before it, and the last one is sealed in a checkpoint signed with the "
            "employer's key. This document is a readable copy of the file bundle.json exported "
            "with it. To confirm that no event was changed, removed, added or reordered, run "
            "{command} on the exported file, using the employer's public key published at "
            "{url}. The hashes in the appendix must match the ones in bundle.json."
        ),
        "timeline": "Timeline",
        "col_time": "Time",
        "col_actor": "Actor",
        "col_what": "What happened",
        "interview": "Interview {id}",
        "interview_window": "{kind}, window {opens} to {closes}",
        "no_interview": "Events not tied to an interview",
        "no_events": "This bundle contains no events.",
        "recorded": "recorded at",
        "appendix": "Appendix: event hashes",
        "appendix_note": (
            "Every event in chain order. Each hash covers the event's content and the previous "
            "hash; the values must equal those in bundle.json."
        ),
        "chain": "Chain {chain}",
        "col_seq": "Seq",
        "col_kind": "Kind",
        "col_hash": "SHA-256 hash",
        "footer": "{tenant} · {candidate} · evidence record",
        "page": "Page {page} of {pages}",
        "subject": "Subject",
        "body": "Message",
        "step": "Reminder step",
        "provider_ref": "Provider reference",
        "notification_id": "Message ID",
        "error": "Error",
        "note": "Note",
        "reason": "Reason",
        "other": "Other data",
        "none": "none",
        "colon": ": ",
    },
    "zh-CN": {
        "title": "证据记录：消息、回执与候选人操作",
        "subtitle": "本文件是随附签名证据包的可读版本。",
        "employer": "用人单位",
        "candidate": "候选人",
        "candidate_id": "候选人编号",
        "exported_at": "导出时间",
        "sealed_at": "检查点封存时间",
        "key_id": "签名密钥编号",
        "event_count": "事件数量",
        "first_hash": "第一个事件的哈希值",
        "last_hash": "最后一个事件的哈希值",
        "time_zone": "时区",
        "time_zone_value": "{zone}；下文每个时间均注明与 UTC 的时差",
        "summary": "概要",
        "summary_line": (
            "共发送消息 {sent} 条，送达回执 {delivered} 条，已打开 {opened} 次，"
            "发送失败或被退回 {failed} 次；候选人操作 {actions} 次。"
        ),
        "verify_heading": "如何核验本记录",
        "verify": (
            "下列每个事件都带有一个 SHA-256 哈希值，该值涵盖事件内容及前一个事件的哈希值；"
            "最后一个事件已封存在以用人单位密钥签名的检查点中。本文件是随附的 bundle.json "
            "文件的可读副本。如需确认没有任何事件被修改、删除、添加或调换顺序，请对导出文件运行 "
            "{command}，并使用用人单位公布于 {url} 的公钥。附录中的哈希值必须与 bundle.json "
            "中的一致。"
        ),
        "timeline": "时间线",
        "col_time": "时间",
        "col_actor": "操作方",
        "col_what": "发生的事项",
        "interview": "面试 {id}",
        "interview_window": "{kind}，时间窗口 {opens} 至 {closes}",
        "no_interview": "与具体面试无关的事件",
        "no_events": "此证据包不含任何事件。",
        "recorded": "记录时间",
        "appendix": "附录：事件哈希值",
        "appendix_note": (
            "按链顺序列出全部事件。每个哈希值涵盖事件内容及前一个哈希值，"
            "必须与 bundle.json 中的值一致。"
        ),
        "chain": "链 {chain}",
        "col_seq": "序号",
        "col_kind": "类型",
        "col_hash": "SHA-256 哈希值",
        "footer": "{tenant} · {candidate} · 证据记录",
        "page": "第 {page} 页，共 {pages} 页",
        "subject": "主题",
        "body": "消息内容",
        "step": "提醒步骤",
        "provider_ref": "服务商参考号",
        "notification_id": "消息编号",
        "error": "错误",
        "note": "备注",
        "reason": "原因",
        "other": "其他数据",
        "none": "无",
        "colon": "：",
    },
}

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "sms": "SMS",
        "email": "email",
        "voice": "voice call",
        "wechat": "WeChat",
        "push": "app push",
        "reminder": "Reminder",
        "escalation": "Escalation",
        "fallback": "Fallback message",
        "ai": "AI interview",
        "live": "Live interview",
        "scheduled": "scheduled",
        "confirmed": "confirmed",
        "started": "started",
        "completed": "completed",
        "no_show": "no-show",
        "cancelled": "cancelled",
        "rescheduled": "rescheduled",
        "candidate": "Candidate",
        "system": "System",
        "vendor": "Interview vendor",
        "user": "User {x}",
        "client": "Integrator {x}",
        "provider": "Provider ({x})",
    },
    "zh-CN": {
        "sms": "短信",
        "email": "电子邮件",
        "voice": "语音电话",
        "wechat": "微信",
        "push": "应用推送",
        "reminder": "提醒",
        "escalation": "升级提醒",
        "fallback": "备用渠道消息",
        "ai": "AI 面试",
        "live": "实时面试",
        "scheduled": "已安排",
        "confirmed": "已确认",
        "started": "已开始",
        "completed": "已完成",
        "no_show": "缺席",
        "cancelled": "已取消",
        "rescheduled": "已改期",
        "candidate": "候选人",
        "system": "系统",
        "vendor": "面试服务商",
        "user": "用户 {x}",
        "client": "集成方 {x}",
        "provider": "服务商（{x}）",
    },
}

# kind -> (sentence template, data keys the sentence uses). Templates take the values already
# formatted; keys not listed here are shown beneath as "label: value" lines.
_SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "notification.sent": "{kind} sent by {channel} to {address_masked}.",
        "notification.delivered": "Delivered ({channel}).",
        "notification.opened": "Opened by the recipient ({channel}).",
        "notification.failed": "Delivery failed ({channel}).",
        "notification.bounced": "Bounced ({channel}).",
        "link.opened": "The candidate opened the link in the {channel} message.",
        "portal.visited": "The candidate visited the interview page.",
        "portal.confirmed": "The candidate confirmed they will attend.",
        "portal.started": "The candidate started the interview from the interview page.",
        "portal.reschedule_requested": "The candidate asked for another time.",
        "portal.problem_reported": "The candidate reported a technical problem: {description}",
        "vendor.started": "{vendor} reports that the candidate started the interview "
        "(vendor event {event_id}).",
        "vendor.completed": "{vendor} reports that the candidate completed the interview "
        "(vendor event {event_id}).",
        "vendor.abandoned": "{vendor} reports that the candidate abandoned the interview "
        "(vendor event {event_id}).",
        "interview.state_changed": "Interview status changed from {from} to {to}.",
        "interview.scheduled": "{kind} scheduled: window {opens_at} to {closes_at}.",
        "candidate.updated": "Candidate record updated (fields: {fields}).",
        "candidate.created": "Candidate record created (fields: {fields}).",
        "application.stage_changed": "Application moved from stage {from} to {to}.",
        "notification.skipped": "Reminder by {channel} not sent: {reason}.",
        "evidence.exported": "This evidence was exported.",
        "pack_settings.changed": "Pack setting changed: {pack} / {key} = {value}.",
        "unknown": "Event of kind {kind_name}.",
    },
    "zh-CN": {
        "notification.sent": "已通过{channel}向 {address_masked} 发送{kind}。",
        "notification.delivered": "已送达（{channel}）。",
        "notification.opened": "收件人已打开（{channel}）。",
        "notification.failed": "发送失败（{channel}）。",
        "notification.bounced": "被退回（{channel}）。",
        "link.opened": "候选人打开了{channel}消息中的链接。",
        "portal.visited": "候选人访问了面试页面。",
        "portal.confirmed": "候选人确认将参加面试。",
        "portal.started": "候选人从面试页面开始了面试。",
        "portal.reschedule_requested": "候选人请求更改面试时间。",
        "portal.problem_reported": "候选人报告了技术问题：{description}",
        "vendor.started": "{vendor} 报告候选人已开始面试（服务商事件 {event_id}）。",
        "vendor.completed": "{vendor} 报告候选人已完成面试（服务商事件 {event_id}）。",
        "vendor.abandoned": "{vendor} 报告候选人中途放弃了面试（服务商事件 {event_id}）。",
        "interview.state_changed": "面试状态由“{from}”变为“{to}”。",
        "interview.scheduled": "已安排{kind}：时间窗口 {opens_at} 至 {closes_at}。",
        "candidate.updated": "候选人资料已更新（字段：{fields}）。",
        "candidate.created": "已建立候选人资料（字段：{fields}）。",
        "application.stage_changed": "申请阶段由“{from}”变为“{to}”。",
        "notification.skipped": "未发送{channel}提醒：{reason}。",
        "evidence.exported": "本证据已被导出。",
        "pack_settings.changed": "行业包设置已更改：{pack} / {key} = {value}。",
        "unknown": "类型为 {kind_name} 的事件。",
    },
}

# Keys each kind's sentence consumes, plus keys shown with a label of their own.
_CONSUMED = {
    "notification.sent": ("notification_id", "channel", "address_masked", "kind"),
    "notification.delivered": ("notification_id", "channel"),
    "notification.opened": ("notification_id", "channel"),
    "notification.failed": ("notification_id", "channel"),
    "notification.bounced": ("notification_id", "channel"),
    "link.opened": ("notification_id", "channel"),
    "portal.problem_reported": ("description",),
    "vendor.started": ("event_id", "vendor"),
    "vendor.completed": ("event_id", "vendor"),
    "vendor.abandoned": ("event_id", "vendor"),
    "interview.state_changed": ("from", "to"),
    "interview.scheduled": ("opens_at", "closes_at", "kind"),
    "candidate.updated": ("fields",),
    "candidate.created": ("fields",),
    "application.stage_changed": ("from", "to"),
    "notification.skipped": ("notification_id", "channel", "reason"),
    "evidence.exported": (),
    "pack_settings.changed": ("pack", "key", "value"),
}
# Keys shown as "label: value" under the sentence, in this order; body goes last, wrapped.
_LABELLED = ("subject", "step", "provider_ref", "error", "note", "reason")
RECEIPT_KINDS = frozenset(
    {
        "notification.delivered",
        "notification.opened",
        "notification.failed",
        "notification.bounced",
        "link.opened",
    }
)
FAILURE_KINDS = frozenset({"notification.failed", "notification.bounced"})


def text(value: Any) -> str:
    """Any JSON value as plain text: strings as they are, the rest as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def word(locale: str, key: Any) -> str:
    """A known code (channel, state, kind) in words; an unknown one as it is."""
    return _WORDS[locale].get(key, text(key)) if isinstance(key, str) else text(key)


def actor(locale: str, value: Any) -> str:
    raw = text(value)
    prefix, sep, rest = raw.partition(":")
    if sep and prefix in ("user", "client", "provider"):
        shown = word(locale, rest) if prefix == "provider" else rest
        return _WORDS[locale][prefix].format(x=shown)
    return _WORDS[locale].get(raw, raw)


def describe(
    locale: str, kind: str, data: dict, fmt_time
) -> tuple[str, list[tuple[str, str]], str | None]:
    """(sentence, [(label, value)], message body or None) for one event. `fmt_time` formats
    RFC 3339 strings found in the data (interview windows)."""
    labels = LABELS[locale]
    template = _SENTENCES[locale].get(kind)
    consumed = _CONSUMED.get(kind, ())
    values: dict[str, str] = {}
    for key in consumed:
        raw = data.get(key)
        if key in ("channel", "kind", "from", "to"):
            values[key] = word(locale, raw) if raw is not None else labels["none"]
        elif key in ("opens_at", "closes_at"):
            values[key] = fmt_time(raw)
        elif key == "vendor":
            values[key] = word(locale, "vendor") + (f" {text(raw)}" if raw else "")
        else:
            values[key] = text(raw)
    if template is None:
        template, values = _SENTENCES[locale]["unknown"], {"kind_name": kind or "?"}
        consumed = ()
    sentence = template.format(**values)
    details: list[tuple[str, str]] = []
    if "notification_id" in consumed and data.get("notification_id"):
        details.append((labels["notification_id"], text(data["notification_id"])))
    for key in _LABELLED:  # a null subject or error says nothing: leave it out
        if data.get(key) is not None and key not in consumed:
            details.append((labels[key], text(data[key])))
    shown = set(consumed) | set(_LABELLED) | {"body"}
    details += [
        (str(k), text(v))
        for k, v in sorted(data.items(), key=lambda kv: str(kv[0]))
        if k not in shown
    ]
    body = data.get("body")
    return sentence, details, (text(body) if body is not None else None)
