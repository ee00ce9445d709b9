"""Stage 5, Extract: fields from the assembled document, normalised, into a Record.

The extractor is created on the worker by name (plugin registry) and set up
once; the rule-based extractor is the default and the transformer extractor
plugs into the same interface.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from paperbeam import __version__, plugins
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.records import Document, Record, SOURCE_OCR
from paperbeam.schema import Schema


def make_record(document: Document, fields, extractor, schema: Schema) -> Record:
    ocr_engines = sorted({p.engine for p in document.pages if p.source == SOURCE_OCR and p.engine})
    return Record(
        id=document.id,
        source_uri=document.uri,
        media_type=document.media_type,
        page_count=document.page_count,
        pages=document.pages,
        fields=fields,
        versions={
            "paperbeam": __version__,
            "ocr_engine": ", ".join(ocr_engines) or None,
            "extractor": f"{extractor.name} {extractor.version}",
            "model": getattr(extractor, "model_version", None),
        },
        schema=schema.name,
        metadata=dict(document.metadata),
    )


class _ExtractFn(beam.DoFn):
    def __init__(self, extractor_name: str, schema: Schema, date_order: str, extractor_options: dict):
        self.extractor_name = extractor_name
        self.schema = schema
        self.date_order = date_order
        self.extractor_options = extractor_options
        self.fields_found = Metrics.counter("paperbeam", "fields_extracted")
        self.records = Metrics.counter("paperbeam", "records")

    def setup(self):
        cls = plugins.load("extractors", self.extractor_name)
        self.extractor = cls(self.schema, date_order=self.date_order, **self.extractor_options)
        self.extractor.setup()

    def process(self, document: Document):
        try:
            fields = self.extractor.extract(document)
        except Exception as exc:  # noqa: BLE001 - an extractor bug must not lose the document
            yield dead(exc, document.uri, "extract", document.id)
            return
        self.fields_found.inc(len(fields))
        self.records.inc()
        yield make_record(document, fields, self.extractor, self.schema)


class ExtractFields(beam.PTransform):
    """``Document`` -> ``Record`` and dead letters."""

    def __init__(self, extractor_name: str, schema: Schema, date_order: str = "day-first", extractor_options=None):
        super().__init__()
        self.args = (extractor_name, schema, date_order, dict(extractor_options or {}))

    def expand(self, documents):
        return documents | "Extract" >> beam.ParDo(_ExtractFn(*self.args)).with_outputs(DEAD, main="records")
