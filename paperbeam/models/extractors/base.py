"""The field-extractor interface.

An extractor reads a whole ``Document`` (all pages, words with boxes) and
returns the fields it found. The rule-based extractor and the transformer
extractor both implement it, so the pipeline does not care which one runs.
Extractors are created on the worker (in a DoFn's ``setup``) by name through
the plugin registry; ``setup()`` is where a model is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from paperbeam.records import BBox, Document, Field, Word, group_lines
from paperbeam.schema import Schema


class FieldExtractor:
    name = "base"
    version = "0"

    def __init__(self, schema: Schema, date_order: str = "day-first", **options):
        self.schema = schema
        self.date_order = date_order
        self.options = options

    def setup(self) -> None:
        """Load what the extractor needs; called once per worker."""

    def extract(self, document: Document) -> Dict[str, Field]:
        raise NotImplementedError


@dataclass
class Line:
    """A line of words on a page: the unit most rules look at."""

    page: int
    words: List[Word]
    page_width: float
    page_height: float

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def bbox(self) -> BBox:
        return union_box(self.words)

    @property
    def height(self) -> float:
        """The median word height, a proxy for font size."""
        hs = sorted(w.bbox[3] - w.bbox[1] for w in self.words)
        return hs[len(hs) // 2] / max(self.page_height, 1.0)

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=0.0)

    @property
    def top(self) -> float:
        """Vertical position as a share of the page height (0 top, 1 bottom)."""
        return self.bbox[1] / max(self.page_height, 1.0)


def union_box(words: List[Word]) -> Optional[BBox]:
    if not words:
        return None
    return (
        min(w.bbox[0] for w in words),
        min(w.bbox[1] for w in words),
        max(w.bbox[2] for w in words),
        max(w.bbox[3] for w in words),
    )


def document_lines(document: Document) -> List[Line]:
    """Every line of every page, in reading order."""
    lines: List[Line] = []
    for page in document.pages:
        for words in group_lines(page.words):
            lines.append(Line(page.page_number, words, page.width, page.height))
    return lines


def is_party_name(field_name: str) -> bool:
    """vendor_name, customer_name, ...: fields that hold a company's or person's name."""
    return field_name.endswith("_name")


def name_without_registration(value: str, words: List[Word]):
    """(value, words) of a party's name with a trailing registration number dropped (see ``strip_registration``).

    The words keep only those inside the name, so the field's box frames the name alone.
    """
    from paperbeam.normalize import strip_registration

    name = strip_registration(value)
    if name == value or not words:
        return name, words
    kept, pos = [], 0
    for w in words:
        if pos < len(name):
            kept.append(w)
        pos += len(w.text) + 1
    return name, kept or words


_CURRENCY_AROUND = re.compile(r"^(?:[A-Z]{3}|RM|Rp|S\$|US\$|[$€£¥₹])\s?|\s?(?:[A-Z]{3}|€|£|\$)$")


def strip_currency(value: str) -> str:
    """An amount without the currency printed before or after it ("RM 60.30", "12,00 €")."""
    return _CURRENCY_AROUND.sub("", value.strip())


def finish_value(spec, value: str, words: List[Word], date_order: str) -> Tuple[str, Optional[str], List[Word]]:
    """``(value, normalized, words)`` of a field an extractor found, the same for every extractor.

    The value is what was read, less what is not part of it (the currency before an amount, the
    registration number after a name; the words then frame only the rest); ``normalized`` is the
    form it is compared and stored in: an ISO date, a decimal, an ISO currency code, text with
    white space collapsed.
    ``normalized`` is None for a date or amount that does not parse. Raises ArithmeticError,
    ValueError or OverflowError for digits no amount can be (an OCR run of forty digits).
    """
    from paperbeam.normalize import currency_code, normalize_value

    if spec.type == "money":
        value = strip_currency(value)
    if is_party_name(spec.name):
        value, words = name_without_registration(value, words)
    if spec.name == "currency":
        return value, currency_code(value) or value, words
    return value, normalize_value(spec.type, value, date_order), words
