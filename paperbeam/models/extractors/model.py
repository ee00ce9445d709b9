"""The layout-model field extractor (name ``model``).

It reads each word with its box and tags it with a schema field
(``paperbeam.models.layout``), then decodes the tags into fields with a
confidence and a box, normalised exactly as the rule-based extractor does.
A model whose spec lists ``hints`` (the shipped one does) is also given the
rule-based extractor's reading of each word; the rules run first, on the
same document (``paperbeam.models.layout.hints``).
The model is the one shipped inside the package unless ``model_path`` points
at another (``paperbeam train`` output); it is loaded in ``setup()``, once
per worker, never pickled.

Options (``extractor_options``): ``model_path``, ``device`` (auto|cpu|cuda),
``int8`` (CPU only; default off, see MODEL_CARD.md), ``threads``, ``batch_size``.
"""

from __future__ import annotations

from typing import Dict, List

from paperbeam.models.extractors.base import FieldExtractor
from paperbeam.records import Document, Field


class ModelExtractor(FieldExtractor):
    name = "model"
    version = "1"

    def setup(self) -> None:
        if getattr(self, "model", None) is not None:
            return
        from paperbeam.models.layout.runtime import LayoutModel

        self.model = LayoutModel.load(
            self.options.get("model_path"), device=self.options.get("device"), int8=self.options.get("int8"),
            threads=self.options.get("threads"),
        )

    @property
    def model_version(self) -> str:
        m = getattr(self, "model", None)
        return None if m is None else f"layout {m.version}"

    def extract(self, document: Document) -> Dict[str, Field]:
        return self.extract_many([document])[0]

    def extract_many(self, documents: List[Document], rule_fields=None) -> List[Dict[str, Field]]:
        """``rule_fields``: the rules' invoice fields per document, when the caller has them (see LayoutModel.extract)."""
        self.setup()
        return self.model.extract(documents, self.schema, self.date_order,
                                  batch_size=int(self.options.get("batch_size", 8)), extractor=self.name,
                                  rule_fields=rule_fields)
