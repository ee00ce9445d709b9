"""The ground-truth JSON: the project's format for "what the document says, and where".

One file per document, ``truth/<stem>.json``::

    {"schema_version": "1.0", "document": "invoice-000001.pdf", "kind": "invoice",
     "layout": "classic_left", "scan": false, "date_order": "day-first",
     "fields": {"total_amount": {"value": "1.234,56 €", "normalized": "1234.56",
                                 "page": 1, "bbox": [x0, y0, x1, y1]}, ..., "due_date": null},
     "pages": [{"page": 1, "width": 595.28, "height": 841.89, "unit": "pt", "text": "..."}]}

``fields`` holds every field of the INVOICE schema; a field the document does
not show is null. ``value`` is the text as printed; ``normalized`` comes from
what the generator *meant* (the Decimal total, the date object), not from
parsing the printed text, so the truth can catch a wrong normaliser:
dates ISO 8601, amounts a plain decimal string with two decimals, currency an
ISO 4217 code, strings with white space collapsed. A value printed over
several lines (an address) is its lines as printed, joined with a space (as
SROIE labels are, and as a reader of the lines in order gets them: the
evaluator compares exactly, so both conventions must agree), and its box is
the union of the lines' boxes. Boxes are in page units with the origin top-left:
points for PDFs (born-digital or image-only), pixels for PNG/JPEG/TIFF.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional

from paperbeam.normalize import normalize_text
from paperbeam.records import SCHEMA_VERSION
from paperbeam.schema import INVOICE
from paperbeam.synth.content import Content

FIELD_NAMES = tuple(INVOICE.names)


def intended(c: Content, name: str, printed: str) -> Optional[str]:
    """The normalised value the generator meant for a field."""
    if name == "document_date":
        return c.issue_date.isoformat()
    if name == "due_date":
        return c.due_date.isoformat() if c.due_date else None
    if name == "total_amount":
        return f"{c.total:.2f}"
    if name == "tax_amount":
        return f"{c.tax:.2f}"
    if name == "currency":
        return c.profile.currency
    return normalize_text(printed)


def build(c: Content, *, document: str, layout: str, scan: bool, fields: Dict[str, dict],
          pages: List[dict], extra: Optional[dict] = None) -> dict:
    """The truth dict. ``fields``: name -> {value, page, bbox} as recorded while drawing (and moved by scanning)."""
    out_fields = {}
    for name in FIELD_NAMES:
        rec = fields.get(name)
        if rec is None:
            out_fields[name] = None
            continue
        out_fields[name] = {
            "value": rec["value"],
            "normalized": intended(c, name, rec["value"]),
            "page": rec["page"],
            "bbox": [round(float(v), 2) for v in rec["bbox"]],
        }
    truth = {
        "schema_version": SCHEMA_VERSION,
        "document": document,
        "kind": c.kind,
        "layout": layout,
        "scan": scan,
        "date_order": c.date_order,
        "fields": out_fields,
        "pages": pages,
    }
    if extra:
        truth.update(extra)
    return truth


def dumps(truth: dict) -> str:
    return json.dumps(truth, ensure_ascii=False, indent=2) + "\n"
