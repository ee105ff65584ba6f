"""The lawyer-readable evidence PDF: words in both locales, receipts under their message, every
hash listed, the CJK font embedded, odd bundles rendered rather than refused, big ones too."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from tests.evidence.pdf_bundles import T0, BundleBuilder, big_bundle, sample_bundle
from turnout.config import get_settings
from turnout.evidence.pdf import find_cjk_font, render_timeline_pdf
from turnout.kit.errors import InvalidInput


def _pages(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    # the layout wraps lines anywhere (CJK wraps between characters): compare without spaces
    return re.sub(r"\s+", "", text)


def _text(pdf: bytes) -> str:
    return _flat("\n".join(_pages(pdf)))


ZH_SENTENCES = [
    "证据记录：消息、回执与候选人操作",
    "候选人资料已更新（字段：phone,email）。",
    "已安排AI面试：时间窗口2026年12月2日09:00:00UTC+08:00至2026年12月5日09:00:00UTC+08:00。",
    "已通过短信向138****5678发送提醒。",
    "已通过电子邮件向l***@example.com发送提醒。",
    "已通过语音电话向138****5678发送升级提醒。",
    "已送达（短信）。",
    "收件人已打开（电子邮件）。",
    "发送失败（语音电话）。",
    "错误：noanswer",
    "候选人打开了短信消息中的链接。",
    "候选人访问了面试页面。",
    "候选人确认将参加面试。",
    "候选人报告了技术问题：摄像头无法打开",
    "候选人请求更改面试时间。",
    "面试服务商HireVue报告候选人已开始面试（服务商事件v-1）。",
    "面试服务商HireVue报告候选人中途放弃了面试（服务商事件v-2）。",
    "面试状态由“已安排”变为“缺席”。",
    "行业包设置已更改：hospital/reminder_hours=24。",
    "类型为custom.thing的事件。",
    "您好，请在12月2日前完成AI面试。",
    "如何核验本记录",
    "turnoutevidenceverify",
    "附录：事件哈希值",
    "2026年11月30日09:10:00UTC+08:00",  # 01:10Z in the tenant's Asia/Shanghai
    "用户hr@acme.example",
    "服务商（短信）",
]

EN_SENTENCES = [
    "Evidence record: messages, receipts and candidate actions",
    "Reminder sent by SMS to 138****5678.",
    "Escalation sent by voice call to 138****5678.",
    "Delivered (email).",
    "Opened by the recipient (email).",
    "Delivery failed (voice call).",
    "The candidate opened the link in the SMS message.",
    "The candidate confirmed they will attend.",
    "The candidate reported a technical problem: 摄像头无法打开",
    "Interview status changed from scheduled to no-show.",
    "Reason: window closed",
    "Pack setting changed: hospital / reminder_hours = 24.",
    "Event of kind custom.thing.",
    "30 Nov 2026 09:10:00 UTC+08:00",
    "Subject: Your interview",
    "Provider (SMS)",
    "Integrator hris",
]


def test_chinese_pdf_has_the_sentences_and_every_hash():
    bundle = sample_bundle()
    text = _text(render_timeline_pdf(bundle, "zh-CN", "Acme 医院", "李雷"))
    for sentence in ZH_SENTENCES:
        assert _flat(sentence) in text, sentence
    assert "Acme医院" in text and "李雷" in text and bundle["candidate_id"] in text
    for event in bundle["events"]:
        assert event["hash"] in text, event["seq"]
    assert "Reminder sent" not in text  # translated, not English with a Chinese title


def test_english_pdf_has_the_sentences_and_every_hash():
    bundle = sample_bundle()
    text = _text(render_timeline_pdf(bundle, "en", "Acme", "Li Lei"))
    for sentence in EN_SENTENCES:
        assert _flat(sentence) in text, sentence
    for event in bundle["events"]:
        assert event["hash"] in text, event["seq"]
    assert "已通过短信" not in text


def test_title_page_names_the_checkpoint_counts_and_how_to_verify():
    bundle = sample_bundle()
    first = _flat(_pages(render_timeline_pdf(bundle, "en", "Acme", "Li Lei"))[0])
    assert _flat("Number of events 19") in first
    assert _flat(f"First event hash {bundle['events'][0]['hash']}") in first
    assert _flat(f"Last event hash {bundle['events'][-1]['hash']}") in first
    assert _flat("Checkpoint sealed at 5 Dec 2026 09:00:00 UTC+08:00") in first
    assert _flat("Signing key ID k-2026-1") in first
    assert _flat("Asia/Shanghai") in first
    assert "turnoutevidenceverify" in first
    assert f"{get_settings().public_url.rstrip('/')}/evidence/acme/public-key" in first
    assert _flat("3 messages sent, 2 delivery receipts, 2 opened, 1 failed") in first

    bundle["tenant"]["public_key_url"] = "https://keys.acme.example/evidence.pem"
    first = _flat(_pages(render_timeline_pdf(bundle, "en", "Acme", "Li Lei"))[0])
    assert "https://keys.acme.example/evidence.pem" in first


def test_receipts_are_listed_under_their_message_in_time_order():
    text = _text(render_timeline_pdf(sample_bundle(), "en", "Acme", "Li Lei"))
    at = lambda s: text.index(_flat(s))  # noqa: E731
    # the SMS receipt (12 min) comes before the email sent at 11 min: it belongs to the SMS
    assert at("Reminder sent by SMS") < at("Delivered (SMS).") < at("Reminder sent by email")
    assert at("opened the link in the SMS message") < at("Reminder sent by email")
    # the email's receipts (40, 41 min) precede the portal visit (30 min), in their own order
    assert at("Reminder sent by email") < at("Delivered (email).") < at("Opened by the recipient")
    assert at("Opened by the recipient") < at("The candidate visited the interview page.")
    # a receipt entered late says when it was recorded
    assert _flat("recorded at 30 Nov 2026 09:45:00 UTC+08:00") in text


def _font_dicts(pdf: bytes):
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for part in font.get("/DescendantFonts", [font]):
                yield part.get_object()


def test_every_font_is_an_embedded_truetype_subset():
    pdf = render_timeline_pdf(sample_bundle(), "zh-CN", "Acme", "李雷")
    fonts = list(_font_dicts(pdf))
    assert fonts
    for font in fonts:
        name = str(font["/BaseFont"])
        assert re.match(r"^/[A-Z]{6}\+", name), f"{name} is not an embedded subset"
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, f"{name} has no embedded TrueType program"
        program = descriptor["/FontFile2"].get_object().get_data()
        assert b"glyf" in program[:512], f"{name}'s program has no glyph outlines"
    assert any("WenQuanYi" in str(f["/BaseFont"]) for f in fonts)


def test_the_font_found_is_a_truetype_cjk_font():
    font = find_cjk_font()
    assert font.path.is_file()
    magic = font.path.read_bytes()[:4]
    assert magic in (b"ttcf", b"\x00\x01\x00\x00"), "reportlab needs TrueType outlines"


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("zh", "证据记录"),
        ("zh_CN", "证据记录"),
        ("zh-Hans-CN", "证据记录"),
        ("en-GB", "Evidencerecord"),
        ("fr", "Evidencerecord"),
    ],
)
def test_locale_tags_map_to_the_two_languages(locale, title):
    first = _flat(_pages(render_timeline_pdf(sample_bundle(), locale, "Acme", "Li"))[0])
    assert first.startswith(title)


def test_times_carry_the_offset_in_force_on_that_day():
    b = BundleBuilder("Europe/Berlin")
    b.add("portal.visited", {}, actor="candidate", at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC))
    b.add("portal.visited", {}, actor="candidate", at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    text = _text(render_timeline_pdf(b.bundle(), "en", "Acme", "Li"))
    assert _flat("1 Jul 2026 12:00:00 UTC+02:00") in text
    assert _flat("1 Dec 2026 11:00:00 UTC+01:00") in text
    # an explicit zone wins over the bundle's
    text = _text(render_timeline_pdf(b.bundle(), "en", "Acme", "Li", time_zone="UTC"))
    assert _flat("1 Jul 2026 10:00:00 UTC+00:00") in text


def test_odd_events_render_as_what_they_are():
    b = BundleBuilder("UTC")
    b.add("portal.visited", {}, actor="candidate", at=T0)
    odd = [
        {
            "kind": "custom.thing",
            "data": {"foo": 1, "bar": ["x", "y"]},
            "seq": "abc",
            "occurred_at": "yesterday",
            "actor": None,
            "hash": "h" * 64,
            "extra": {"z": 1},
        },
        {"data": "not an object", "chain": "c", "id": 5},
        {
            "kind": "notification.opened",
            "data": {"notification_id": "gone", "channel": "fax"},
            "occurred_at": "2026-11-30T02:00:00+00:00",
            "actor": "provider:fax",
        },
        {
            "kind": "notification.sent",
            "data": {"channel": None, "body": "a\x00b <script>&"},
            "occurred_at": "2026-11-30T03:00:00Z",
        },
    ]
    bundle = b.bundle()
    bundle["events"] += odd
    bundle["checkpoint"] = None
    text = _text(render_timeline_pdf(bundle, "en", "Acme", "Li"))
    assert _flat("Event of kind custom.thing.") in text
    assert "foo:1" in text and "bar:x,y" in text and "yesterday" in text
    assert "data:notanobject" in text
    # a receipt whose message is not in the bundle is still shown, channel as given
    assert _flat("Opened by the recipient (fax).") in text and _flat("Provider (fax)") in text
    assert "ab<script>&" in text
    assert "h" * 64 in text


def test_a_bundle_without_events_renders():
    text = _text(render_timeline_pdf({"events": []}, "zh-CN", "Acme", "李雷"))
    assert "此证据包不含任何事件。" in text


@pytest.mark.parametrize(
    ("bundle", "field"),
    [
        ("not a bundle", "bundle"),
        ({"events": {"a": 1}}, "bundle.events"),
        ({"events": [{"kind": "portal.visited"}, "oops"]}, "bundle.events[1]"),
    ],
)
def test_a_malformed_bundle_is_refused_by_field(bundle, field):
    with pytest.raises(InvalidInput) as err:
        render_timeline_pdf(bundle, "en", "Acme", "Li")
    assert err.value.field == field


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(InvalidInput) as err:
        render_timeline_pdf(sample_bundle(), "en", "Acme", "Li", time_zone="Mars/Olympus_Mons")
    assert err.value.field == "time_zone"


def test_a_message_longer_than_a_page_wraps_across_pages():
    b = BundleBuilder()
    body = (
        "开始"
        + "这是一段很长的消息内容，用来测试换行。" * 300
        + "\n"
        + "\n".join(f"line {i} of the letter" for i in range(200))
    )
    b.add(
        "notification.sent",
        {
            "notification_id": "n1",
            "channel": "email",
            "address_masked": "a***@x",
            "kind": "reminder",
            "body": body + "\nLAST-LINE",
        },
        at=T0,
    )
    b.add(
        "notification.delivered",
        {"notification_id": "n1", "channel": "email"},
        actor="provider:email",
        at=T0 + timedelta(minutes=1),
    )
    pages = _pages(render_timeline_pdf(b.bundle(), "zh-CN", "Acme", "李雷"))
    assert len(pages) > 5
    text = _flat("\n".join(pages))
    assert "开始这是一段很长的消息内容" in text and "line199ofthe" in text
    assert text.index("LAST-LINE") < text.index("已送达（电子邮件）。")


def test_two_thousand_events_render_with_every_hash_in_the_appendix():
    bundle = big_bundle(2000)
    pdf = render_timeline_pdf(bundle, "zh-CN", "Acme", "李雷")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 60
    # the appendix is the run of pages at the end: read back until its heading
    appendix = []
    for page in reversed(reader.pages):
        appendix.append(page.extract_text())
        if "附录：事件哈希值" in appendix[-1]:
            break
    text = _flat("\n".join(appendix))
    assert len(appendix) < len(reader.pages)
    missing = [e["seq"] for e in bundle["events"] if e["hash"] not in text]
    assert missing == []
