"""Fonts for synthetic documents: reportlab's standard families, plus TrueType
fonts found on this machine (DejaVu, Liberation) when present.

A missing TTF is never an error: the list simply holds fewer families. Note
that output is byte-identical only between machines with the same fonts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Tuple

FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts", "/usr/local/share/fonts")

# (family name, regular file, bold file, monospace?)
TTF_CANDIDATES = (
    ("DejaVuSans", "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", False),
    ("DejaVuSerif", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf", False),
    ("LiberationSans", "liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf", False),
    ("LiberationSerif", "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSerif-Bold.ttf", False),
    ("LiberationSansNarrow", "liberation/LiberationSansNarrow-Regular.ttf",
     "liberation/LiberationSansNarrow-Bold.ttf", False),
    ("DejaVuSansMono", "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSansMono-Bold.ttf", True),
    ("LiberationMono", "liberation/LiberationMono-Regular.ttf", "liberation/LiberationMono-Bold.ttf", True),
)


@dataclass(frozen=True)
class Family:
    name: str
    regular: str
    bold: str
    mono: bool
    ttf: bool

    def supports(self, text: str) -> bool:
        """True when every character of ``text`` has a glyph in this family."""
        if not self.ttf:
            if "€" in text:
                # PDF readers' built-in metrics for the standard 14 fonts (pdfminer's AFMs) give the
                # Euro no width, so a text layer would put every character after a "€" in the wrong
                # place. An embedded TrueType font carries its own widths.
                return False
            try:
                text.encode("cp1252")
                return True
            except UnicodeEncodeError:
                return False
        from reportlab.pdfbase import pdfmetrics

        cmap = pdfmetrics.getFont(self.regular).face.charToGlyph
        return all(ord(ch) in cmap for ch in text if ch not in "\n\t")


STANDARD = (
    Family("Helvetica", "Helvetica", "Helvetica-Bold", False, False),
    Family("Times", "Times-Roman", "Times-Bold", False, False),
    Family("Courier", "Courier", "Courier-Bold", True, False),
)


def _find(rel: str):
    for d in FONT_DIRS:
        path = os.path.join(d, rel)
        if os.path.exists(path):
            return path
    return None


@lru_cache(maxsize=1)
def families() -> Tuple[Family, ...]:
    """Every usable family, standard ones first; TTFs registered with reportlab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    found: List[Family] = list(STANDARD)
    for name, regular, bold, mono in TTF_CANDIDATES:
        reg_path, bold_path = _find(regular), _find(bold)
        if not reg_path:
            continue
        try:
            pdfmetrics.registerFont(TTFont(name, reg_path))
            bold_name = name
            if bold_path:
                pdfmetrics.registerFont(TTFont(name + "-Bold", bold_path))
                bold_name = name + "-Bold"
        except Exception:  # noqa: BLE001 - an unreadable font is skipped, not fatal
            continue
        found.append(Family(name, name, bold_name, mono, True))
    return tuple(found)


def pick(rng, text: str, mono: bool = False) -> Family:
    """A family (chosen with ``rng``) that can print ``text``; Courier or Helvetica as last resort."""
    pool = [f for f in families() if f.mono == mono] if mono else [f for f in families() if not f.mono]
    choice = rng.choice(pool)
    if choice.supports(text):
        return choice
    able = [f for f in pool if f.supports(text)]
    return rng.choice(able) if able else choice
