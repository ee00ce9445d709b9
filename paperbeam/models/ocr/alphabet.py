"""Which characters a page in the requested languages can hold.

Why: RapidOCR's recogniser (PP-OCR "ch") knows 18,000 characters, Chinese
and Japanese ones among them, because it was trained for Chinese and English
together. On a faint English receipt it sometimes prefers "à" to "a", "。"
to "." or a CJK character to a smudge, and then the whole word is wrong. The
user already tells us the languages (``--lang``, tesseract's codes); when
they are all written in the Latin script, the recogniser's choice is limited
to characters those languages use: its next-best reading of that position
wins instead.

``allowed_characters`` returns None (no limit) for any language outside the
table, so Chinese, Japanese, Arabic... read exactly as RapidOCR reads them.
"""

from __future__ import annotations

import string
from typing import FrozenSet, Optional

# Symbols business documents print whatever their language: currency, units, bullets, typographic quotes.
SYMBOLS = frozenset("€£¥¢₹₩₽₺₫₱฿°§©®™±×÷µ½¼¾·•–—‘’‚“”„…‰†№")
ASCII = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")
# Letters of the Latin-script languages tesseract names (Latin-1 Supplement and Latin Extended-A).
LATIN_LETTERS = frozenset(chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha())
ENGLISH = frozenset({"eng"})
LATIN = frozenset({
    "afr", "cat", "ces", "cym", "dan", "deu", "est", "eus", "fin", "fra", "gle", "glg", "hrv", "hun", "ind", "isl",
    "ita", "lat", "lav", "lit", "mlt", "msa", "nld", "nor", "pol", "por", "ron", "slk", "slv", "spa", "sqi", "swa",
    "swe", "tgl", "tur", "vie", "enm", "frm", "ita_old", "spa_old", "deu_latf",
})


def allowed_characters(lang: str) -> Optional[FrozenSet[str]]:
    """The characters pages in ``lang`` ("eng", "eng+deu", ...) can hold, or None when any may appear."""
    codes = {c for c in (lang or "").split("+") if c}
    if not codes or not codes <= (ENGLISH | LATIN):
        return None
    chars = ASCII | SYMBOLS
    if codes - ENGLISH:
        chars |= LATIN_LETTERS
    return frozenset(chars)
