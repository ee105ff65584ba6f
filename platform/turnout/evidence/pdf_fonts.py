"""The CJK font the evidence PDF embeds, found in one place.

Chinese must render on any machine, so the font is embedded: reportlab subsets TrueType fonts
into FontFile2 streams. reportlab cannot read CFF-outline fonts (every Noto/Source Han CJK file,
including the ones on PyPI), so we use WenQuanYi Micro Hei (Apache-2.0), a TrueType CJK font
with a monospaced face, which the PyPI package paperang-p2-fonts-cjk ships (a dependency of
turnout) and Debian packages as fonts-wqy-microhei."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "TurnoutCJK"
MONO = "TurnoutCJKMono"

# Debian/Ubuntu packages with a TrueType CJK font, tried when the PyPI font is not installed:
# (path, index of the proportional face, index of a monospaced face or None).
_SYSTEM_FONTS = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, 1),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, 1),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0, None),  # fonts-droid-fallback
)


class CjkFontMissing(RuntimeError):
    """No TrueType font with Chinese glyphs could be found."""


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int  # face in a .ttc collection
    mono_index: int | None


def find_cjk_font() -> CjkFont:
    """The one place that decides which CJK font the PDF embeds."""
    candidates: list[tuple[Path, int, int | None]] = []
    try:
        import paperang_p2_fonts_cjk

        base = Path(paperang_p2_fonts_cjk.__file__).parent
        candidates.append((base / "fonts" / "wqy-microhei.ttc", 0, 1))
    except ImportError:
        pass
    candidates += [(Path(p), i, m) for p, i, m in _SYSTEM_FONTS]
    for path, index, mono in candidates:
        if path.is_file():
            return CjkFont(path, index, mono)
    raise CjkFontMissing(
        "no TrueType CJK font found for the evidence PDF: install the Python package "
        "paperang-p2-fonts-cjk (a dependency of turnout: `pip install -e .`) or Debian's "
        "fonts-wqy-microhei; looked in: " + ", ".join(str(c[0]) for c in candidates)
    )


@cache
def register_fonts() -> CjkFont:
    font = find_cjk_font()
    try:
        pdfmetrics.registerFont(TTFont(FONT, str(font.path), subfontIndex=font.index))
        mono = font.mono_index if font.mono_index is not None else font.index
        pdfmetrics.registerFont(TTFont(MONO, str(font.path), subfontIndex=mono))
    except Exception as e:  # reportlab's TTFError and struct errors alike
        raise CjkFontMissing(f"cannot use {font.path} as the evidence PDF font: {e}") from e
    # No bold face: map <b> to the same font so markup never fails.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT, italic=FONT, boldItalic=FONT)
    return font
