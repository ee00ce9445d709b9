"""Stage 5 with the layout model: ``Document`` -> ``Record`` through Beam's ``RunInference``.

``ExtractFieldsWithModel`` is the model counterpart of ``ExtractFields``:
documents are batched and run by ``RunInference`` with our
``LayoutModelHandler`` (one model per worker process, shared by its threads,
device chosen on the worker). Results become Records exactly as
``extract.make_record`` builds them. With ``extractor="auto"`` the rule-based
extractor fills the fields the model left empty when its confidence is at
least ``rule_min_confidence``; each field says which extractor produced it.

Nothing disappears: a document whose inference failed (its batch, or it
alone: see the handler) becomes a dead letter at the ``extract`` stage.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference

from paperbeam.errors import ConfigError, ExtractionFailed
from paperbeam.models.extractors.auto import RULE_MIN_CONFIDENCE, combine
from paperbeam.models.layout.handler import LayoutModelHandler
from paperbeam.pipelines.deadletters import DEAD, dead
from paperbeam.pipelines.extract import make_record
from paperbeam.records import Document
from paperbeam.schema import Schema

MODES = ("model", "auto")


class ExtractOutputs(NamedTuple):
    """``records`` and ``dead_letters``; ``outputs["dead_letters"]`` works too, as with ``ExtractFields``."""

    records: beam.PCollection
    dead_letters: beam.PCollection

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return tuple.__getitem__(self, key)


class _Stamp:
    """What ``make_record`` reads from an extractor: its name, version and model version."""

    def __init__(self, name: str, version: str, model_version: Optional[str]):
        self.name, self.version, self.model_version = name, version, model_version


class _ToRecordFn(beam.DoFn):
    def __init__(self, mode: str, schema: Schema, date_order: str, rule_min_confidence: float):
        self.mode = mode
        self.schema = schema
        self.date_order = date_order
        self.rule_min_confidence = rule_min_confidence
        self.fields_found = Metrics.counter("paperbeam", "fields_extracted")
        self.records = Metrics.counter("paperbeam", "records")

    def setup(self):
        self.rules = None
        if self.mode == "auto":
            from paperbeam.models.extractors.rules import RuleExtractor

            self.rules = RuleExtractor(self.schema, date_order=self.date_order)
            self.rules.setup()

    def process(self, result):
        document: Document = result.example
        fields = result.inference
        if isinstance(fields, BaseException):
            yield dead(fields, document.uri, "extract", document.id)
            return
        try:
            if self.rules is not None:
                fields = combine(fields, self.rules.extract(document), self.schema, self.rule_min_confidence)
        except Exception as exc:  # noqa: BLE001 - a rule bug must not lose the document
            yield dead(exc, document.uri, "extract", document.id)
            return
        self.fields_found.inc(len(fields))
        self.records.inc()
        stamp = _Stamp(self.mode, "1", result.model_id)
        yield make_record(document, fields, stamp, self.schema)


def _failed_batch_to_dead_letters(failed):
    """RunInference's dead-letter element ``(batch, error)`` -> one dead letter per document."""
    batch, error = failed
    if isinstance(error, BaseException):
        exc = error
    else:  # Beam's exception-handling wrapper gives (type, repr, traceback)
        parts = error if isinstance(error, (tuple, list)) else (None, str(error))
        exc = ExtractionFailed(f"Model inference failed: {str(parts[1])[:300]}")
    docs = batch if isinstance(batch, (list, tuple)) else [batch]
    for doc in docs:
        yield dead(exc, getattr(doc, "uri", "?"), "extract", getattr(doc, "id", None)).value


class ExtractFieldsWithModel(beam.PTransform):
    """``Document`` -> ``Record`` (``.records``) and dead letters (``.dead_letters``), with the layout model."""

    def __init__(self, extractor_name: str, schema: Schema, date_order: str = "day-first", extractor_options=None,
                 handler: Optional[LayoutModelHandler] = None):
        super().__init__()
        if extractor_name not in MODES:
            raise ConfigError(f"ExtractFieldsWithModel runs the extractors {', '.join(MODES)}, not {extractor_name!r}.")
        opts = dict(extractor_options or {})
        self.mode = extractor_name
        self.schema = schema
        self.date_order = date_order
        self.rule_min_confidence = float(opts.pop("rule_min_confidence", RULE_MIN_CONFIDENCE))
        batch = int(opts.pop("batch_size", 8))
        self.handler = handler or LayoutModelHandler(
            model_dir=opts.pop("model_path", None), schema=schema, date_order=date_order,
            device=opts.pop("device", None), int8=opts.pop("int8", None), threads=opts.pop("threads", None),
            max_batch_size=batch,
        )
        if opts:
            raise ConfigError(f"Unknown model extractor option(s): {', '.join(sorted(opts))}.")

    def expand(self, documents):
        results, dlq = documents | "RunInference" >> RunInference(self.handler).with_exception_handling()
        converted = results | "ToRecords" >> beam.ParDo(
            _ToRecordFn(self.mode, self.schema, self.date_order, self.rule_min_confidence)
        ).with_outputs(DEAD, main="records")
        failed = dlq.failed_inferences | "FailedBatches" >> beam.FlatMap(_failed_batch_to_dead_letters)
        dead_letters = (converted[DEAD], failed) | "ModelDeadLetters" >> beam.Flatten()
        return ExtractOutputs(converted.records, dead_letters)
