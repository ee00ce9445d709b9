"""The rule-based extractor's reading of a document, as one input id per word.

Why: the rules know things a small tagger trained on a few hundred receipts
learns slowly or not at all: that the amount after "CHANGE" is not the
total, that a rounded total follows "ROUNDING", which line of a letterhead
is the company. The tagger knows what the rules cannot: where a name really
ends, which of two totals the labels mean, the layouts no rule was written
for. So the model is given the rules' answer as one more embedding per word
(like its box): word ``k`` gets id ``1 + j`` when the rules put it in field
``j`` of ``ModelSpec.hints``, 0 otherwise. Training then teaches it when the
rules are right and how to do better when they are not, so it starts from
the rules' figures instead of below them.

The rules run on the same document the words came from, over the invoice
schema (``rule_readings``); a word belongs to a field when its centre lies
inside the box of the rules' field on its page.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from paperbeam.records import Document, Field
from paperbeam.schema import INVOICE

SLACK = 0.5  # pixels (page units) the centre may lie outside a field's box: boxes are unions of the same words


def rule_readings(document: Document, date_order: str = "day-first") -> Dict[str, Field]:
    """The rule-based extractor's fields for ``document``, over the invoice schema the hints are made from."""
    from paperbeam.models.extractors.rules import RuleExtractor

    return RuleExtractor(INVOICE, date_order).extract(document)


def rule_hints(found: Dict[str, Field], words: Sequence, fields: Sequence[str]) -> List[int]:
    """Per word of ``words`` (``features.DocWord``, in the model's order), the hint id (see the module docstring).

    ``found``: the rules' fields (``rule_readings``), computed once per document and shared with
    whoever else needs them (``auto`` combines the same fields with the model's).
    """
    hints = [0] * len(words)
    for j, name in enumerate(fields):
        f = found.get(name)
        if f is None or f.bbox is None:
            continue
        x0, y0, x1, y1 = f.bbox
        for k, w in enumerate(words):
            if hints[k] or w.page != f.page:
                continue
            bx0, by0, bx1, by1 = w.word.bbox
            cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
            if x0 - SLACK <= cx <= x1 + SLACK and y0 - SLACK <= cy <= y1 + SLACK:
                hints[k] = 1 + j
    return hints
