"""Model first, rules for what the model leaves empty (name ``auto``).

The layout model is the better extractor where it answers; the rule-based
extractor still knows fields the model was never taught well, or finds a
value the model missed. A field the model left empty is taken from the rules
only when the rules' own confidence is at least ``rule_min_confidence``
(default 0.5). Every field keeps the name of the extractor that produced it
(``Field.extractor``: "model" or "rules").
"""

from __future__ import annotations

from typing import Dict, List

from paperbeam.models.extractors.base import FieldExtractor
from paperbeam.models.extractors.model import ModelExtractor
from paperbeam.models.extractors.rules import RuleExtractor
from paperbeam.records import Document, Field

RULE_MIN_CONFIDENCE = 0.5


def combine(model_fields: Dict[str, Field], rule_fields: Dict[str, Field], schema,
            rule_min_confidence: float = RULE_MIN_CONFIDENCE) -> Dict[str, Field]:
    """The model's fields, plus the rules' for fields the model left empty (if confident enough), in schema order."""
    out: Dict[str, Field] = {}
    for spec in schema.fields:
        f = model_fields.get(spec.name)
        if f is None or not (f.value or "").strip():
            r = rule_fields.get(spec.name)
            f = r if r is not None and r.confidence >= rule_min_confidence else None
        if f is not None:
            out[spec.name] = f
    return out


class AutoExtractor(FieldExtractor):
    name = "auto"
    version = "1"

    def __init__(self, schema, date_order: str = "day-first", **options):
        super().__init__(schema, date_order, **options)
        self.rule_min_confidence = float(options.pop("rule_min_confidence", RULE_MIN_CONFIDENCE))
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
        found = self.model.extract_many(documents)
        return [combine(m, self.rules.extract(d), self.schema, self.rule_min_confidence)
                for m, d in zip(found, documents)]
