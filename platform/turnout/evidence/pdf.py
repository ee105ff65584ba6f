"""The evidence timeline as a PDF a lawyer can read: a title page saying what the record is and
how to check it, every message with its receipts and every candidate action per interview, and
an appendix of every event's hash. Words live in pdf_text.py; this file is layout.

Chinese must render on any machine, so the font is embedded: see pdf_fonts.py."""

from __future__ import annotations

import io
import re
import zoneinfo
from collections import Counter, defaultdict
from datetime import UTC, datetime, tzinfo
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from turnout.config import get_settings
from turnout.evidence import pdf_text as T
from turnout.evidence.pdf_fonts import FONT, MONO, CjkFontMissing, find_cjk_font, register_fonts
from turnout.kit.clock import clock
from turnout.kit.errors import invalid

_ROWS_PER_TABLE = 60  # reportlab re-wraps a table on every page split: small tables stay linear
_HASH_ROWS_PER_TABLE = 250
__all__ = ["CjkFontMissing", "find_cjk_font", "render_timeline_pdf"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _locale(locale: str) -> str:
    # Tenants store "zh-CN", "zh", "zh_CN"...; anything not Chinese gets English.
    return "zh-CN" if str(locale).lower().replace("_", "-").startswith("zh") else "en"


def _zone(bundle: dict, time_zone: str | None) -> tzinfo:
    if time_zone is not None:
        try:
            return zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
            raise invalid("time_zone", f"unknown time zone {time_zone!r}") from e
    tenant = bundle.get("tenant") if isinstance(bundle.get("tenant"), dict) else {}
    try:
        return zoneinfo.ZoneInfo(str(tenant.get("time_zone") or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class _Times:
    """Readable local times, each with its UTC offset (offsets change with summer time)."""

    def __init__(self, zone: tzinfo, locale: str) -> None:
        self.zone, self.locale = zone, locale

    def parts(self, value: Any) -> tuple[str, str] | None:
        dt = _parse(value)
        if dt is None:
            return None
        d = dt.astimezone(self.zone)
        off = d.strftime("%z") or "+0000"
        clock_part = f"{d:%H:%M:%S} UTC{off[:3]}:{off[3:]}"
        if self.locale == "zh-CN":
            return f"{d.year}年{d.month}月{d.day}日", clock_part
        return f"{d.day} {T.MONTHS_EN[d.month - 1]} {d.year}", clock_part

    def full(self, value: Any) -> str:
        p = self.parts(value)
        return " ".join(p) if p else T.text(value)


def _esc(value: Any) -> str:
    """Plain text as Paragraph markup: escaped, control characters dropped, newlines kept."""
    return escape(_CONTROL.sub("", T.text(value))).replace("\n", "<br/>")


def _events(bundle: Any) -> list[dict]:
    if not isinstance(bundle, dict):
        raise invalid("bundle", "must be an object")
    events = bundle.get("events") or []
    if not isinstance(events, list):
        raise invalid("bundle.events", "must be a list")
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise invalid(f"bundle.events[{i}]", "must be an object")
    return events


def _chunks(value: str, width: int) -> str:
    """Break a long token into lines: plain table cells do not wrap by themselves."""
    return "\n".join(value[i : i + width] for i in range(0, len(value), width)) or value


def _seq(e: dict) -> int:
    try:
        return int(e.get("seq"))
    except (TypeError, ValueError):
        return 0


def _data(e: dict) -> dict:
    d = e.get("data")
    return d if isinstance(d, dict) else ({} if d is None else {"data": d})


def _by_time(e: dict) -> tuple:
    at = _parse(e.get("occurred_at")) or datetime.min.replace(tzinfo=UTC)
    return (at, str(e.get("chain") or ""), _seq(e))


class _Styles:
    def __init__(self, locale: str) -> None:
        # CJK wrapping breaks between any two ideographs; Latin words still wrap at spaces.
        wrap = "CJK" if locale == "zh-CN" else None
        base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=11.5, wordWrap=wrap)
        self.body = base
        self.small = ParagraphStyle("small", base, fontSize=7.5, leading=10)
        self.grey = ParagraphStyle("grey", self.small, textColor=colors.HexColor("#555555"))
        self.message = ParagraphStyle(
            "message", self.small, leftIndent=6, borderPadding=0, textColor=colors.HexColor("#222")
        )
        self.title = ParagraphStyle("title", base, fontSize=17, leading=23, spaceAfter=4)
        self.h2 = ParagraphStyle(
            "h2", base, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4
        )
        self.h3 = ParagraphStyle("h3", base, fontSize=10, leading=14, spaceBefore=8, spaceAfter=2)
        self.header = ParagraphStyle("header", self.small, textColor=colors.white)


def _footer_canvas(left: str, page_label: str):
    """A canvas that writes "page N of M" once the page count is known."""

    class FooterCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            width, _ = self._pagesize
            self.saveState()
            self.setStrokeColor(colors.HexColor("#999999"))
            self.setLineWidth(0.4)
            self.line(18 * mm, 13 * mm, width - 18 * mm, 13 * mm)
            self.setFont(FONT, 7.5)
            self.setFillColor(colors.HexColor("#444444"))
            self.drawString(18 * mm, 9 * mm, left)
            label = page_label.format(page=self._pageNumber, pages=total)
            self.drawRightString(width - 18 * mm, 9 * mm, label)
            self.restoreState()

    return FooterCanvas


class _Renderer:
    def __init__(self, bundle: dict, locale: str, zone: tzinfo, tenant: str, candidate: str):
        self.bundle, self.locale, self.zone = bundle, locale, zone
        self.tenant_name, self.candidate_name = tenant, candidate
        self.L = T.LABELS[locale]
        self.s = _Styles(locale)
        self.times = _Times(zone, locale)
        self.events = _events(bundle)
        self.width = A4[0] - 36 * mm

    def p(self, markup: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(markup, style or self.s.body)

    # -- title page -----------------------------------------------------------------------

    def title_page(self) -> list:
        L, b = self.L, self.bundle
        tenant = b.get("tenant") if isinstance(b.get("tenant"), dict) else {}
        checkpoint = b.get("checkpoint") if isinstance(b.get("checkpoint"), dict) else {}
        chained = sorted(self.events, key=lambda e: (str(e.get("chain") or ""), _seq(e)))
        first = chained[0].get("hash") if chained else None
        last = chained[-1].get("hash") if chained else None
        exported = b.get("exported_at") or clock.now().isoformat()
        zone_name = getattr(self.zone, "key", None) or "UTC"
        rows = [
            (L["employer"], _esc(self.tenant_name or tenant.get("name") or tenant.get("slug"))),
            (L["candidate"], _esc(self.candidate_name)),
            (L["candidate_id"], _esc(b.get("candidate_id"))),
            (L["exported_at"], _esc(self.times.full(exported))),
            (L["sealed_at"], _esc(self.times.full(checkpoint.get("sealed_at")))),
            (L["key_id"], _esc(checkpoint.get("key_id") or tenant.get("key_id"))),
            (L["event_count"], str(len(self.events))),
            (L["first_hash"], f'<font name="{MONO}">{_esc(first)}</font>'),
            (L["last_hash"], f'<font name="{MONO}">{_esc(last)}</font>'),
            (L["time_zone"], _esc(L["time_zone_value"].format(zone=zone_name))),
        ]
        table = Table(
            [[self.p(k, self.s.grey), self.p(v)] for k, v in rows],
            colWidths=[40 * mm, self.width - 40 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), FONT, 8.5),  # else cells set Helvetica
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        base = get_settings().public_url.rstrip("/")
        url = (
            tenant.get("public_key_url")
            or b.get("public_key_url")
            or f"{base}/evidence/{tenant.get('slug', '')}/public-key"
        )
        command = f'<font name="{MONO}">turnout evidence verify FILE --public-key KEY.pem</font>'
        verify = L["verify"].format(command=command, url=f'<font name="{MONO}">{_esc(url)}</font>')
        return [
            self.p(_esc(L["title"]), self.s.title),
            self.p(_esc(L["subtitle"]), self.s.grey),
            Spacer(1, 6 * mm),
            table,
            self.p(_esc(L["summary"]), self.s.h2),
            self.p(_esc(L["summary_line"].format(**self.summary()))),
            self.p(_esc(L["verify_heading"]), self.s.h2),
            self.p(verify),
            PageBreak(),
        ]

    def summary(self) -> dict[str, int]:
        kinds = Counter(str(e.get("kind")) for e in self.events)
        return {
            "sent": kinds["notification.sent"],
            "delivered": kinds["notification.delivered"],
            "opened": kinds["notification.opened"] + kinds["link.opened"],
            "failed": sum(kinds[k] for k in T.FAILURE_KINDS),
            "actions": sum(1 for e in self.events if e.get("actor") == "candidate"),
        }

    # -- timeline -------------------------------------------------------------------------

    def groups(self) -> list[tuple[str | None, list[tuple[dict, list[dict]]]]]:
        """Events per interview, in time order, each message followed by its receipts."""
        ordered = sorted(self.events, key=_by_time)
        sent = {
            _data(e).get("notification_id"): e
            for e in ordered
            if e.get("kind") == "notification.sent" and _data(e).get("notification_id")
        }
        receipts: dict[Any, list[dict]] = defaultdict(list)
        by_interview: dict[str | None, list[dict]] = {}
        for e in ordered:
            nid = _data(e).get("notification_id")
            if e.get("kind") in T.RECEIPT_KINDS and isinstance(nid, str) and nid in sent:
                receipts[nid].append(e)
                continue
            key = e.get("interview_id")
            by_interview.setdefault(None if key is None else str(key), []).append(e)
        # dicts keep insertion order: groups appear in the order of their first event
        return [
            (
                key,
                [
                    (
                        e,
                        receipts.get(_data(e).get("notification_id"), [])
                        if e.get("kind") == "notification.sent"
                        else [],
                    )
                    for e in evs
                ],
            )
            for key, evs in by_interview.items()
        ]

    def time_cell(self, e: dict) -> list:
        parts = self.times.parts(e.get("occurred_at"))
        cell = [
            self.p(
                "<br/>".join(_esc(x) for x in parts) if parts else _esc(e.get("occurred_at")),
                self.s.small,
            )
        ]
        occurred, recorded = _parse(e.get("occurred_at")), _parse(e.get("recorded_at"))
        if occurred and recorded and abs((recorded - occurred).total_seconds()) >= 60:
            # entered late (e.g. a delayed provider receipt): say so, the lawyer will ask
            lines = [self.L["recorded"], *self.times.parts(e.get("recorded_at"))]
            cell.append(self.p("<br/>".join(_esc(x) for x in lines), self.s.grey))
        return cell

    def what_cell(self, e: dict, receipt: bool) -> list:
        sentence, details, body = T.describe(
            self.locale, str(e.get("kind") or ""), _data(e), self.times.full
        )
        lead = "↳ " if receipt else ""
        cell = [self.p(lead + _esc(sentence))]
        if details:
            colon = self.L["colon"]
            lines = "<br/>".join(f"{_esc(k)}{colon}{_esc(v)}" for k, v in details)
            cell.append(self.p(lines, self.s.grey))
        if body is not None:
            cell.append(self.p(_esc(self.L["body"] + self.L["colon"]), self.s.grey))
            # one paragraph per line so a very long message can split across pages
            cell += [self.p(_esc(line) or "&nbsp;", self.s.message) for line in body.split("\n")]
        return cell

    def timeline(self) -> list:
        L = self.L
        story: list = [self.p(_esc(L["timeline"]), self.s.h2)]
        if not self.events:
            return [*story, self.p(_esc(L["no_events"]))]
        head = [self.p(_esc(L[k]), self.s.header) for k in ("col_time", "col_actor", "col_what")]
        widths = [30 * mm, 33 * mm, self.width - 63 * mm]
        for interview_id, items in self.groups():
            # never leave a group's heading alone at the foot of a page
            story.append(CondPageBreak(40 * mm))
            story.append(self.p(_esc(self.group_title(interview_id, items)), self.s.h3))
            window = self.group_window(items)
            if window:
                story.append(self.p(_esc(window), self.s.grey))
            rows: list[list] = []
            receipt_rows: list[int] = []
            for e, receipts in items:
                rows.append(self.row(e, receipt=False))
                for r in receipts:
                    receipt_rows.append(len(rows))
                    rows.append(self.row(r, receipt=True))
                if len(rows) >= _ROWS_PER_TABLE:
                    story.append(self.table(head, rows, widths, receipt_rows))
                    rows, receipt_rows = [], []
            if rows:
                story.append(self.table(head, rows, widths, receipt_rows))
        return story

    def row(self, e: dict, receipt: bool) -> list:
        return [
            self.time_cell(e),
            self.p(_esc(T.actor(self.locale, e.get("actor"))), self.s.small),
            self.what_cell(e, receipt),
        ]

    def table(self, head: list, rows: list, widths: list, receipt_rows: list[int]) -> Table:
        style = [
            ("FONT", (0, 0), (-1, -1), FONT, 8.5),  # else cells set Helvetica
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#3b4a5a")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 1), (-1, -1), 0.3, colors.HexColor("#d0d0d0")),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        for i in receipt_rows:  # receipts: shaded and indented under their message
            style += [
                ("BACKGROUND", (0, i + 1), (-1, i + 1), colors.HexColor("#f2f4f7")),
                ("LEFTPADDING", (2, i + 1), (2, i + 1), 14),
            ]
        table = Table([head, *rows], colWidths=widths, repeatRows=1, splitInRow=1)
        table.setStyle(TableStyle(style))
        return table

    def group_title(self, interview_id: str | None, items: list) -> str:
        if interview_id is None:
            return self.L["no_interview"]
        return self.L["interview"].format(id=interview_id)

    def group_window(self, items: list) -> str | None:
        scheduled = [e for e, _ in items if e.get("kind") == "interview.scheduled"]
        if not scheduled:
            return None
        d = _data(scheduled[-1])
        return self.L["interview_window"].format(
            kind=T.word(self.locale, d.get("kind")),
            opens=self.times.full(d.get("opens_at")),
            closes=self.times.full(d.get("closes_at")),
        )

    # -- appendix -------------------------------------------------------------------------

    def appendix(self) -> list:
        L = self.L
        story: list = [
            PageBreak(),
            self.p(_esc(L["appendix"]), self.s.h2),
            self.p(_esc(L["appendix_note"]), self.s.grey),
            Spacer(1, 3 * mm),
        ]
        chains: dict[str, list[dict]] = defaultdict(list)
        for e in self.events:
            chains[str(e.get("chain") or "")].append(e)
        # widths from the font's own metrics: full hashes must fit on one line
        size, pad = 6.5, 3
        char = pdfmetrics.stringWidth("0", MONO, size)
        digits = min(12, max([3, *(len(str(e.get("seq", ""))) for e in self.events)]))
        seq_w = char * digits + 2 * pad
        hash_w = char * 64 + 2 * pad
        kind_w = self.width - seq_w - hash_w
        per_line = max(8, int((kind_w - 2 * pad) / char))
        head = [L["col_seq"], L["col_kind"], L["col_hash"]]
        for chain in sorted(chains):
            story.append(self.p(_esc(L["chain"].format(chain=chain)), self.s.h3))
            rows = [
                [
                    _chunks(str(e.get("seq", "")), digits),
                    _chunks(T.text(e.get("kind")), per_line),
                    _chunks(T.text(e.get("hash")), 64),
                ]
                for e in sorted(chains[chain], key=_seq)
            ]
            for start in range(0, len(rows), _HASH_ROWS_PER_TABLE):
                table = Table(
                    [head, *rows[start : start + _HASH_ROWS_PER_TABLE]],
                    colWidths=[seq_w, kind_w, hash_w],
                    repeatRows=1,
                )
                table.setStyle(
                    TableStyle(
                        [
                            ("FONT", (0, 0), (-1, -1), MONO, size, size + 1.8),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e7eb")),
                            (
                                "ROWBACKGROUNDS",
                                (0, 1),
                                (-1, -1),
                                [colors.white, colors.HexColor("#f6f7f9")],
                            ),
                            ("LEFTPADDING", (0, 0), (-1, -1), pad),
                            ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                            ("TOPPADDING", (0, 0), (-1, -1), 1),
                            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                        ]
                    )
                )
                story.append(table)
        return story

    def render(self) -> bytes:
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=16 * mm,
            bottomMargin=18 * mm,
            title=self.L["title"],
            author=self.tenant_name,
            subject=f"{self.candidate_name} ({self.bundle.get('candidate_id', '')})",
            creator="Turnout",
            lang=self.locale,
            initialFontName=FONT,  # the default, Helvetica, is a font the PDF would not embed
        )
        footer = self.L["footer"].format(tenant=self.tenant_name, candidate=self.candidate_name)
        story = self.title_page() + self.timeline()
        if self.events:
            story += self.appendix()
        footer = _CONTROL.sub("", footer.replace("\n", " "))
        if len(footer) > 90:  # keep clear of the page number on the right
            footer = footer[:89] + "…"
        doc.build(story, canvasmaker=_footer_canvas(footer, self.L["page"]))
        return buf.getvalue()


def render_timeline_pdf(
    bundle: dict,
    locale: str,
    tenant_name: str,
    candidate_name: str,
    *,
    time_zone: str | None = None,
) -> bytes:
    """The evidence bundle as a PDF in the tenant's locale ("en" or "zh-CN"; other Chinese
    tags read as zh-CN, anything else as English). Times are shown in `time_zone`, else the
    bundle's tenant.time_zone, else UTC. Raises InvalidInput for a malformed bundle or time zone
    and CjkFontMissing when no CJK font is installed."""
    register_fonts()
    loc = _locale(locale)
    zone = _zone(bundle if isinstance(bundle, dict) else {}, time_zone)
    return _Renderer(bundle, loc, zone, str(tenant_name or ""), str(candidate_name or "")).render()
