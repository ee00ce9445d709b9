"""The layout model and the rules together (name ``auto``): per field, the one more often right.

Neither extractor is better on every field. The rules read down an
invoice's columns and know which date a label names; the model (which since
version 4 sees the rules' answer as an input) picks better between the
amounts and finds what the rules miss. Measured on held-out SROIE receipts
and synthetic invoices (MODEL_CARD.md), so for each field:

* dates, and the vendor's name and address (``RULES_FIRST_FIELDS``): the
  rules' value when their confidence is at least ``rule_min_confidence``
  (default 0.45), else the model's. Since the rules learnt to drop
  registration numbers, join two-line names and read down an invoice's
  columns, they name the vendor and its address more often right than the
  model on the synthetic invoices (addresses: 0.82-0.94 against 0.52-0.67
  for version 4). On held-out SROIE receipts version 4 leads on both
  (vendor 0.800 against 0.760, address 0.544 against 0.512), which auto
  gives up: over held-out SROIE and the fresh synthetic seeds 59 and 71
  together, the model alone named the vendor right 13 times where the
  rules did not, and the rules 12 times where the model did not;
* fields that only a label makes (``LABEL_BOUND``: the due date and the
  document number): only when the rules found the label's value; then, as
  for other text, the surer of the two;
* amounts and other text: when both answered, the one with the
  higher confidence (the model on a tie; the model's is the mean probability
  of its tagged words, the rules' the score of the label and pattern that
  found the value); when only one answered, that one (the rules only at
  ``rule_min_confidence`` or above). Until model version 3, the rules' amount
  won whenever they found one: that model confused the total with the change
  (total F1 0.704 against the rules' 0.912 on held-out SROIE). Version 4 is
  at least as good as the rules on the total on all four held-out sets, and
  the surer one raised auto's total F1 on one of them (0.938 -> 0.989) and
  left the other three as they were.

``arbitrate=False`` gives the plain "model first, rules fill the gaps"
combination for every field. Every field keeps the name of the extractor that produced it
(``Field.extractor``: "model" or "rules").
"""

from __future__ import annotations

from typing import Dict, List

from paperbeam.connectors.config import as_bool
from paperbeam.models.extractors.base import FieldExtractor
from paperbeam.models.extractors.model import ModelExtractor
from paperbeam.models.extractors.rules import RuleExtractor
from paperbeam.records import Document, Field
from paperbeam.schema import INVOICE

# The rules' confidence is their score times (0.5 + 0.5 x the OCR confidence of the words). An unlabelled
# date (score 0.5, the usual case on a receipt) read at 98% scores 0.495: a bar of 0.5 could never let the
# rules fill a date the model left empty. 0.45 admits a score of 0.5 read at 80% or better. On held-out SROIE
# receipts this raised auto's date F1 from 0.928 to 0.951; on held-out synthetic documents micro F1 did not move.
RULE_MIN_CONFIDENCE = 0.45
RULES_FIRST = ("date",)  # field types where the rules' confident value wins
RULES_FIRST_FIELDS = ("vendor_name", "vendor_address")
# Fields that exist only where a label names them: a date with no "Due"/"Payable by" beside it is not a due
# date. The rules look for the label; when they find no such field, the model's guess is dropped. On held-out
# synthetic documents the model named a due date the rules had not found 13 times, all 13 wrong (documents
# with no due date), which took auto's due_date F1 to 0.74 against the rules' 0.96. A document number is
# the same: where the rules found no "Invoice No." the model's guess was mostly wrong, and dropping it raised
# auto's document_number F1 on three synthetic sets (0.800 -> 0.862, 0.807 -> 0.862, 0.797 -> 0.870).
LABEL_BOUND = ("due_date", "document_number")


def combine(model_fields: Dict[str, Field], rule_fields: Dict[str, Field], schema,
            rule_min_confidence: float = RULE_MIN_CONFIDENCE, arbitrate: bool = True) -> Dict[str, Field]:
    """Per field, the model's or the rules' value (see the module docstring), in schema order."""
    out: Dict[str, Field] = {}
    for spec in schema.fields:
        f = model_fields.get(spec.name)
        r = rule_fields.get(spec.name)
        answered = r is not None and bool((r.value or "").strip())
        rules_sure = answered and r.confidence >= rule_min_confidence
        if arbitrate and spec.name in LABEL_BOUND and not answered:
            continue
        bar = _rules_first_bar(spec, rule_min_confidence) if arbitrate else None
        if bar is not None and answered and r.confidence >= bar:
            f = r
        elif f is None or not (f.value or "").strip():
            f = r if rules_sure else None
        elif arbitrate and rules_sure and r.confidence > f.confidence:
            f = r
        if f is not None:
            out[spec.name] = f
    return out


def _rules_first_bar(spec, rule_min_confidence: float):
    """The confidence at which the rules' value wins outright for this field, or None: the surer one wins."""
    if spec.type in RULES_FIRST or spec.name in RULES_FIRST_FIELDS:
        return rule_min_confidence
    return None


class AutoExtractor(FieldExtractor):
    name = "auto"
    version = "1"

    def __init__(self, schema, date_order: str = "day-first", **options):
        super().__init__(schema, date_order, **options)
        self.rule_min_confidence = float(options.pop("rule_min_confidence", RULE_MIN_CONFIDENCE))
        self.arbitrate = as_bool(options.pop("arbitrate", True), "arbitrate")
        self.model = ModelExtractor(schema, date_order, **options)
        self.rules = RuleExtractor(schema, date_order)

    def setup(self) -> None:
        self.model.setup()
        self.rules.setup()

    @property
    def model_version(self):
        return self.model.model_version

    def extract(self, document: Document) -> Dict[str, Field]:
        return self.extract_many([document])[0]

    def extract_many(self, documents: List[Document]) -> List[Dict[str, Field]]:
        rules = [self.rules.extract(d) for d in documents]
        # The model's hints are the rules' invoice fields: with the invoice schema they are these, read once.
        found = self.model.extract_many(documents, rule_fields=rules if self.schema == INVOICE else None)
        return [combine(m, r, self.schema, self.rule_min_confidence, self.arbitrate) for m, r in zip(found, rules)]
